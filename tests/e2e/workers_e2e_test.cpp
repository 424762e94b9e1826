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

using test::query_int;

std::string delayed_list(const std::string& base, int count, int delay_ms) {
  std::string list;
  for (int i = 0; i < count; ++i)
    list += base + "/delay/" + std::to_string(delay_ms) + "/page/" + std::to_string(i) + "\n";
  return list;
}

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

// 200 URLs × 300 ms over 10 fetches at a time take 6 s; two workers are SIGKILLed after 1 s. Every
// URL still ends as exactly one row, fetched: what the dead workers held was tried again elsewhere.
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
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  kill(workers[0], SIGKILL);
  kill(workers[1], SIGKILL);
  ASSERT_EQ(crawl.wait(std::chrono::seconds(60)), 0);
  const std::string out = crawl.rest_of_output();
  EXPECT_NE(out.find("2 worker processes died"), std::string::npos) << out;
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
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(crawl.stop(SIGTERM), 130);
  for (pid_t w : workers) EXPECT_FALSE(std::filesystem::exists("/proc/" + std::to_string(w))) << w;
  EXPECT_EQ(query_int(dir.file("c.db"), "select count(*) from pages where error = 'interrupted'"), 100);
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
