// End-to-end: the named reports that answer what users ask after a crawl, each against a testbed
// crawl whose answers are known from the list it was given.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testbed/site.hpp"
#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

using json = nlohmann::json;

std::vector<json> report(const std::string& db, const std::string& name) {
  const auto r = test::run_crawl({"query", "--db", db, "--report", name, "--format", "jsonl"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> rows;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(json::parse(line));
  return rows;
}

TEST(Reports, HostsCountsEachHostsPagesFailuresAndTimes) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  const std::string h0 = "h0.localhost", h1 = "h1.localhost";
  std::string list;
  for (int n = 0; n < 3; ++n) list += testbed.host_url(h0, "/page/" + std::to_string(n)) + "\n";
  list += testbed.host_url(h0, "/page/0") + "\n";  // a duplicate: skipped, not failed
  list += testbed.host_url(h1, "/page/0") + "\n" + testbed.host_url(h1, "/page/1") + "\n";
  list += testbed.host_url(h1, "/status/404") + "\n" + testbed.host_url(h1, "/status/503") + "\n";
  list += testbed.host_url(h1, "/status/500") + "\n";
  list += "http://127.0.0.1:1/\nnot a url\n";
  test::write_file(dir.file("urls.txt"), list);
  const std::string db = dir.file("crawl.db");
  const auto run =
      test::run_crawl({"run", dir.file("urls.txt"), "--retries", "0", "--db", db, "--no-progress"});
  ASSERT_EQ(run.exit_code, 0) << run.err;

  const std::vector<json> hosts = report(db, "hosts");
  ASSERT_EQ(hosts.size(), 3u);  // a line that is not a URL has no host
  // Most pages first, then by name.
  EXPECT_EQ(hosts[0]["host"], h1);
  EXPECT_EQ(hosts[0]["pages"], 5);
  EXPECT_EQ(hosts[0]["ok"], 2);
  EXPECT_EQ(hosts[0]["failed"], 3);
  EXPECT_EQ(hosts[0]["failures"], "http_5xx 2, http_4xx 1");
  EXPECT_EQ(hosts[1]["host"], h0);
  EXPECT_EQ(hosts[1]["pages"], 4);
  EXPECT_EQ(hosts[1]["ok"], 3);
  EXPECT_EQ(hosts[1]["failed"], 0);
  EXPECT_TRUE(hosts[1]["failures"].is_null());
  EXPECT_EQ(hosts[2]["host"], "127.0.0.1");
  EXPECT_EQ(hosts[2]["failures"], "connect 1");
  for (const json& host : hosts) {
    EXPECT_EQ(host["robots"], 0) << host.dump();
    ASSERT_TRUE(host["p50_ms"].is_number()) << host.dump();
    EXPECT_LE(host["p50_ms"].get<double>(), host["p99_ms"].get<double>()) << host.dump();
  }
  EXPECT_GT(hosts[1]["body_mb"].get<double>(), 0);
}

// --delay holds each host's next URL back between two starts: the hosts report (and the
// host_summary view) say for how long, per host, added up over a run's sessions.
TEST(Reports, HostsSayHowLongPolitenessHeldEachHostBack) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  const std::string h0 = "h0.localhost", h1 = "h1.localhost";
  std::string list;
  for (int n = 0; n < 4; ++n)
    list += testbed.host_url(h0, "/page/" + std::to_string(n)) + "\n" +
            testbed.host_url(h1, "/page/" + std::to_string(n)) + "\n";
  list += testbed.url("/page/1") + "\n";
  test::write_file(dir.file("urls.txt"), list);
  const std::string db = dir.file("crawl.db");
  const auto run =
      test::run_crawl({"run", dir.file("urls.txt"), "--delay", "300ms", "--db", db, "--no-progress"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::vector<json> hosts = report(db, "hosts");
  ASSERT_EQ(hosts.size(), 3u);
  for (const json& host : hosts) {
    if (host["host"] == "127.0.0.1") {
      EXPECT_EQ(host["held_s"], 0) << host.dump();  // one URL: nothing to hold back
      continue;
    }
    // Three gaps of 300 ms at least: each counts from the start of the request before it, and the
    // wait from before that start.
    EXPECT_GE(host["held_s"].get<double>(), 0.89) << host.dump();
    EXPECT_LT(host["held_s"].get<double>(), 30) << host.dump();
  }
  EXPECT_EQ(test::query_int(db, "SELECT count(*) FROM host_summary WHERE held_s > 0.89"), 2);

  // A run stopped and resumed: the resumed session's waits are added to the first's.
  test::write_file(dir.file("more.txt"), [&] {
    std::string more;
    for (int n = 0; n < 8; ++n) more += testbed.host_url(h0, "/page/" + std::to_string(n)) + "\n";
    return more;
  }());
  test::Child crawl(
      {test::crawl_binary(), "run", dir.file("more.txt"), "--delay", "300ms", "--db", db, "--no-progress"});
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (test::query_int(db, "SELECT count(*) FROM pages WHERE run_id = 2 AND error IS NULL") < 3 &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(crawl.stop(SIGINT), 130);
  const auto held = [&] {
    const auto rows = test::query_rows(db, "SELECT held_s FROM run_hosts WHERE run_id = 2");
    return rows.empty() ? 0.0 : std::stod(*rows[0].at("held_s"));
  };
  const double first = held();
  EXPECT_GE(first, 0.59);  // two gaps at least before the third page
  const long long left =
      test::query_int(db, "SELECT count(*) FROM pages WHERE run_id = 2 AND error = 'interrupted'");
  const auto resumed = test::run_crawl({"resume", "--db", db, "--no-progress"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  // The resumed session's first URL goes at once; each after it waits its gap.
  EXPECT_GE(held(), first + 0.299 * static_cast<double>(std::max(0LL, left - 1))) << left << " left";
}

TEST(Reports, HostsCountsWhatRobotsTxtRefused) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  // The default site's robots.txt disallows /private/.
  test::write_file(dir.file("urls.txt"), testbed.url("/private/1") + "\n" + testbed.url("/page/1") + "\n");
  const std::string db = dir.file("crawl.db");
  const auto run =
      test::run_crawl({"run", dir.file("urls.txt"), "--db", db, "--no-progress", "--robots", "on"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::vector<json> hosts = report(db, "hosts");
  ASSERT_EQ(hosts.size(), 1u);
  EXPECT_EQ(hosts[0]["pages"], 2);
  EXPECT_EQ(hosts[0]["ok"], 1);
  EXPECT_EQ(hosts[0]["robots"], 1);
  EXPECT_EQ(hosts[0]["failed"], 0);
}

TEST(Reports, ChangesSaysWhatIsNewGoneAndChangedSinceTheRunBefore) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  std::string common;
  for (int n = 0; n < 8; ++n) common += testbed.url("/page/" + std::to_string(n)) + "\n";
  test::write_file(dir.file("first.txt"), common + testbed.url("/page/100") + "\n");
  test::write_file(dir.file("second.txt"), common + testbed.url("/page/200") + "\n");
  const std::string db = dir.file("crawl.db");
  auto crawl = [&](const std::string& list) {
    const auto run = test::run_crawl({"run", dir.file(list), "--retries", "0", "--db", db, "--no-progress"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
  };
  crawl("first.txt");
  // With one run there is nothing to compare it with: say so, and how to choose.
  const auto alone = test::run_crawl({"query", "--db", db, "--report", "changes"});
  EXPECT_EQ(alone.exit_code, 2);
  EXPECT_NE(alone.err.find("no earlier run"), std::string::npos) << alone.err;
  EXPECT_NE(alone.err.find("--against"), std::string::npos) << alone.err;

  // The site moves on between the crawls (testbed/site.hpp, page_revision()): pages 1 and 5 get
  // other text, 2 and 6 another title too, 3 and 7 are gone; 0 and 4 stay.
  test::HttpClient client;
  ASSERT_EQ(client.get(testbed.url("/__revision/1")).status, 200);
  crawl("second.txt");

  const std::vector<json> changes = report(db, "changes");
  std::vector<std::string> seen;
  for (const json& row : changes) {
    const std::string path = row["url"].get<std::string>().substr(testbed.url("").size());
    seen.push_back(row["change"].get<std::string>() + " " + path);
  }
  const std::vector<std::string> expected = {"new /page/200",
                                             "gone /page/100",
                                             "content /page/1",
                                             "content /page/5",
                                             "content,title /page/2",
                                             "content,title /page/6",
                                             "status,content,title /page/3",
                                             "status,content,title /page/7"};
  EXPECT_EQ(seen, expected);
  for (const json& row : changes) {
    if (row["change"] == "content,title") {
      EXPECT_EQ(row["title"], row["title_before"].get<std::string>() + ", revision 1") << row.dump();
    }
    if (row["change"] == "status,content,title") {
      EXPECT_EQ(row["was"], "200") << row.dump();
      EXPECT_EQ(row["now"], "404") << row.dump();
    }
  }

  // Any two runs, either way round; a run against itself has no changes.
  const auto backwards = test::run_crawl(
      {"query", "--db", db, "--report", "changes", "--run", "1", "--against", "2", "--format", "csv"});
  ASSERT_EQ(backwards.exit_code, 0) << backwards.err;
  EXPECT_NE(backwards.out.find("gone," + testbed.url("/page/200")), std::string::npos) << backwards.out;
  EXPECT_NE(backwards.out.find("new," + testbed.url("/page/100")), std::string::npos) << backwards.out;
  const auto itself = test::run_crawl(
      {"query", "--db", db, "--report", "changes", "--run", "2", "--against", "2", "--format", "jsonl"});
  ASSERT_EQ(itself.exit_code, 0) << itself.err;
  EXPECT_EQ(itself.out, "");
}

// A crawl following links on a site where a quarter of the pages are gone: the broken-links report
// names each gone page with every page that links to it, and the list line it came from when it
// was listed, in every mode and with --store-links. After the run completes, the links kept are
// those the report needs (all of them with --store-links).
struct BrokenLinksCase {
  std::string name;
  std::vector<std::string> args;
};

void PrintTo(const BrokenLinksCase& c, std::ostream* os) {
  *os << c.name;
}

class BrokenLinks : public ::testing::TestWithParam<BrokenLinksCase> {};

TEST_P(BrokenLinks, NameEachFailedUrlWithEveryPageLinkingToIt) {
  constexpr uint64_t kPages = 40;
  test::TempDir dir;
  auto testbed = test::Testbed::start({"--pages", std::to_string(kPages)});
  test::HttpClient client;
  // From revision 1 on, page N with N % 4 == 3 answers 404 (testbed/site.hpp, page_revision()).
  ASSERT_EQ(client.get(testbed.url("/__revision/1")).status, 200);
  testbed::SiteOptions site;
  site.pages = kPages;
  site.revision = 1;
  auto url = [&](uint64_t n) { return testbed.url("/page/" + std::to_string(n)); };
  auto gone = [&](uint64_t n) { return testbed::page_revision(n, site) == testbed::PageRevision::kGone; };

  // Listed: page 0, and page 7, which is gone and also linked to.
  test::write_file(dir.file("urls.txt"), url(0) + "\n" + url(7) + "\n");
  const std::string db = dir.file("crawl.db");
  std::vector<std::string> args = {"run", dir.file("urls.txt"), "--depth", "100", "--retries", "0", "--db",
                                   db,    "--no-progress"};
  for (const auto& a : GetParam().args) args.push_back(a);
  const auto run = test::run_crawl(args);
  ASSERT_EQ(run.exit_code, 0) << run.err;

  // The walk the crawl makes: a gone page has no links; every page it reaches is followed.
  std::map<std::string, std::set<std::string>> expected;
  std::set<uint64_t> seen{0, 7};
  std::deque<uint64_t> queue{0};
  size_t links_into_gone = 0;
  while (!queue.empty()) {
    const uint64_t n = queue.front();
    queue.pop_front();
    for (uint64_t m : testbed::page_links(n, site)) {
      if (gone(m) && expected[url(m)].insert(url(n)).second) ++links_into_gone;
      if (!gone(m) && seen.insert(m).second) queue.push_back(m);
      if (gone(m)) seen.insert(m);
    }
  }
  expected[url(7)].insert(dir.file("urls.txt") + ":2");
  ASSERT_GT(expected.size(), 3U);
  // Page 2 links to page 3 first (testbed::page_links), whatever else does.
  ASSERT_TRUE(expected[url(3)].contains(url(2)));

  std::map<std::string, std::set<std::string>> got;
  for (const json& row : report(db, "broken-links")) {
    EXPECT_EQ(row["status"], 404) << row.dump();
    EXPECT_EQ(row["error"], "http_4xx") << row.dump();
    EXPECT_FALSE(row["message"].get<std::string>().empty()) << row.dump();
    ASSERT_TRUE(row["referrer"].is_string()) << row.dump();
    got[row["url"].get<std::string>()].insert(row["referrer"].get<std::string>());
  }
  EXPECT_EQ(got, expected);

  const long long links = test::query_int(db, "SELECT count(*) FROM links");
  if (GetParam().name == "store_links")
    EXPECT_GT(links, static_cast<long long>(links_into_gone));
  else
    EXPECT_EQ(links, static_cast<long long>(links_into_gone));
}

INSTANTIATE_TEST_SUITE_P(EveryMode, BrokenLinks,
                         ::testing::Values(BrokenLinksCase{"fiber", {"--mode", "fiber"}},
                                           BrokenLinksCase{"thread", {"--mode", "thread"}},
                                           BrokenLinksCase{"process", {"--mode", "process"}},
                                           BrokenLinksCase{"store_links", {"--store-links"}}),
                         [](const auto& info) { return info.param.name; });

// Without links followed the report still lists each failed URL, with the list line it came from.
TEST(Reports, BrokenLinksOfAListWithoutLinksFollowedNameTheListLine) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  test::write_file(dir.file("urls.txt"), testbed.url("/page/1") + "\n" + testbed.url("/status/500") + "\n" +
                                             testbed.url("/status/404") + "\n");
  const std::string db = dir.file("crawl.db");
  const auto run =
      test::run_crawl({"run", dir.file("urls.txt"), "--retries", "0", "--db", db, "--no-progress"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::vector<json> rows = report(db, "broken-links");
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[0]["url"], testbed.url("/status/404"));
  EXPECT_EQ(rows[0]["referrer"], dir.file("urls.txt") + ":3");
  EXPECT_EQ(rows[0]["error"], "http_4xx");
  EXPECT_EQ(rows[1]["url"], testbed.url("/status/500"));
  EXPECT_EQ(rows[1]["referrer"], dir.file("urls.txt") + ":2");
  EXPECT_EQ(rows[1]["status"], 500);
}

// Debian's sqlite-utils (scripts/setup installs it).
constexpr const char* kSqliteUtils = "/usr/bin/sqlite-utils";

// The database as it is, opened with sqlite-utils (what Datasette users reach for too): its views
// list, and read the same answers the reports give.
TEST(Reports, TheViewsReadInSqliteUtilsAsTheReportsAnswer) {
  test::TempDir dir;
  auto testbed = test::Testbed::start({"--pages", "40"});
  test::HttpClient client;
  ASSERT_EQ(client.get(testbed.url("/__revision/1")).status, 200);  // page N % 4 == 3 is gone
  const std::string db = dir.file("crawl.db");
  for (int run = 0; run < 2; ++run) {
    const auto r = test::run_crawl({"run", "--url", testbed.url("/page/0"), "--depth", "100", "--retries",
                                    "0", "--db", db, "--no-progress"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto lines = [](const std::string& out) {
    std::vector<json> rows;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) rows.push_back(json::parse(line));
    return rows;
  };
  const auto views = test::run_process({kSqliteUtils, "views", db, "--nl"});
  ASSERT_EQ(views.exit_code, 0) << views.err;
  std::set<std::string> names;
  for (const json& row : lines(views.out)) names.insert(row["view"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"failed_pages", "broken_links", "host_summary"}));

  using Edge = std::pair<std::string, std::string>;
  std::set<Edge> from_view, from_report;
  const auto rows =
      test::run_process({kSqliteUtils, "rows", db, "broken_links", "--nl", "--where", "run_id = 2"});
  ASSERT_EQ(rows.exit_code, 0) << rows.err;
  for (const json& row : lines(rows.out))
    from_view.insert({row["url"].get<std::string>(), row["referrer"].get<std::string>()});
  for (const json& row : report(db, "broken-links"))
    from_report.insert({row["url"].get<std::string>(), row["referrer"].get<std::string>()});
  EXPECT_GT(from_view.size(), 5U);
  EXPECT_EQ(from_view, from_report);

  const auto hosts =
      test::run_process({kSqliteUtils, "query", db, "--nl",
                         "SELECT host, pages, ok, failed, robots FROM host_summary WHERE run_id = 2"});
  ASSERT_EQ(hosts.exit_code, 0) << hosts.err;
  const std::vector<json> from_summary = lines(hosts.out);
  const std::vector<json> hosts_report = report(db, "hosts");
  ASSERT_EQ(from_summary.size(), 1U);
  ASSERT_EQ(hosts_report.size(), 1U);
  for (const char* column : {"host", "pages", "ok", "failed", "robots"})
    EXPECT_EQ(from_summary[0][column], hosts_report[0][column]) << column;
  std::set<std::string> failed_urls;
  for (const auto& [url, referrer] : from_view) failed_urls.insert(url);
  EXPECT_EQ(from_summary[0]["failed"], failed_urls.size());
}

}  // namespace
}  // namespace crawl
