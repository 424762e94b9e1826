// Crawl state survives the process: a crawl killed with SIGKILL at random moments and resumed each
// time ends with exactly the rows one uninterrupted crawl has (one per line, one per URL a
// breadth-first walk reaches, each at its depth), and the testbed's own log shows that nothing was
// fetched again but what was under way at a kill. In every execution layout.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "storage/database.hpp"
#include "testbed/site.hpp"
#include "tests/support/db.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

using test::query_int;
using test::query_rows;

constexpr int kKills = 5;
constexpr int kConcurrency = 16;
constexpr int kQueue = 32;

std::string value(const test::Row& row, const std::string& column) {
  return row.at(column).value_or("<NULL>");
}

// How many times the testbed answered each (host, target), from its --log.
std::map<std::string, int> requests_by_url(const std::string& log) {
  std::map<std::string, int> counts;
  std::istringstream in(test::read_file(log));
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    ++counts[j["host"].get<std::string>() + j["target"].get<std::string>()];
  }
  return counts;
}

class Resume : public ::testing::TestWithParam<std::vector<std::string>> {
 public:
  // `crawl run ARGS` (this layout), then `crawl resume`, each killed with SIGKILL after a random
  // moment, kKills times in all (a process that ends first is not killed); then `crawl resume` to the
  // end, which must complete the run. Returns how many processes worked on it.
  int crawl_with_kills(const std::string& db, std::vector<std::string> args) {
    std::vector<std::string> run = {test::crawl_binary(), "run"};
    run.insert(run.end(), args.begin(), args.end());
    for (const auto& a : GetParam()) run.push_back(a);
    for (const char* a : {"--no-progress", "--timeout", "5s", "--queue", "32", "--db"}) run.push_back(a);
    run.push_back(db);
    const std::vector<std::string> resume = {test::crawl_binary(), "resume", "--db", db, "--no-progress"};
    const auto seed = std::random_device{}();
    SCOPED_TRACE("random seed " + std::to_string(seed));
    std::mt19937 random(seed);
    std::uniform_int_distribution<int> moment_ms(100, 700);
    int sessions = 0;
    for (int kill = 0; kill < kKills; ++kill) {
      test::Child child(kill == 0 ? run : resume);
      ++sessions;
      // A kill before the run is in the database leaves nothing to resume: the first one waits.
      if (kill == 0) wait_for_the_run(db);
      std::this_thread::sleep_for(std::chrono::milliseconds(moment_ms(random)));
      const int code = child.stop(SIGKILL);
      if (code == 0) return sessions;  // it finished before the kill
      EXPECT_EQ(code, 128 + SIGKILL) << child.rest_of_output();
      // The kill can land after the run was committed as completed and before the process exited;
      // then there is nothing left to resume, as for a process that exited.
      if (run_status(db) == "completed") return sessions;
    }
    auto last = test::run_crawl({"resume", "--db", db, "--no-progress"});
    ++sessions;
    EXPECT_EQ(last.exit_code, 0) << last.err << last.out;
    EXPECT_NE(last.out.find("completed"), std::string::npos) << last.out;
    return sessions;
  }

  static std::string run_status(const std::string& db) {
    return value(query_rows(db, "select status from runs").at(0), "status");
  }

  static void wait_for_the_run(const std::string& db) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < until) {
      try {
        if (query_int(db, "select count(*) from runs") > 0) return;
      } catch (const std::exception&) {
        // not created yet
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "the run never appeared in " << db;
  }

  // Nothing pending is left, every session is recorded, no row says interrupted. (A process killed
  // before it took the run up is no session of it.)
  void expect_finished(const std::string& db, int processes) {
    EXPECT_EQ(query_int(db, "select count(*) from runs"), 1);
    EXPECT_EQ(value(query_rows(db, "select status from runs").at(0), "status"), "completed");
    EXPECT_EQ(query_int(db, "select count(*) from run_sessions"), query_int(db, "select sessions from runs"));
    EXPECT_GE(query_int(db, "select count(*) from run_sessions"), 2);
    EXPECT_LE(query_int(db, "select count(*) from run_sessions"), processes);
    EXPECT_EQ(query_int(db, "select count(*) from run_sessions where status = 'completed'"), 1);
    EXPECT_EQ(query_int(db, "select count(*) from frontier"), 0);
    EXPECT_EQ(query_int(db, "select count(*) from frontier_links"), 0);
    EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'interrupted'"), 0);
    EXPECT_EQ(query_int(db, "select count(*) - count(distinct seq) from pages"), 0);
  }

  // Fetched more than once only when under way at a kill: each URL at most once per session, and in
  // all no more than a kill can catch in flight (-c fetches, --queue pages waiting for a parser, and
  // the rows the writer had not committed yet, a few dozen at most between its 50 ms commits).
  void expect_fetched_again_only_at_kills(const std::map<std::string, int>& requests, int sessions) {
    int again = 0;
    for (const auto& [url, n] : requests) {
      if (url.ends_with("/robots.txt")) {
        EXPECT_LE(n, sessions) << url;  // each session reads robots.txt again
        continue;
      }
      EXPECT_LE(n, sessions) << url;
      again += n - 1;
    }
    EXPECT_LE(again, (sessions - 1) * (kConcurrency + kQueue + 64));
    RecordProperty("fetched_again", again);
  }

  // A depth-3 crawl of five hosts (one with a robots.txt group for crawl) from a list.
  void depth_crawl_killed_five_times(test::TempDir& dir, const std::string& db);
  // A plain list (with a duplicate line, a bad line and a comment among 2,000 URLs) ends with exactly
  // one row per URL line.
  void list_killed_five_times(test::TempDir& dir, const std::string& db);
};

// The same on a PostgreSQL database, each test in a database of its own on the tests' server.
class ResumeOnPostgres : public Resume {};

TEST_P(Resume, DepthCrawlKilledFiveTimesEndsAsOneUninterruptedCrawl) {
  test::TempDir dir;
  depth_crawl_killed_five_times(dir, dir.file("c.db"));
}

TEST_P(ResumeOnPostgres, DepthCrawlKilledFiveTimesEndsAsOneUninterruptedCrawl) {
  test::TempDir dir;
  depth_crawl_killed_five_times(dir, test::fresh_postgres_database("resume"));
}

TEST_P(Resume, ListKilledFiveTimesEndsWithOneRowPerLine) {
  test::TempDir dir;
  list_killed_five_times(dir, dir.file("c.db"));
}

TEST_P(ResumeOnPostgres, ListKilledFiveTimesEndsWithOneRowPerLine) {
  test::TempDir dir;
  list_killed_five_times(dir, test::fresh_postgres_database("resume"));
}

void Resume::depth_crawl_killed_five_times(test::TempDir& dir, const std::string& db) {
  auto testbed = test::Testbed::start({"--latency", "50ms", "--log", dir.file("access.log")});
  // h2 asks for a Crawl-delay of 0.2 s, too slow for this test; the others have none.
  std::map<std::string, int> expected;
  std::string list;
  for (int site : {0, 1, 3, 4, 5}) {
    const testbed::HostId host{.site = static_cast<uint64_t>(site)};
    list += testbed.host_url(testbed::host_name(host), "/page/0") + "\n";
    for (const auto& [url, depth] : testbed::host_walk(host, 0, 3, testbed::Scope::kHost, "crawl",
                                                       testbed::SiteOptions{}, testbed.port()))
      expected.emplace(url, depth);
  }
  test::write_file(dir.file("seeds.txt"), list);
  ASSERT_GT(expected.size(), 150u);

  const int sessions = crawl_with_kills(db, {dir.file("seeds.txt"), "--depth", "3"});
  expect_finished(db, sessions);
  std::map<std::string, int> fetched;
  for (const auto& row :
       query_rows(db, "select url, depth, error from pages where error is null or error != 'robots'")) {
    EXPECT_EQ(value(row, "error"), "<NULL>") << value(row, "url");
    EXPECT_TRUE(fetched.emplace(value(row, "url"), std::stoi(value(row, "depth"))).second)
        << "two rows: " << value(row, "url");
  }
  EXPECT_EQ(fetched, expected);
  for (const auto& row : query_rows(db, "select url from pages where error = 'robots'")) {
    const std::string url = value(row, "url");
    const std::string path = url.substr(url.find('/', url.find("://") + 3));
    EXPECT_FALSE(testbed::robots_allows({.site = 1}, path, "crawl")) << url;
  }
  EXPECT_GT(query_int(db, "select count(*) from pages where error = 'robots'"), 0);
  const auto hosts = testbed.hosts();
  for (const auto& [name, counters] : hosts.items())
    EXPECT_LE(counters["peak_concurrent"].get<int>(), 8) << name;
  testbed.stop();
  const auto requests = requests_by_url(dir.file("access.log"));
  for (const auto& [url, n] : requests) EXPECT_EQ(url.find("/private/"), std::string::npos) << url;
  expect_fetched_again_only_at_kills(requests, sessions);
}

void Resume::list_killed_five_times(test::TempDir& dir, const std::string& db) {
  auto testbed = test::Testbed::start({"--latency", "20ms", "--log", dir.file("access.log")});
  std::string list = "# a comment\n";
  constexpr int kLines = 2000;
  for (int i = 0; i < kLines; ++i) {
    if (i == 700)
      list += "not a url\n";
    else if (i == 1500)
      list += testbed.url("/page/3") + "\n";  // a duplicate of line 5
    else
      list += testbed.url("/page/" + std::to_string(i)) + "\n";
  }
  test::write_file(dir.file("list.txt"), list);

  const int sessions = crawl_with_kills(db, {dir.file("list.txt"), "--no-parse"});
  expect_finished(db, sessions);
  EXPECT_EQ(query_int(db, "select count(*) from pages"), kLines);
  EXPECT_EQ(query_int(db, "select count(distinct line) from pages"), kLines);
  EXPECT_EQ(query_int(db, "select min(line) from pages"), 2);
  EXPECT_EQ(query_int(db, "select max(line) from pages"), kLines + 1);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'bad_url'"), 1);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'duplicate'"), 1);
  EXPECT_EQ(query_int(db, "select line from pages where error = 'duplicate'"), 1502);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error is null"), kLines - 2);
  EXPECT_EQ(query_int(db, "select lines_done from run_sources"), kLines + 1);
  testbed.stop();
  expect_fetched_again_only_at_kills(requests_by_url(dir.file("access.log")), sessions);
}

// Ctrl-C leaves `interrupted` rows; resuming fetches exactly those URLs (and the lines never read)
// and replaces their rows, keeping the attempts already made.
TEST(ResumeAfterStop, CtrlCThenResumeFetchesWhatTheStopLeft) {
  test::TempDir dir;
  auto testbed = test::Testbed::start({"--log", dir.file("access.log")});
  const std::string db = dir.file("c.db");
  std::string list;
  for (int i = 0; i < 200; ++i) list += testbed.url("/delay/300/page/" + std::to_string(i)) + "\n";
  test::write_file(dir.file("list.txt"), list);
  test::Child crawl(
      {test::crawl_binary(), "run", dir.file("list.txt"), "--db", db, "-c", "8", "--no-progress"});
  Resume::wait_for_the_run(db);
  // Every line is to have its row after the stop, so the list must have been read by then; the run
  // row comes before it is opened, and under load a second after the row may not be enough. Once
  // the 8 fetches have gone out the reader is at work, and 200 short lines are a moment's work;
  // the fetches (300 ms each, 25 rounds) are still under way a second later.
  ASSERT_TRUE(test::wait_for_requests(testbed, 8));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_EQ(crawl.stop(SIGINT), 130);
  EXPECT_EQ(query_int(db, "select count(*) from pages"), 200);
  const auto interrupted = query_int(db, "select count(*) from pages where error = 'interrupted'");
  EXPECT_GT(interrupted, 0);
  // A fetch under way at the stop may still have been answered while the crawl was shutting down
  // (the testbed logs it then): only those may be fetched again.
  std::set<std::string> under_way;
  for (const auto& row : query_rows(db, "select url from pages where error = 'interrupted'")) {
    const std::string url = value(row, "url");
    under_way.insert(url.substr(url.find("://") + 3));
  }
  auto runs = test::run_crawl({"runs", "--db", db});
  EXPECT_NE(runs.out.find("interrupted"), std::string::npos) << runs.out;

  auto resumed = test::run_crawl({"resume", "--db", db, "--no-progress", "-c", "32"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err << resumed.out;
  // The summary covers the whole run, and says what this session did.
  EXPECT_NE(resumed.out.find("run 1 completed: 200 URLs"), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("session   2 (resumed)"), std::string::npos) << resumed.out;
  EXPECT_EQ(query_int(db, "select count(*) from pages"), 200);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error is null"), 200);
  EXPECT_EQ(query_int(db, "select count(distinct line) from pages"), 200);
  EXPECT_EQ(query_int(db, "select concurrency from runs"), 32);  // the layout of its latest session
  EXPECT_EQ(query_int(db, "select count(*) from run_sessions"), 2);
  EXPECT_EQ(query_int(db, "select count(*) from run_sessions where status = 'interrupted' and session = 1"),
            1);
  testbed.stop();
  for (const auto& [url, n] : requests_by_url(dir.file("access.log"))) {
    if (under_way.contains(url)) {
      EXPECT_LE(n, 2) << url;
    } else {
      EXPECT_EQ(n, 1) << url;
    }
  }
}

TEST(ResumeAfterStop, ResumingACompletedRunOrNoneSaysSoAndExits2) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  auto none = test::run_crawl({"resume", "--db", db});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("no database at " + db + ": there is nothing to resume"), std::string::npos)
      << none.err;
  EXPECT_FALSE(std::filesystem::exists(db)) << "resume made a database only to find it empty";
  ASSERT_EQ(test::run_crawl({"run", "--url", testbed.url("/page/1"), "--db", db, "--no-progress"}).exit_code,
            0);
  for (const std::vector<std::string>& args : {std::vector<std::string>{"resume", "--db", db},
                                               std::vector<std::string>{"resume", "1", "--db", db}}) {
    auto r = test::run_crawl(args);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("completed"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  auto missing = test::run_crawl({"resume", "7", "--db", db});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("no run 7"), std::string::npos) << missing.err;
}

// What decides which URLs the run fetches cannot change halfway; how it runs can.
TEST(ResumeAfterStop, FlagsThatChangeWhatIsCrawledAreRefused) {
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  for (const std::vector<std::string>& flag : {std::vector<std::string>{"--depth", "2"},
                                               {"--url", "http://a.localhost/"},
                                               {"--max-pages", "5"},
                                               {"--no-parse"},
                                               {"--retries", "0"},
                                               {"--header", "X-A: b"},
                                               {"--cacert", "/etc/ssl/certs/ca-certificates.crt"},
                                               {"--insecure"}}) {
    std::vector<std::string> args = {"resume", "--db", db};
    args.insert(args.end(), flag.begin(), flag.end());
    auto r = test::run_crawl(args);
    EXPECT_EQ(r.exit_code, 2) << flag[0];
    EXPECT_NE(r.err.find(flag[0] + " decides what the run crawls"), std::string::npos) << r.err;
  }
}

// A list must be the one the run read: it goes on from a byte offset in it.
TEST(ResumeAfterStop, AListThatChangedIsRefused) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  std::string list;
  for (int i = 0; i < 100; ++i) list += testbed.url("/delay/2000/page/" + std::to_string(i)) + "\n";
  test::write_file(dir.file("list.txt"), list);
  test::Child crawl(
      {test::crawl_binary(), "run", dir.file("list.txt"), "--db", db, "-c", "4", "--no-progress"});
  Resume::wait_for_the_run(db);
  EXPECT_EQ(crawl.stop(SIGKILL), 128 + SIGKILL);
  test::write_file(dir.file("list.txt"), list + testbed.url("/page/1000") + "\n");
  auto r = test::run_crawl({"resume", "--db", db});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("has changed since the run read it"), std::string::npos) << r.err;
  // Left as it was, and `crawl runs` says how much of it is done.
  auto runs = test::run_crawl({"runs", "--db", db, "--format", "jsonl"});
  const auto row = nlohmann::json::parse(runs.out);
  EXPECT_EQ(row["status"], "crashed");
  EXPECT_EQ(row["urls"].get<int64_t>(), query_int(db, "select count(*) from pages"));
  EXPECT_EQ(row["pending"], 0);
  // The rows it has are a few of the list's 100 lines, not all it knows of: done_pct counts the
  // lines not read yet, estimated from the bytes left. Before any line without a gap before it is
  // done, there is nothing to estimate from.
  const int64_t rows = row["urls"].get<int64_t>();
  if (query_int(db, "select bytes_done from run_sources") > 0) {
    ASSERT_TRUE(row["done_pct"].is_number()) << runs.out;
    EXPECT_LT(row["done_pct"].get<double>(), 100.0) << runs.out;
    // The lines are 1-2 characters apart in length: the estimate is off by a few lines at most.
    EXPECT_NEAR(row["done_pct"].get<double>(), static_cast<double>(rows), 3.0) << runs.out;
  } else {
    EXPECT_TRUE(row["done_pct"].is_null()) << runs.out;
  }
  EXPECT_EQ(row["sessions"], 1);
}

// A crashed run knows only the lines it read: `crawl runs` estimates the rest of the list from the
// bytes left, so a quarter done reads as a quarter, not as every known URL done.
TEST(ResumeAfterStop, ACrashedRunShowsTheShareOfItsListDone) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  // 200 lines of one length: 50 answered at once, then 150 that take 9 s. (The testbed serves a
  // page whatever its query says.)
  std::string list;
  for (int i = 100; i < 300; ++i) {
    const std::string slow = "/delay/9000/page/" + std::to_string(i);
    std::string fast = "/page/" + std::to_string(i) + "?";
    fast.resize(slow.size(), 'x');
    list += testbed.url(i < 150 ? fast : slow) + "\n";
  }
  test::write_file(dir.file("list.txt"), list);
  test::Child crawl(
      {test::crawl_binary(), "run", dir.file("list.txt"), "--db", db, "-c", "10", "--no-progress"});
  Resume::wait_for_the_run(db);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < until &&
         query_int(db, "select coalesce(max(lines_done), 0) from run_sources") < 50)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(crawl.stop(SIGKILL), 128 + SIGKILL);
  const int64_t lines_done = query_int(db, "select lines_done from run_sources");
  const int64_t rows = query_int(db, "select count(*) from pages");
  ASSERT_GE(lines_done, 50);
  auto runs = test::run_crawl({"runs", "--db", db, "--format", "jsonl"});
  ASSERT_EQ(runs.exit_code, 0) << runs.err;
  const auto row = nlohmann::json::parse(runs.out);
  EXPECT_EQ(row["status"], "crashed");
  EXPECT_EQ(row["urls"], rows);
  EXPECT_GE(row["ok"].get<int64_t>(), 50) << runs.out;
  // The lines after the last one done are exactly 200 - lines_done: every line has one length.
  ASSERT_TRUE(row["done_pct"].is_number()) << runs.out;
  EXPECT_NEAR(row["done_pct"].get<double>(), 100.0 * rows / (rows + 200 - lines_done), 0.051) << runs.out;
  EXPECT_LT(row["done_pct"].get<double>(), 40.0) << runs.out;
}

// A pipe cannot be read again: what was read from it is kept as frontier entries, and a resumed run
// finishes those without reading the pipe.
// Resuming a run that its process is still crawling, made without --shared, is refused, and the
// message says how to crawl one run from several places.
TEST(ResumeAfterStop, JoiningARunningRunNotMadeSharedIsRefusedWithTheWayToShareOne) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  std::string list;
  for (int i = 0; i < 20; ++i) list += testbed.url("/delay/2000/page/" + std::to_string(i)) + "\n";
  test::write_file(dir.file("list.txt"), list);
  test::Child crawl(
      {test::crawl_binary(), "run", dir.file("list.txt"), "--db", db, "-c", "4", "--no-progress"});
  Resume::wait_for_the_run(db);
  auto r = test::run_crawl({"resume", "1", "--db", db});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is running (process"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("crawl run ... --shared"), std::string::npos) << r.err;
  crawl.stop(SIGKILL);
}

TEST(ResumeAfterStop, WhatWasReadFromAPipeIsFinished) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  const std::string fifo = dir.file("list.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  test::Child crawl({test::crawl_binary(), "run", fifo, "--db", db, "-c", "8", "--no-progress"});
  {
    std::ofstream out(fifo);
    for (int i = 0; i < 300; ++i) out << testbed.url("/delay/200/page/" + std::to_string(i)) << "\n";
  }
  // Killed once every line read from the pipe is in the database, as an entry or a row: the
  // resumed run can finish only those, and cannot read the pipe again. (The writer above is done as
  // soon as the lines are in the pipe's buffer, and on a loaded machine a fixed wait after the run
  // row need not cover reading them and committing their entries.) The fetches (200 ms each, 38
  // rounds) are still under way a moment later.
  ASSERT_TRUE(
      test::wait_for_count(db, "select (select count(*) from frontier) + (select count(*) from pages)", 300));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(crawl.stop(SIGKILL), 128 + SIGKILL);
  EXPECT_LT(query_int(db, "select count(*) from pages"), 300);
  EXPECT_GT(query_int(db, "select count(*) from frontier"), 0);
  auto resumed = test::run_crawl({"resume", "--db", db, "--no-progress", "-c", "64"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err << resumed.out;
  EXPECT_EQ(query_int(db, "select count(*) from pages where error is null"), 300);
  EXPECT_EQ(query_int(db, "select count(distinct line) from pages"), 300);
  EXPECT_EQ(query_int(db, "select count(*) from frontier"), 0);
}

// A database written by the crawl before resume existed is migrated; its runs, which did not record
// their settings, cannot be resumed, and say so.
TEST(ResumeAfterStop, ADatabaseFromThePreviousSchemaIsMigratedForward) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  ASSERT_EQ(test::run_crawl({"run", "--url", testbed.url("/page/1"), "--db", db, "--no-progress"}).exit_code,
            0);
  // Back to version 5, with an interrupted run, as that crawl left it.
  auto downgrade = test::run_process(
      {"/usr/bin/sqlite3", db,
       "DROP VIEW broken_links; DROP VIEW failed_pages; DROP VIEW host_summary; DROP TABLE run_hosts; "
       "ALTER TABLE runs DROP COLUMN settings; ALTER TABLE runs DROP COLUMN sessions; "
       "ALTER TABLE run_sources DROP COLUMN lines_done; ALTER TABLE run_sources DROP COLUMN bytes_done; "
       "DROP TABLE frontier; DROP TABLE frontier_links; DROP TABLE run_sessions; "
       "ALTER TABLE runs DROP COLUMN connections; ALTER TABLE runs DROP COLUMN tls_full; "
       "ALTER TABLE runs DROP COLUMN tls_resumed; ALTER TABLE runs DROP COLUMN connected_hosts; "
       "ALTER TABLE runs DROP COLUMN max_host_connections; ALTER TABLE runs DROP COLUMN next_seq; "
       "DROP TABLE run_urls; DROP TABLE host_leases; ALTER TABLE runs DROP COLUMN parser; "
       "ALTER TABLE benches DROP COLUMN parsers; ALTER TABLE benches DROP COLUMN latency_ms; "
       "ALTER TABLE benches DROP COLUMN cores; ALTER TABLE pages DROP COLUMN host; "
       "ALTER TABLE pages DROP COLUMN http_version; ALTER TABLE pages DROP COLUMN server_ip; "
       "ALTER TABLE pages DROP COLUMN etag; ALTER TABLE pages DROP COLUMN last_modified; "
       "ALTER TABLE pages DROP COLUMN body_hash; ALTER TABLE pages DROP COLUMN not_modified; "
       "UPDATE runs SET status = 'interrupted'; PRAGMA user_version = 5;"});
  ASSERT_EQ(downgrade.exit_code, 0) << downgrade.err;
  ASSERT_EQ(query_int(db, "PRAGMA user_version"), 5);
  auto r = test::run_crawl({"resume", "--db", db});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("made by an older crawl"), std::string::npos) << r.err;
  EXPECT_EQ(query_int(db, "PRAGMA user_version"), storage::latest_schema_version());
  EXPECT_EQ(query_int(db, "select sessions from runs"), 1);
  // A new run on the migrated file is resumable as any other.
  ASSERT_EQ(test::run_crawl({"run", "--url", testbed.url("/page/2"), "--db", db, "--no-progress"}).exit_code,
            0);
  EXPECT_EQ(query_int(db, "select count(*) from run_sessions where run_id = 2"), 1);
}

INSTANTIATE_TEST_SUITE_P(Modes, Resume,
                         ::testing::Values(std::vector<std::string>{"--mode", "fiber", "-c", "16"},
                                           std::vector<std::string>{"--mode", "thread", "-c", "16"},
                                           std::vector<std::string>{"--mode", "process", "-c", "16"},
                                           std::vector<std::string>{"--mode", "hybrid", "--processes", "2",
                                                                    "--threads", "2", "--fibers", "4"}),
                         [](const auto& info) { return info.param[1]; });
INSTANTIATE_TEST_SUITE_P(Modes, ResumeOnPostgres,
                         ::testing::Values(std::vector<std::string>{"--mode", "fiber", "-c", "16"},
                                           std::vector<std::string>{"--mode", "process", "-c", "16"}),
                         [](const auto& info) { return info.param[1]; });

}  // namespace
}  // namespace crawl
