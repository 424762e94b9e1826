// How a run ends when something other than its list ends it, in every layout: signals that arrive
// together are one request to stop, SIGHUP stops like SIGTERM, a stop is obeyed at once whatever
// the input (an endless line, a silent pipe, a long list), lines not read have no row and the run
// says how far each list was read, and a run whose process is gone is never shown as running.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

using Clock = std::chrono::steady_clock;
using test::delayed_list;
using test::query_int;
using test::query_rows;
using test::wait_for_count;
using test::wait_for_requests;

test::Child start_crawl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {test::crawl_binary(), "run", "--no-progress"};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::Child(argv);
}

std::string run_status(const std::string& db) {
  auto rows = query_rows(db, "select status from runs order by id desc limit 1");
  return rows.empty() ? "<none>" : rows[0]["status"].value_or("<NULL>");
}

class Stop : public ::testing::TestWithParam<std::vector<std::string>> {
 protected:
  std::vector<std::string> with_layout(std::vector<std::string> args) {
    for (const auto& a : GetParam()) args.push_back(a);
    return args;
  }

  // How many fetches the layout has under way at once: -c, or processes × threads × fibers.
  static int fetch_slots() {
    int c = 0, processes = 1, threads = 1, fibers = 1;
    const auto& layout = GetParam();
    for (size_t i = 0; i + 1 < layout.size(); ++i) {
      if (layout[i] == "-c") c = std::stoi(layout[i + 1]);
      if (layout[i] == "--processes") processes = std::stoi(layout[i + 1]);
      if (layout[i] == "--threads") threads = std::stoi(layout[i + 1]);
      if (layout[i] == "--fibers") fibers = std::stoi(layout[i + 1]);
    }
    return c > 0 ? c : processes * threads * fibers;
  }
};

// GNU timeout, systemd and a CI cancel signal the process and then its whole group: crawl sees
// the same signal twice at once. That is one request: the run stops cleanly, every line has its
// row, and the run is `interrupted`, not left `running`.
TEST_P(Stop, ASignalToTheProcessAndItsGroupIsOneStop) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 300, 2000));
  const std::string db = dir.file("c.db");
  test::Child crawl = start_crawl(with_layout({dir.file("urls.txt"), "--db", db}));
  // The run row exists once the stop handlers are in place: a slow start on a loaded machine cannot
  // turn the signal into a kill. Every line is to have its row, so the whole list must have been
  // read when the stop comes, and the run row says nothing of that: under load, a second after it
  // the list may not have been opened. Once every fetch slot's request has reached the testbed the
  // reader is under way, and its 300 short lines take it a moment; the fetches (2 s each, 15
  // rounds) are still in flight a second later.
  ASSERT_TRUE(wait_for_count(db, "select count(*) from runs", 1));
  ASSERT_TRUE(wait_for_requests(testbed, fetch_slots()));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  kill(crawl.pid(), SIGTERM);
  kill(-crawl.pid(), SIGTERM);
  EXPECT_EQ(crawl.wait(std::chrono::seconds(60)), 130);
  EXPECT_EQ(query_int(db, "select count(*) from pages"), 300);
  EXPECT_EQ(query_int(db, "select count(distinct seq) from pages"), 300);
  EXPECT_EQ(run_status(db), "interrupted");
}

// A closed terminal or a dropped ssh session: SIGHUP stops the run like SIGTERM.
TEST_P(Stop, SighupStopsCleanly) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 100, 2000));
  const std::string db = dir.file("c.db");
  test::Child crawl = start_crawl(with_layout({dir.file("urls.txt"), "--db", db}));
  ASSERT_TRUE(wait_for_count(db, "select count(*) from runs", 1));  // the stop handlers are in place
  // All 100 lines are to have rows: the list is being read once the fetches have gone out.
  ASSERT_TRUE(wait_for_requests(testbed, fetch_slots()));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(crawl.stop(SIGHUP, std::chrono::seconds(60)), 130);
  EXPECT_EQ(query_int(db, "select count(*) from pages"), 100);
  EXPECT_EQ(run_status(db), "interrupted");
  // Every fetch was still waiting for its 2 s answer: the transfers the stop cut short are neither
  // pages fetched (the rate) nor latencies (they ended after 0.8 s), and a URL the stop reached is
  // skipped, not failed, in `crawl runs` as in the summary.
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'interrupted'"), 100);
  EXPECT_EQ(query_int(db, "select count(*) from runs where pages_per_s > 0 or p50_ms > 0 or p99_ms > 0"), 0);
  const auto listed = test::run_crawl({"runs", "--db", db, "--format", "json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const auto runs = nlohmann::json::parse(listed.out);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["failed"], 0) << listed.out;
  EXPECT_EQ(runs[0]["ok"], 0) << listed.out;
  // An interrupted row is not final (`crawl resume` fetches its URL again): none of the run is done.
  EXPECT_EQ(runs[0]["done_pct"], 0.0) << listed.out;
  const auto summary = test::run_crawl({"query", "--db", db, "--report", "summary", "--format", "json"});
  ASSERT_EQ(summary.exit_code, 0) << summary.err;
  EXPECT_TRUE(nlohmann::json::parse(summary.out)[0]["avg_ms"].is_null()) << summary.out;
  const auto workers = test::run_crawl({"query", "--db", db, "--report", "workers", "--format", "json"});
  ASSERT_EQ(workers.exit_code, 0) << workers.err;
  const auto per_worker = nlohmann::json::parse(workers.out);
  ASSERT_FALSE(per_worker.empty()) << "the URLs the stop cut short name the workers that fetched them";
  for (const auto& w : per_worker) {
    EXPECT_EQ(w["failed"], 0) << workers.out;
    EXPECT_TRUE(w["avg_ms"].is_null()) << workers.out;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, Stop,
                         ::testing::Values(std::vector<std::string>{"--mode", "fiber", "-c", "20"},
                                           std::vector<std::string>{"--mode", "thread", "-c", "20"},
                                           std::vector<std::string>{"--mode", "process", "-c", "8"},
                                           std::vector<std::string>{"--mode", "hybrid", "--processes", "2",
                                                                    "--fibers", "10"}),
                         [](const auto& info) { return info.param[1]; });

// A list that never ends a line (/dev/zero) and a FIFO nobody writes to: a stop is obeyed at once,
// and the lines read before it are the ones with rows.
TEST(StopReading, AnEndlessLineAndASilentPipeDoNotHoldTheStopBack) {
  test::TempDir dir;
  {
    const std::string db = dir.file("zero.db");
    test::Child crawl = start_crawl({"/dev/zero", "--db", db});
    // The run row exists once the stop handler is in place (a loaded machine may take a while).
    ASSERT_TRUE(wait_for_count(db, "select count(*) from runs", 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto start = Clock::now();
    EXPECT_EQ(crawl.stop(SIGTERM, std::chrono::seconds(30)), 130);
    // Generous for a loaded machine; before the fix it read on for 20 s.
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
    EXPECT_EQ(run_status(db), "interrupted");
    EXPECT_EQ(query_int(db, "select count(*) from pages"), 0);
    EXPECT_EQ(query_int(db, "select finished from run_sources where source = '/dev/zero'"), 0);
  }
  {
    auto testbed = test::Testbed::start();
    const std::string fifo = dir.file("urls.fifo");
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    const int writer = open(fifo.c_str(), O_RDWR);  // read-write: opening never blocks
    ASSERT_GE(writer, 0);
    const std::string lines = testbed.url("/page/1") + "\n" + testbed.url("/page/2") + "\n";
    ASSERT_EQ(write(writer, lines.data(), lines.size()), static_cast<ssize_t>(lines.size()));
    const std::string db = dir.file("fifo.db");
    test::Child crawl = start_crawl({fifo, "--db", db});
    ASSERT_TRUE(wait_for_count(db, "select count(*) from pages", 2));
    EXPECT_EQ(crawl.stop(SIGINT, std::chrono::seconds(30)), 130);
    close(writer);
    EXPECT_EQ(query_int(db, "select count(*) from pages where status = 200"), 2);
    EXPECT_EQ(query_int(db, "select lines_read from run_sources where source = '" + fifo + "'"), 2);
    EXPECT_EQ(query_int(db, "select finished from run_sources"), 0);
  }
}

// A long list interrupted early: the rest of the file is not read (no million `interrupted` rows);
// run_sources says how far it was read, and exactly the lines up to there have rows.
TEST(StopReading, LinesNotReadHaveNoRowAndTheRunSaysWhereItStopped) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  std::string list;
  for (int i = 0; i < 400'000; ++i) {
    list += testbed.url("/delay/1000/page/" + std::to_string(i)) + "\n";
    if (i % 1000 == 0) list += "# a comment\n\n";
  }
  test::write_file(dir.file("urls.txt"), list);
  const std::string db = dir.file("c.db");
  test::Child crawl = start_crawl({dir.file("urls.txt"), "--db", db, "-c", "20"});
  ASSERT_TRUE(wait_for_count(db, "select count(*) from runs", 1));
  // Some lines are to have been read (lines_read > 0), and the run row comes before the list is
  // opened: under load a stop half a second after it may find none read. The list is being read
  // once the 20 fetches have gone out.
  ASSERT_TRUE(wait_for_requests(testbed, 20));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(crawl.stop(SIGINT, std::chrono::seconds(60)), 130);
  EXPECT_EQ(run_status(db), "interrupted");
  const long long lines_read = query_int(db, "select lines_read from run_sources");
  const long long bytes_read = query_int(db, "select bytes_read from run_sources");
  EXPECT_EQ(query_int(db, "select finished from run_sources"), 0);
  EXPECT_GT(lines_read, 0);
  EXPECT_LT(lines_read, 400'000);
  // Every URL line up to lines_read has its row, none after.
  long long url_lines = 0;
  size_t pos = 0;
  for (long long n = 0; n < lines_read; ++n) {
    const size_t end = list.find('\n', pos);
    const std::string line = list.substr(pos, end - pos);
    if (!line.empty() && line[0] != '#') ++url_lines;
    pos = end + 1;
  }
  EXPECT_EQ(bytes_read, static_cast<long long>(pos));
  EXPECT_EQ(query_int(db, "select count(*) from pages"), url_lines);
  EXPECT_EQ(query_int(db, "select max(line) from pages"), lines_read);
  EXPECT_EQ(query_int(db, "select count(distinct line) from pages"), url_lines);
}

// `crawl run ... --jsonl - | head`: a closed standard output is a request to stop, not a death by
// SIGPIPE: the run is recorded as interrupted, every line read has its row, and the exit status is
// 141, what the shell showed before for a process SIGPIPE killed.
TEST(StopReading, AClosedStandardOutputStopsTheRunCleanly) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 3000, 20));
  const std::string db = dir.file("c.db");
  const std::string script = "'" + test::crawl_binary() + "' run '" + dir.file("urls.txt") + "' --db '" + db +
                             "' -c 20 --no-progress --jsonl - | head -n 5 > /dev/null; echo \"crawl exited "
                             "${PIPESTATUS[0]}\" >&2";
  auto r = test::run_process({"/bin/bash", "-c", script}, "", std::chrono::seconds(120));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("crawl exited 141"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("standard output was closed"), std::string::npos) << r.err;
  EXPECT_EQ(run_status(db), "interrupted");
  const long long lines_read = query_int(db, "select lines_read from run_sources");
  EXPECT_GT(query_int(db, "select count(*) from pages where error = 'interrupted'"), 0);
  EXPECT_EQ(query_int(db, "select count(*) from pages"), lines_read);
  EXPECT_EQ(query_int(db, "select count(distinct seq) from pages"), lines_read);
}

// kill -9 leaves no chance to record anything: `crawl runs` and `crawl query` show the run as
// crashed (its process is gone), and the next run on the database stores that.
TEST(Liveness, ARunWhoseProcessIsGoneIsShownCrashed) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), delayed_list(testbed.base_url(), 50, 2000));
  const std::string db = dir.file("c.db");
  test::Child crawl = start_crawl({dir.file("urls.txt"), "--db", db, "-c", "5"});
  ASSERT_TRUE(wait_for_count(db, "select count(*) from runs", 1));
  auto listed = [&] {
    auto r = test::run_crawl({"runs", "--db", db, "--format", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  };
  // The summary report (crawl query's default) shows the same status as crawl runs.
  auto summarised = [&] {
    auto r = test::run_crawl({"query", "--db", db, "--format", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  };
  EXPECT_EQ(listed()[0]["status"], "running");  // alive: shown as it is
  EXPECT_EQ(summarised()[0]["status"], "running");
  kill(crawl.pid(), SIGKILL);
  while (!test::has_ended(crawl.pid())) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // Not reaped yet: a zombie is no running crawl either.
  EXPECT_EQ(listed()[0]["status"], "crashed");
  crawl.wait(std::chrono::seconds(30));
  EXPECT_EQ(run_status(db), "running");  // what the file holds: nobody could update it
  EXPECT_EQ(listed()[0]["status"], "crashed");
  EXPECT_EQ(summarised()[0]["status"], "crashed");
  auto next = test::run_crawl({"run", "--url", testbed.url("/page/1"), "--db", db, "--no-progress"});
  EXPECT_EQ(next.exit_code, 0) << next.err;
  EXPECT_EQ(query_int(db, "select count(*) from runs where status = 'crashed'"), 1);
  EXPECT_EQ(query_int(db, "select count(*) from runs where status = 'completed'"), 1);
}

}  // namespace
}  // namespace crawl
