// Worker processes (process mode, hybrid with --processes) as users meet them: a worker killed in
// the middle of a run loses nothing, and no worker outlives the run, an interrupt, or its parent.
#include <signal.h>

#include <gtest/gtest.h>
#include <filesystem>
#include <thread>

#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

using test::delayed_list;
using test::query_int;
using test::wait_for_requests;

// `crawl run` on dir/urls.txt into dir/c.db in the background, with `layout` flags.
test::Child start_crawl(const test::TempDir& dir, const std::vector<std::string>& layout) {
  std::vector<std::string> args = {test::crawl_binary(), "run",          dir.file("urls.txt"), "--db",
                                   dir.file("c.db"),     "--no-progress"};
  args.insert(args.end(), layout.begin(), layout.end());
  return test::Child(args);
}

// The workers of `parent` once it has started them all (they are forked before anything else).
std::vector<pid_t> wait_for_workers(pid_t parent, size_t count) {
  std::vector<pid_t> workers;
  for (int i = 0; i < 100 && workers.size() < count; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    workers = test::children_of(parent);
  }
  return workers;
}

bool all_ended(const std::vector<pid_t>& pids, std::chrono::seconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  for (;;) {
    bool ended = true;
    for (pid_t p : pids) ended = ended && test::has_ended(p);
    if (ended || std::chrono::steady_clock::now() > deadline) return ended;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

class KilledWorker : public ::testing::TestWithParam<std::vector<std::string>> {};

// 200 URLs × 300 ms over 10 fetches at a time take 6 s; two workers are SIGKILLed a second after
// the fetches have started. Every URL still ends as exactly one row, fetched: what the dead workers
// held was tried again elsewhere.
TEST_P(KilledWorker, LosesNoUrl) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 200, 300));
  std::vector<std::string> args = {test::crawl_binary(), "run",          dir.file("urls.txt"), "--db",
                                   dir.file("c.db"),     "--no-progress"};
  for (const auto& a : GetParam()) args.push_back(a);
  test::Child crawl(args);
  auto workers = wait_for_workers(crawl.pid(), 2);
  ASSERT_GE(workers.size(), 2u);
  // The dead workers are to have held URLs (attempts = 2 below): a second after they appear, on a
  // loaded machine, the parent may not have read its list yet. Once every fetch slot's request has
  // reached the testbed, each worker holds a URL until the list runs out, seconds later.
  ASSERT_TRUE(wait_for_requests(testbed, 10));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  kill(workers[0], SIGKILL);
  kill(workers[1], SIGKILL);
  ASSERT_EQ(crawl.wait(std::chrono::seconds(60)), 0);
  const std::string out = crawl.rest_of_output();
  EXPECT_NE(out.find("2 worker processes died"), std::string::npos) << out;
  // The summary's layout says what was left of it: 10 fetches at a time less the dead workers' share.
  const std::string left = GetParam()[1] == "process" ? "10 in flight, 8 after 2 workers died"
                                                      : "10 in flight, 6 after 2 workers died";
  EXPECT_NE(out.find(left), std::string::npos) << out;
  const std::string db = dir.file("c.db");
  EXPECT_EQ(query_int(db, "select count(*) from pages"), 200);
  EXPECT_EQ(query_int(db, "select count(distinct seq) from pages"), 200);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error is null and status = 200"), 200);
  // The URLs the two workers held were fetched on a second attempt.
  EXPECT_GE(query_int(db, "select count(*) from pages where attempts = 2"), 2);
  EXPECT_EQ(query_int(db, "select count(*) from pages where attempts not in (1, 2)"), 0);
  EXPECT_TRUE(all_ended(workers, std::chrono::seconds(0)));
}

INSTANTIATE_TEST_SUITE_P(Layouts, KilledWorker,
                         ::testing::Values(std::vector<std::string>{"--mode", "process", "-c", "10"},
                                           std::vector<std::string>{"--mode", "hybrid", "--processes", "5",
                                                                    "--threads", "1", "--fibers", "2"}),
                         [](const auto& info) { return info.param[1]; });

// Backpressure from slow parsers reaches the workers (the parent stops reading, the workers stop at
// their next write) and the run still ends: a worker gets more URLs only for pages the parent has,
// so no finished page may stay behind in a worker waiting for more work.
TEST(Workers, SlowParsersSlowTheWorkersWithoutDeadlock) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  std::string list;
  // Staggered delays: fetches end a few at a time, so pages leave the workers in small batches.
  for (int i = 0; i < 600; ++i)
    list += testbed.url("/delay/" + std::to_string(i % 37) + "/page/" + std::to_string(i)) + "\n";
  test::write_file(dir.file("urls.txt"), list);
  test::Child crawl = start_crawl(dir, {"--mode", "hybrid", "--processes", "2", "--threads", "1", "--fibers",
                                        "50", "--consumers", "1", "--queue", "1"});
  ASSERT_EQ(crawl.wait(std::chrono::seconds(60)), 0) << "the run did not end";
  EXPECT_EQ(query_int(dir.file("c.db"), "select count(*) from pages where error is null"), 600);
}

// With every worker dead there is nobody to fetch: the rest of the list is recorded as
// worker_crash, each line still exactly one row, and the run still completes.
TEST(Workers, WhenAllDieTheRestIsRecordedAsCrashes) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 100, 300) + "not a url\n");
  test::Child crawl = start_crawl(dir, {"--mode", "process", "-c", "2"});
  auto workers = wait_for_workers(crawl.pid(), 2);
  ASSERT_EQ(workers.size(), 2u);
  // Killed once two pages are stored, not after a fixed time: a loaded machine may not have
  // fetched any by then. The other 98 take 300 ms each two at a time: most are still to come.
  const std::string db = dir.file("c.db");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (query_int(db, "select count(*) from pages where error is null") >= 2) break;
    } catch (const std::exception&) {
      // The database is not there yet.
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (pid_t w : workers) kill(w, SIGKILL);
  ASSERT_EQ(crawl.wait(std::chrono::seconds(60)), 0);
  EXPECT_EQ(query_int(db, "select count(*) from pages"), 101);
  EXPECT_EQ(query_int(db, "select count(distinct seq) from pages"), 101);
  const auto fetched = query_int(db, "select count(*) from pages where error is null");
  EXPECT_GE(fetched, 2);
  EXPECT_LT(fetched, 100);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'worker_crash'"), 100 - fetched);
  EXPECT_EQ(query_int(db,
                      "select count(*) from pages where error = 'worker_crash' and error_message "
                      "not like '%worker process%'"),
            0);
  EXPECT_EQ(query_int(db, "select status = 'completed' from runs"), 1);
}

// Ctrl-C in a terminal reaches the whole process group, workers included: they leave the decision
// to the parent, which records the rest as interrupted, reaps them and exits 130.
TEST(Workers, CtrlCToTheProcessGroupLeavesNoWorker) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  // A minute per page: none can be done before the stop, however slow the machine.
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 300, 60'000));
  test::Child crawl =
      start_crawl(dir, {"--mode", "hybrid", "--processes", "3", "--threads", "2", "--fibers", "5"});
  auto workers = wait_for_workers(crawl.pid(), 3);
  ASSERT_EQ(workers.size(), 3u);
  // Every fetch under way: the list has been read, so all of it is to be recorded as interrupted.
  ASSERT_TRUE(wait_for_requests(testbed, 30));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(-crawl.pid(), SIGINT);
  EXPECT_EQ(crawl.wait(std::chrono::seconds(30)), 130);
  for (pid_t w : workers) EXPECT_FALSE(std::filesystem::exists("/proc/" + std::to_string(w))) << w;
  const std::string db = dir.file("c.db");
  EXPECT_EQ(query_int(db, "select count(*) from pages"), 300);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'interrupted'"), 300);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'worker_crash'"), 0);
}

// SIGTERM to the parent alone (a service manager stopping it): the same clean stop as Ctrl-C.
TEST(Workers, SigtermToTheParentLeavesNoWorker) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  // A minute per page: none can be done before the stop, however slow the machine.
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 100, 60'000));
  test::Child crawl = start_crawl(dir, {"--mode", "process", "-c", "8"});
  auto workers = wait_for_workers(crawl.pid(), 8);
  ASSERT_EQ(workers.size(), 8u);
  ASSERT_TRUE(wait_for_requests(testbed, 8));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(crawl.stop(SIGTERM), 130);
  for (pid_t w : workers) EXPECT_FALSE(std::filesystem::exists("/proc/" + std::to_string(w))) << w;
  EXPECT_EQ(query_int(dir.file("c.db"), "select count(*) from pages where error = 'interrupted'"), 100);
}

// A stop asked for while the workers are still being forked (about a second at -c 100 here, several
// at -c 500) is a stop like any other: the run is recorded as interrupted and resumes to its end.
// The signal's default action used to kill crawl there, before its run or database existed.
TEST(Workers, AStopWhileTheWorkersAreForkedIsRecordedAndResumable) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 50, 100));
  test::Child crawl = start_crawl(dir, {"--mode", "process", "-c", "100"});
  // The first worker: the signals are blocked from before the first fork.
  std::vector<pid_t> workers;
  for (int i = 0; i < 10'000 && workers.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    workers = test::children_of(crawl.pid());
  }
  ASSERT_FALSE(workers.empty());
  kill(crawl.pid(), SIGTERM);
  const size_t forked = test::children_of(crawl.pid()).size();
  EXPECT_LT(forked, 100u) << "every worker was forked before the stop: the test missed its moment";
  EXPECT_EQ(crawl.wait(std::chrono::seconds(60)), 130);
  const std::string db = dir.file("c.db");
  ASSERT_TRUE(std::filesystem::exists(db));
  EXPECT_EQ(query_int(db, "select status = 'interrupted' from runs"), 1);
  auto resumed = test::run_crawl({"resume", "--db", db, "--no-progress"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(query_int(db, "select count(*) from pages"), 50);
  EXPECT_EQ(query_int(db, "select count(distinct seq) from pages"), 50);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error is null and status = 200"), 50);
}

// A group SIGTERM (what `timeout`, `kill -TERM -PGID` and systemd send) reaches the workers too:
// they leave it to the parent, so the run is interrupted, not crashed, and no worker "died".
TEST(Workers, SigtermToTheProcessGroupIsAnInterruptNotACrash) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 100, 2000));
  test::Child crawl = start_crawl(dir, {"--mode", "process", "-c", "8"});
  auto workers = wait_for_workers(crawl.pid(), 8);
  ASSERT_EQ(workers.size(), 8u);
  ASSERT_TRUE(wait_for_requests(testbed, 8));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(-crawl.pid(), SIGTERM);
  EXPECT_EQ(crawl.wait(std::chrono::seconds(30)), 130);
  const std::string out = crawl.rest_of_output();
  EXPECT_EQ(out.find("died"), std::string::npos) << out;
  EXPECT_TRUE(all_ended(workers, std::chrono::seconds(5)));
  const std::string db = dir.file("c.db");
  EXPECT_EQ(query_int(db, "select status = 'interrupted' from runs"), 1);
  EXPECT_EQ(query_int(db, "select count(*) from pages"), 100);
  EXPECT_EQ(query_int(db, "select count(distinct seq) from pages"), 100);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'worker_crash'"), 0);
}

// A worker dies while every other is busy, so what it held waits for room; then the run is
// interrupted. What waited is recorded as interrupted and the run ends, instead of waiting forever
// for room that a stopped run no longer makes.
TEST(Workers, AnInterruptWhileARetryWaitsStillEnds) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 20, 3000));
  test::Child crawl = start_crawl(dir, {"--mode", "process", "-c", "2"});
  auto workers = wait_for_workers(crawl.pid(), 2);
  ASSERT_EQ(workers.size(), 2u);
  ASSERT_TRUE(wait_for_requests(testbed, 2));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(workers[0], SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(crawl.stop(SIGINT), 130) << "the run did not end";
  EXPECT_TRUE(all_ended(workers, std::chrono::seconds(5)));
  const std::string db = dir.file("c.db");
  EXPECT_EQ(query_int(db, "select count(*) from pages"), 20);
  EXPECT_EQ(query_int(db, "select count(distinct seq) from pages"), 20);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'interrupted'"), 20);
}

class StoppedWorker : public ::testing::TestWithParam<std::vector<std::string>> {};

// A worker stopped with SIGSTOP holds its URLs and says nothing. With --timeout 2s no fetch lasts
// longer than 2 s, so after a few seconds of silence the parent kills it, reaps it and sends what it
// held to the others: the run completes instead of waiting forever.
TEST_P(StoppedWorker, IsKilledAndItsUrlsGoElsewhere) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 40, 300));
  std::vector<std::string> layout = GetParam();
  layout.insert(layout.end(), {"--timeout", "2s"});
  test::Child crawl = start_crawl(dir, layout);
  auto workers = wait_for_workers(crawl.pid(), 2);
  ASSERT_GE(workers.size(), 2u);
  ASSERT_TRUE(wait_for_requests(testbed, 2));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(workers[0], SIGSTOP);
  ASSERT_EQ(crawl.wait(std::chrono::seconds(60)), 0) << "the run waited for the stopped worker";
  const std::string out = crawl.rest_of_output();
  EXPECT_NE(out.find("1 worker process died during the run (1 killed for being unresponsive)"),
            std::string::npos)
      << out;
  EXPECT_TRUE(all_ended(workers, std::chrono::seconds(5)));
  const std::string db = dir.file("c.db");
  EXPECT_EQ(query_int(db, "select count(*) from pages"), 40);
  EXPECT_EQ(query_int(db, "select count(distinct seq) from pages"), 40);
  // What the stopped worker held was fetched by another (attempts 2), or, had its second worker
  // failed too, recorded as a crash saying why.
  EXPECT_GE(query_int(db, "select count(*) from pages where attempts = 2"), 1);
  EXPECT_EQ(query_int(db,
                      "select count(*) from pages where error is null or (error = 'worker_crash' and "
                      "error_message like '%killed for being unresponsive for _ s%')"),
            40);
  EXPECT_EQ(query_int(db, "select status = 'completed' from runs"), 1);
}

INSTANTIATE_TEST_SUITE_P(Layouts, StoppedWorker,
                         ::testing::Values(std::vector<std::string>{"--mode", "process", "-c", "4"},
                                           std::vector<std::string>{"--mode", "hybrid", "--processes", "2",
                                                                    "--threads", "1", "--fibers", "2"}),
                         [](const auto& info) { return info.param[1]; });

// The only worker stopped: nobody is left to retry on, so its URL is a crash that says why, the rest
// of the list is recorded as such too, and the run completes.
TEST(Workers, AStoppedLastWorkerLeavesRowsSayingWhy) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 5, 1000));
  test::Child crawl = start_crawl(dir, {"--mode", "process", "-c", "1", "--timeout", "2s"});
  auto workers = wait_for_workers(crawl.pid(), 1);
  ASSERT_EQ(workers.size(), 1u);
  ASSERT_TRUE(wait_for_requests(testbed, 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(workers[0], SIGSTOP);
  ASSERT_EQ(crawl.wait(std::chrono::seconds(60)), 0) << "the run waited for the stopped worker";
  EXPECT_TRUE(all_ended(workers, std::chrono::seconds(5)));
  const std::string db = dir.file("c.db");
  EXPECT_EQ(query_int(db, "select count(*) from pages"), 5);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'worker_crash'"), 5);
  EXPECT_EQ(query_int(db,
                      "select count(*) from pages where error_message like 'worker process p0 was killed "
                      "for being unresponsive for _ s while fetching this URL'"),
            1);
}

// A hybrid worker holds a URL beyond each fetch, waiting its turn. Its only worker left stopped,
// the rows say which URL it was fetching and which it only held.
TEST(Workers, AStoppedLastHybridWorkerSaysWhichUrlsItFetchedAndWhichItHeld) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 8, 1000));
  test::Child crawl = start_crawl(
      dir, {"--mode", "hybrid", "--processes", "2", "--threads", "1", "--fibers", "1", "--timeout", "2s"});
  auto workers = wait_for_workers(crawl.pid(), 2);
  ASSERT_EQ(workers.size(), 2u);
  ASSERT_TRUE(wait_for_requests(testbed, 2));
  kill(workers[0], SIGKILL);
  // The other takes what the first held, then stops for good.
  ASSERT_TRUE(wait_for_requests(testbed, 3));
  kill(workers[1], SIGSTOP);
  ASSERT_EQ(crawl.wait(std::chrono::seconds(60)), 0) << "the run waited for the stopped worker";
  EXPECT_TRUE(all_ended(workers, std::chrono::seconds(5)));
  const std::string db = dir.file("c.db");
  EXPECT_EQ(query_int(db, "select count(*) from pages"), 8);
  EXPECT_EQ(query_int(db, "select count(distinct seq) from pages"), 8);
  EXPECT_EQ(
      query_int(db,
                "select count(*) from pages where error = 'worker_crash' and error_message like "
                "'worker process p1 was killed for being unresponsive for % s while fetching this URL%'"),
      1);
  EXPECT_EQ(
      query_int(db,
                "select count(*) from pages where error = 'worker_crash' and error_message like "
                "'worker process p1 was killed for being unresponsive for % s while it held this URL%'"),
      1);
}

// A hybrid worker with two fiber threads is sent its first 16 URLs (its 8 fetches and its reserve)
// in one write. Both its threads fetch from the start: had one thread taken all 16, it would fetch 4
// at a time while the other's fibers sat idle, and the run would fetch 8 at a time, not 16.
TEST(Workers, EveryFiberThreadOfAHybridWorkerFetchesFromTheStart) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 32, 1000));
  test::Child crawl =
      start_crawl(dir, {"--mode", "hybrid", "--processes", "2", "--threads", "2", "--fibers", "4"});
  ASSERT_EQ(crawl.wait(std::chrono::seconds(60)), 0);
  const std::string db = dir.file("c.db");
  EXPECT_EQ(query_int(db, "select count(*) from pages where status = 200"), 32);
  for (const std::string thread : {"p0.t0.", "p0.t1.", "p1.t0.", "p1.t1."})
    EXPECT_GE(query_int(db, "select count(*) from pages where worker like '" + thread + "%'"), 4) << thread;
  const auto hosts = testbed.hosts();
  ASSERT_EQ(hosts.size(), 1u) << hosts.dump();
  EXPECT_EQ(hosts.begin().value()["peak_concurrent"].get<int>(), 16) << hosts.dump();
}

// Ctrl-Z stops the whole process group, parent included, for as long as the user likes; after `fg`
// the workers are not silent, they were stopped with everyone else: none is killed.
TEST(Workers, AStoppedAndResumedRunKillsNoWorker) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 20, 1500));
  test::Child crawl = start_crawl(dir, {"--mode", "process", "-c", "4", "--timeout", "2s"});
  auto workers = wait_for_workers(crawl.pid(), 4);
  ASSERT_EQ(workers.size(), 4u);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(-crawl.pid(), SIGSTOP);
  std::this_thread::sleep_for(std::chrono::seconds(9));
  kill(-crawl.pid(), SIGCONT);
  ASSERT_EQ(crawl.wait(std::chrono::seconds(60)), 0);
  const std::string out = crawl.rest_of_output();
  EXPECT_EQ(out.find("died"), std::string::npos) << out;
  const std::string db = dir.file("c.db");
  EXPECT_EQ(query_int(db, "select count(*) from pages"), 20);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'worker_crash'"), 0);
}

// A parent killed outright (SIGKILL: no chance to clean up) takes its workers with it.
TEST(Workers, DieWithTheirParent) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 100, 2000));
  test::Child crawl = start_crawl(dir, {"--mode", "process", "-c", "8"});
  auto workers = wait_for_workers(crawl.pid(), 8);
  ASSERT_EQ(workers.size(), 8u);
  crawl.stop(SIGKILL);
  EXPECT_TRUE(all_ended(workers, std::chrono::seconds(10)));
}

}  // namespace
}  // namespace crawl
