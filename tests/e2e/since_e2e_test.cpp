// End-to-end: a re-crawl with --since asks the testbed only whether each page changed (its ETag and
// Last-Modified sent back) and stores a 304 as not modified with the earlier run's facts, in every
// mode; the testbed's own counters say what it was asked and what it answered.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

class Since : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(Since, AReCrawlFetchesOnlyWhatChangedAndKeepsTheRestsFacts) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  std::string list;
  for (int n = 0; n < 8; ++n) list += testbed.url("/page/" + std::to_string(n)) + "\n";
  test::write_file(dir.file("urls.txt"), list);
  const std::string db = dir.file("crawl.db");
  auto crawl = [&](std::vector<std::string> more) {
    std::vector<std::string> args = {"run", dir.file("urls.txt"), "--retries", "0", "--db",
                                     db,    "--no-progress"};
    args.insert(args.end(), GetParam().begin(), GetParam().end());
    args.insert(args.end(), more.begin(), more.end());
    const auto run = test::run_crawl(args);
    ASSERT_EQ(run.exit_code, 0) << run.err;
  };
  auto answers = [&] {
    std::map<std::string, int> by_status;
    const auto stats = testbed.stats();
    for (const auto& [status, count] : stats.at("by_status").items()) by_status[status] = count;
    return by_status;
  };
  test::HttpClient client;
  crawl({});
  // The site changes (testbed/site.hpp, page_revision()): 1 and 5 other text, 2 and 6 another
  // title, 3 and 7 gone; 0 and 4 stay.
  ASSERT_EQ(client.get(testbed.url("/__revision/1")).status, 200);
  ASSERT_EQ(client.get(testbed.url("/__reset-stats")).status, 200);
  crawl({"--since", "1"});
  EXPECT_EQ(answers(), (std::map<std::string, int>{{"200", 4}, {"304", 2}, {"404", 2}}));

  auto rows = [&](int run) {
    std::map<std::string, test::Row> by_path;
    for (auto& row : test::query_rows(db, "SELECT * FROM pages WHERE run_id = " + std::to_string(run)))
      by_path[row.at("url")->substr(testbed.url("").size())] = row;
    return by_path;
  };
  const auto first = rows(1), second = rows(2);
  for (const char* kept : {"/page/0", "/page/4"}) {
    const test::Row& row = second.at(kept);
    EXPECT_EQ(row.at("not_modified"), "1") << kept;
    for (const char* column :
         {"status", "title", "body_hash", "body_bytes", "content_type", "link_count", "etag"})
      EXPECT_EQ(row.at(column), first.at(kept).at(column)) << kept << " " << column;
    EXPECT_EQ(row.at("error"), std::nullopt) << kept;
  }
  for (const char* fetched : {"/page/1", "/page/2", "/page/3", "/page/5", "/page/6", "/page/7"})
    EXPECT_EQ(second.at(fetched).at("not_modified"), "0") << fetched;
  EXPECT_EQ(second.at("/page/6").at("title"), "Page 6, revision 1");

  // What did not change shows as no change.
  const auto changes = test::run_crawl({"query", "--db", db, "--report", "changes", "--format", "csv"});
  ASSERT_EQ(changes.exit_code, 0) << changes.err;
  EXPECT_EQ(changes.out.find(testbed.url("/page/0") + ","), std::string::npos) << changes.out;
  EXPECT_NE(changes.out.find("content," + testbed.url("/page/1") + ","), std::string::npos) << changes.out;

  // Again since the re-crawl: every page still there is unchanged, whether its validators came
  // from a fetch or were carried by a 304; the gone pages had none and are asked for in full.
  ASSERT_EQ(client.get(testbed.url("/__reset-stats")).status, 200);
  crawl({"--since", "2"});
  EXPECT_EQ(answers(), (std::map<std::string, int>{{"304", 6}, {"404", 2}}));
  const auto third = rows(3);
  EXPECT_EQ(third.at("/page/2").at("title"), "Page 2, revision 1");
  EXPECT_EQ(third.at("/page/2").at("not_modified"), "1");
  EXPECT_EQ(third.at("/page/0").at("body_hash"), first.at("/page/0").at("body_hash"));
}

INSTANTIATE_TEST_SUITE_P(Modes, Since,
                         ::testing::Values(std::vector<std::string>{"--mode", "fiber"},
                                           std::vector<std::string>{"--mode", "thread", "-c", "4"},
                                           std::vector<std::string>{"--mode", "process", "-c", "4"}),
                         [](const auto& info) { return info.param[1]; });

TEST(SinceFlag, AnUnknownRunIsAUsageError) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  const std::string db = dir.file("crawl.db");
  ASSERT_EQ(test::run_crawl({"run", "--url", testbed.url("/page/1"), "--db", db, "--no-progress"}).exit_code,
            0);
  const auto r = test::run_crawl({"run", "--url", testbed.url("/page/1"), "--db", db, "--since", "7"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("there is no run 7"), std::string::npos) << r.err;
  const auto none =
      test::run_crawl({"run", "--url", testbed.url("/page/1"), "--db", dir.file("new.db"), "--since", "1"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("--since 1"), std::string::npos) << none.err;
}

// --since is kept with the run: a re-crawl stopped with Ctrl-C and resumed asks conditionally for
// what the stop left too, so an unchanged site answers nothing but 304s across both sessions.
TEST(SinceResumed, AStoppedReCrawlResumedStillAsksOnlyWhetherPagesChanged) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  constexpr int kUrls = 60;
  std::string list;
  for (int n = 0; n < kUrls; ++n) list += testbed.url("/delay/200/page/" + std::to_string(n)) + "\n";
  test::write_file(dir.file("urls.txt"), list);
  const std::string db = dir.file("crawl.db");
  const auto first = test::run_crawl({"run", dir.file("urls.txt"), "-c", "30", "--db", db, "--no-progress"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  test::HttpClient client;
  ASSERT_EQ(client.get(testbed.url("/__reset-stats")).status, 200);

  test::Child recrawl({test::crawl_binary(), "run", dir.file("urls.txt"), "--since", "1", "-c", "2", "--db",
                       db, "--no-progress"});
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (test::query_int(db, "SELECT count(*) FROM pages WHERE run_id = 2 AND error IS NULL") < 4 &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(recrawl.stop(SIGINT), 130);
  ASSERT_GT(test::query_int(db, "SELECT count(*) FROM pages WHERE run_id = 2 AND error = 'interrupted'"), 0);

  const auto resumed = test::run_crawl({"resume", "--db", db, "-c", "30", "--no-progress"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err << resumed.out;
  EXPECT_EQ(test::query_int(db, "SELECT count(*) FROM pages WHERE run_id = 2"), kUrls);
  EXPECT_EQ(
      test::query_int(db,
                      "SELECT count(*) FROM pages WHERE run_id = 2 AND not_modified = 1 AND status = 200 "
                      "AND error IS NULL"),
      kUrls);
  std::map<std::string, int> by_status;
  const auto stats = testbed.stats();
  for (const auto& [status, count] : stats.at("by_status").items()) by_status[status] = count;
  // A fetch under way at the stop may have been answered (304 too) and is asked again.
  EXPECT_EQ(by_status.count("200"), 0U);
  EXPECT_GE(by_status["304"], kUrls);
}

// A site re-crawled with --depth since an earlier crawl: pages whose links are followed are fetched
// in full (a 304 brings no links), so the re-crawl reaches every page the first one reached; the
// pages at the last depth, whose links are not followed, are asked only whether they changed.
TEST(SinceDepth, AReCrawlOfASiteReachesEveryPageAndAsksOnlyTheLastDepthConditionally) {
  test::TempDir dir;
  auto testbed = test::Testbed::start({"--pages", "60"});
  const std::string db = dir.file("crawl.db");
  auto crawl = [&](std::vector<std::string> more) {
    std::vector<std::string> args = {"run",  "--url", testbed.url("/page/0"), "--depth", "2",
                                     "--db", db,      "--no-progress"};
    args.insert(args.end(), more.begin(), more.end());
    const auto run = test::run_crawl(args);
    ASSERT_EQ(run.exit_code, 0) << run.err;
  };
  crawl({});
  test::HttpClient client;
  ASSERT_EQ(client.get(testbed.url("/__reset-stats")).status, 200);
  crawl({"--since", "1"});

  auto urls = [&](int run, const std::string& where) {
    std::set<std::string> found;
    for (auto& row : test::query_rows(db, "SELECT url FROM pages WHERE url LIKE '%/page/%' AND run_id = " +
                                              std::to_string(run) + where))
      found.insert(*row.at("url"));
    return found;
  };
  const auto first = urls(1, ""), second = urls(2, "");
  EXPECT_EQ(second, first);
  const auto last_depth = urls(2, " AND depth = 2");
  ASSERT_GT(last_depth.size(), 5U);
  EXPECT_EQ(urls(2, " AND not_modified = 1"), last_depth);
  EXPECT_EQ(urls(2, " AND depth < 2 AND not_modified = 0 AND status = 200").size(),
            first.size() - last_depth.size());
  std::map<std::string, int> by_status;
  const auto stats = testbed.stats();
  for (const auto& [status, count] : stats.at("by_status").items()) by_status[status] = count;
  EXPECT_EQ(by_status["304"], static_cast<int>(last_depth.size()));
}

}  // namespace
}  // namespace crawl
