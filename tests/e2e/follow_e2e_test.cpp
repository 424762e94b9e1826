// Crawling like a good citizen, in every execution layout: following links exactly as a
// breadth-first walk of the testbed's graph predicts, per-host limits (checked with the testbed's
// own counters) and delays (with the crawler's recorded start times), robots.txt, retries that
// follow Retry-After, --include/--exclude.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "testbed/site.hpp"
#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

using test::query_int;
using test::query_rows;

class Layout : public ::testing::TestWithParam<std::vector<std::string>> {
 protected:
  // `crawl run` with this layout; fails the test unless it exits 0.
  test::ProcessResult crawl(std::vector<std::string> args) {
    args.insert(args.begin(), "run");
    for (const auto& a : GetParam()) args.push_back(a);
    for (const char* a : {"--no-progress", "--timeout", "3s"}) args.push_back(a);
    auto r = test::run_crawl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    return r;
  }
};

std::string value(const test::Row& row, const std::string& column) {
  return row.at(column).value_or("<NULL>");
}

// The start times the testbed saw on `host`, sorted.
std::vector<double> starts_on(const nlohmann::json& hosts, const std::string& host) {
  std::vector<double> starts;
  if (!hosts.contains(host)) return starts;
  for (const auto& s : hosts[host]["starts_ms"]) starts.push_back(s.get<double>());
  std::sort(starts.begin(), starts.end());
  return starts;
}

// When the crawler's requests to `host` went out, in milliseconds, sorted: the rows' fetched_at, the
// moment --delay counts from. A server's own clock sees a request when it gets there, later on a
// loaded machine for one request than for the next, so gaps between its times can look shorter
// than the delay that was kept; the crawler's own times cannot. fetched_at is stored to the
// millisecond, so a gap reads at most 1 ms short.
std::vector<double> fetch_starts(const std::string& db, const std::string& host) {
  std::vector<double> starts;
  for (const auto& row :
       query_rows(db,
                  "select (julianday(fetched_at) - 2440587.5) * 86400000.0 as ms from pages "
                  "where fetched_at is not null and url like 'http://" +
                      host + ":%'"))
    starts.push_back(std::stod(row.at("ms").value_or("0")));
  std::sort(starts.begin(), starts.end());
  return starts;
}

// A depth-3 crawl from page 0 of h1 (whose robots.txt has a group for "crawl" that forbids
// /page/1*, and forbids /private/ for everyone) fetches exactly the pages a breadth-first walk of
// the testbed's graph reaches, each once and at its depth; what robots.txt forbids is a `robots`
// row and is never requested.
TEST_P(Layout, FollowsLinksExactlyAsABreadthFirstWalkPredicts) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  const testbed::HostId start{.site = 1};
  crawl({"--url", testbed.host_url("h1.localhost", "/page/0"), "--depth", "3", "--db", db, "--store-links"});
  const auto expected =
      testbed::host_walk(start, 0, 3, testbed::Scope::kHost, "crawl", testbed::SiteOptions{}, testbed.port());
  ASSERT_GT(expected.size(), 20u);
  std::map<std::string, int> fetched;
  for (const auto& row : query_rows(db,
                                    "select url, depth, error, attempts from pages where error is null "
                                    "or error != 'robots'")) {
    EXPECT_EQ(value(row, "error"), "<NULL>") << value(row, "url");
    EXPECT_TRUE(fetched.emplace(value(row, "url"), std::stoi(value(row, "depth"))).second)
        << "fetched twice: " << value(row, "url");
  }
  EXPECT_EQ(fetched, expected);
  // Every robots row is a URL robots.txt forbids, and the testbed never served any of them.
  for (const auto& row : query_rows(db, "select url from pages where error = 'robots'")) {
    const std::string url = value(row, "url");
    const std::string path = url.substr(url.find('/', url.find("://") + 3));
    EXPECT_FALSE(testbed::robots_allows(start, path, "crawl")) << url;
  }
  EXPECT_GT(query_int(db, "select count(*) from pages where error = 'robots'"), 0);
  const auto hosts = testbed.hosts();
  // robots.txt once, then each page once.
  EXPECT_EQ(hosts["h1.localhost"]["requests"].get<int64_t>(), static_cast<int64_t>(expected.size()) + 1);
  // Following links caps a host at 8 fetches at a time unless told otherwise.
  EXPECT_LE(hosts["h1.localhost"]["peak_concurrent"].get<int>(), 8);
  // Every row but the seed names the page that linked to it, and --store-links kept the links.
  EXPECT_EQ(query_int(db, "select count(*) from pages where depth > 0 and parent_url is null"), 0);
  EXPECT_GT(query_int(db, "select count(*) from links"), static_cast<int64_t>(expected.size()));
}

// With --max-pages, the pages fetched are a breadth-first walk cut short: every level before the
// last one reached is complete, and nothing deeper is fetched. Across a domain (hK and its
// subdomains), two at a time per host.
TEST_P(Layout, MaxPagesCutsTheWalkBreadthFirst) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  crawl({"--url", testbed.host_url("h3.localhost", "/page/0"), "--depth", "3", "--scope", "domain",
         "--max-pages", "40", "--per-host", "2", "--db", db});
  const auto walk = testbed::host_walk({.site = 3}, 0, 3, testbed::Scope::kDomain, "crawl",
                                       testbed::SiteOptions{}, testbed.port());
  std::map<int, int> per_depth;
  for (const auto& [url, depth] : walk) ++per_depth[depth];
  int cut = 0, total = 0;
  for (const auto& [depth, n] : per_depth) {
    cut = depth;
    total += n;
    if (total >= 40) break;
  }
  ASSERT_GE(total, 40) << "the walk must be longer than --max-pages for this test to mean anything";
  auto rows = query_rows(db, "select url, depth from pages where error is null");
  EXPECT_EQ(query_int(db, "select count(*) from pages where error is null or error = 'robots'"), 40);
  std::set<std::string> fetched;
  for (const auto& row : rows) {
    const std::string url = value(row, "url");
    fetched.insert(url);
    ASSERT_TRUE(walk.count(url)) << "not in the walk: " << url;
    EXPECT_EQ(walk.at(url), std::stoi(value(row, "depth"))) << url;
    EXPECT_LE(std::stoi(value(row, "depth")), cut);
  }
  for (const auto& [url, depth] : walk) {
    if (depth < cut) {
      EXPECT_TRUE(fetched.count(url)) << "level " << depth << " incomplete: " << url;
    }
  }
  std::set<std::string> hosts_seen;
  const auto hosts = testbed.hosts();
  for (const auto& [name, counters] : hosts.items()) {
    hosts_seen.insert(name);
    EXPECT_LE(counters["peak_concurrent"].get<int>(), 2) << name;
  }
  EXPECT_GE(hosts_seen.size(), 2u) << "the domain's subdomains were crawled too";
}

// A shuffled list over twelve hosts, one fetch at a time per host: the producer that finishes a
// fetch from a host is handed that host's next URL, so its open connection is reused. Each thread
// or worker keeps at most a few idle connections of its own (libcurl cannot share a pool between
// threads); handed URLs in any order, nearly half of the 120 fetches would open a new connection.
TEST_P(Layout, ReusesEachHostsConnection) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  std::vector<std::string> urls;
  for (int h = 0; h < 12; ++h)
    for (int n = 0; n < 10; ++n)
      urls.push_back(testbed.host_url("h" + std::to_string(h) + ".localhost", "/page/" + std::to_string(n)));
  std::mt19937 shuffle(7);
  std::shuffle(urls.begin(), urls.end(), shuffle);
  std::string list;
  for (const auto& u : urls) list += u + "\n";
  test::write_file(dir.file("urls.txt"), list);
  const std::string db = dir.file("c.db");
  testbed.reset_stats();
  crawl({dir.file("urls.txt"), "--per-host", "1", "--no-parse", "--db", db});
  EXPECT_EQ(query_int(db, "select count(*) from pages where error is null"), 120);
  const auto stats = testbed.stats();
  // Twelve hosts need twelve connections at least; -c 16 producers may open a few more.
  EXPECT_LE(stats["connections_total"].get<int>(), 32) << stats.dump();
}

// A plain list over three hosts with --per-host 2 --delay 100ms: the testbed never sees more than
// two requests at once from one host's point of view (load can only lower that count), the
// crawler's requests to one host go out at least the delay apart (by its own recorded start times),
// and no host waits for another.
TEST_P(Layout, PerHostLimitAndDelayAreKept) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  std::string list;
  for (int n = 0; n < 12; ++n)
    for (const char* host : {"h0.localhost", "h3.localhost", "h5.localhost"})
      list += testbed.host_url(host, "/delay/150/page/" + std::to_string(n)) + "\n";
  test::write_file(dir.file("urls.txt"), list);
  const std::string db = dir.file("c.db");
  auto r = crawl({dir.file("urls.txt"), "--per-host", "2", "--delay", "100ms", "--db", db});
  EXPECT_EQ(query_int(db, "select count(*) from pages where error is null"), 36);
  EXPECT_NE(r.out.find("per-host limit (2) held the run below -c 16"), std::string::npos) << r.out;
  const auto hosts = testbed.hosts();
  for (const char* host : {"h0.localhost", "h3.localhost", "h5.localhost"}) {
    EXPECT_LE(hosts[host]["peak_concurrent"].get<int>(), 2) << host;
    EXPECT_EQ(hosts[host]["requests"].get<int>(), 12) << host;
    const auto starts = fetch_starts(db, host);
    ASSERT_EQ(starts.size(), 12u) << host;
    for (size_t i = 1; i < starts.size(); ++i)
      EXPECT_GE(starts[i] - starts[i - 1], 99.0) << host << " #" << i;
  }
  // Interleaved: every host started before any other had finished its twelve (which take at least
  // 11 delays), so none waited for another.
  for (const char* a : {"h0.localhost", "h3.localhost", "h5.localhost"})
    for (const char* b : {"h0.localhost", "h3.localhost", "h5.localhost"})
      EXPECT_LT(fetch_starts(db, a).front(), fetch_starts(db, b).back()) << a << " waited for " << b;
}

// Retries of transient failures wait as the server's Retry-After says (seconds or an HTTP date,
// capped by --max-retry-wait), and the row records how many attempts it took.
TEST_P(Layout, RetriesFollowRetryAfter) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  test::write_file(dir.file("urls.txt"),
                   testbed.host_url("h0.localhost", "/ratelimit-after/2/1/page/1") + "\n" +
                       testbed.host_url("h3.localhost", "/ratelimit-date/1/2/page/2") + "\n" +
                       testbed.host_url("h5.localhost", "/unavailable/5/page/3") + "\n" +
                       testbed.host_url("h6.localhost", "/ratelimit-after/1/30/page/4") + "\n");
  crawl({dir.file("urls.txt"), "--db", db, "--max-retry-wait", "1500ms"});
  auto row = [&](const std::string& like) {
    auto rows = query_rows(db, "select status, error, attempts from pages where url like '%" + like + "%'");
    EXPECT_EQ(rows.size(), 1u) << like;
    return rows.empty() ? test::Row{} : rows[0];
  };
  auto a = row("/ratelimit-after/2/1/");
  EXPECT_EQ(value(a, "status"), "200");
  EXPECT_EQ(value(a, "attempts"), "3");
  auto b = row("/ratelimit-date/1/2/");
  EXPECT_EQ(value(b, "status"), "200");
  EXPECT_EQ(value(b, "attempts"), "2");
  auto c = row("/unavailable/5/");  // 503 every time within the 2 retries
  EXPECT_EQ(value(c, "status"), "503");
  EXPECT_EQ(value(c, "error"), "http_5xx");
  EXPECT_EQ(value(c, "attempts"), "3");
  auto d = row("/ratelimit-after/1/30/");  // asks for 30 s; --max-retry-wait caps it
  EXPECT_EQ(value(d, "status"), "200");
  EXPECT_EQ(value(d, "attempts"), "2");
  // The testbed's own start times are right here: a retry's wait begins only once the answer to
  // the attempt before has arrived, which the server saw begin before it answered; load can only
  // lengthen these gaps.
  const auto hosts = testbed.hosts();
  const auto h0 = starts_on(hosts, "h0.localhost");
  ASSERT_EQ(h0.size(), 3u);
  EXPECT_GE(h0[1] - h0[0], 950.0);
  EXPECT_GE(h0[2] - h0[1], 950.0);
  const auto h3 = starts_on(hosts, "h3.localhost");
  ASSERT_EQ(h3.size(), 2u);
  EXPECT_GE(h3[1] - h3[0], 950.0);  // an HTTP date two seconds ahead, in whole seconds
  const auto h6 = starts_on(hosts, "h6.localhost");
  ASSERT_EQ(h6.size(), 2u);
  EXPECT_GE(h6[1] - h6[0], 1400.0);
  EXPECT_LT(h6[1] - h6[0], 15000.0);  // capped: nowhere near the 30 s asked, however loaded the machine
}

INSTANTIATE_TEST_SUITE_P(Modes, Layout,
                         ::testing::Values(std::vector<std::string>{"--mode", "fiber", "-c", "16"},
                                           std::vector<std::string>{"--mode", "thread", "-c", "16"},
                                           std::vector<std::string>{"--mode", "process", "-c", "16"},
                                           std::vector<std::string>{"--mode", "hybrid", "--processes", "2",
                                                                    "--threads", "2", "--fibers", "4"}),
                         [](const auto& info) { return info.param[1]; });

// robots.txt with a plain list when asked (--robots on): a Crawl-delay longer than --delay wins, a
// 503 robots.txt forbids the whole host, a 404 one allows it.
TEST(Robots, CrawlDelayAndUnavailableRobotsTxtOnAPlainList) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  std::string list;
  for (int n = 2; n < 7; ++n) list += testbed.host_url("h2.localhost", "/page/" + std::to_string(n)) + "\n";
  list += testbed.host_url("h2.localhost", "/private/3") + "\n";
  list += testbed.host_url("h8.localhost", "/page/2") + "\n";     // robots.txt answers 503
  list += testbed.host_url("h7.localhost", "/private/2") + "\n";  // robots.txt answers 404
  test::write_file(dir.file("urls.txt"), list);
  const std::string db = dir.file("c.db");
  auto r = test::run_crawl(
      {"run", dir.file("urls.txt"), "--robots", "on", "--delay", "50ms", "--db", db, "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(query_int(db, "select count(*) from pages where error is null"), 6);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'robots'"), 2);
  EXPECT_EQ(query_int(db,
                      "select count(*) from pages where error = 'robots' and error_message like "
                      "'%robots.txt of http://h2.localhost%Disallow: /private/%'"),
            1);
  const auto hosts = testbed.hosts();
  EXPECT_FALSE(hosts.contains("h8.localhost") && hosts["h8.localhost"]["requests"].get<int>() > 1);
  EXPECT_EQ(hosts["h2.localhost"]["requests"].get<int>(), 6);  // robots.txt, then the 5 pages
  const auto starts = fetch_starts(db, "h2.localhost");        // by the crawler's own clock
  ASSERT_EQ(starts.size(), 5u);
  for (size_t i = 1; i < starts.size(); ++i) EXPECT_GE(starts[i] - starts[i - 1], 199.0) << i;  // 0.2 s
  EXPECT_NE(r.out.find("2 URLs disallowed by robots.txt"), std::string::npos) << r.out;
}

// The last page of a level may be finished by the crawler itself, after its links' level was
// looked at in the same round: here h9's page, refused when its robots.txt, which never answers,
// times out, long after h0's pages of depth 1 were done. Their links (depth 2) were left behind and
// the run ended as completed, a level short, with nothing left to resume.
TEST(Robots, ALevelIsNotLostWhileAHostWaitsForItsRobotsTxt) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  auto depths = [&](const std::string& db, std::vector<std::string> urls) {
    std::vector<std::string> args{"run", "--depth", "2", "--timeout", "2s", "--db", db, "--no-progress"};
    for (auto& u : urls) args.insert(args.end(), {"--url", u});
    auto r = test::run_crawl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(value(query_rows(db, "select status from runs").at(0), "status"), "completed");
    EXPECT_EQ(query_int(db, "select count(*) from frontier_links"), 0);
    std::map<long long, long long> by_depth;
    for (const auto& row : query_rows(db, "select depth, count(*) as n from pages group by depth"))
      by_depth[std::stoll(value(row, "depth"))] = std::stoll(value(row, "n"));
    return by_depth;
  };
  const auto alone = depths(dir.file("alone.db"), {testbed.host_url("h0.localhost", "/page/0")});
  ASSERT_GT(alone.count(2), 0u);
  const auto beside = depths(dir.file("beside.db"), {testbed.host_url("h0.localhost", "/page/0"),
                                                     testbed.host_url("h9.localhost", "/page/0")});
  EXPECT_EQ(beside.at(0), 2);
  EXPECT_EQ(beside.count(1) ? beside.at(1) : 0, alone.at(1));
  EXPECT_EQ(beside.count(2) ? beside.at(2) : 0, alone.at(2));
  EXPECT_EQ(query_int(dir.file("beside.db"),
                      "select count(*) from pages where error = 'robots' and url like "
                      "'%h9.localhost%'"),
            1);
}

// --exclude leaves list lines out (each still a row), --include narrows the links followed.
TEST(Follow, IncludeAndExclude) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  std::string list;
  for (int n = 0; n < 6; ++n) list += testbed.host_url("h0.localhost", "/page/" + std::to_string(n)) + "\n";
  test::write_file(dir.file("urls.txt"), list);
  const std::string db = dir.file("c.db");
  auto r = test::run_crawl({"run", dir.file("urls.txt"), "--exclude", "/page/[45]$", "--depth", "1",
                            "--include", "/page/[0-9]$", "--robots", "off", "--db", db, "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(query_int(db, "select count(*) from pages where depth = 0"), 6);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'excluded'"), 2);
  // Links taken in match --include and not --exclude: single-digit pages other than 4 and 5.
  EXPECT_GT(query_int(db, "select count(*) from pages where depth = 1"), 0);
  EXPECT_EQ(query_int(db,
                      "select count(*) from pages where depth = 1 and (url not glob '*/page/[0-9]' or url "
                      "glob '*/page/[45]')"),
            0);
  // Scope host: no link left h0.localhost.
  EXPECT_EQ(query_int(db, "select count(*) from pages where url not like 'http://h0.localhost:%'"), 0);
}

TEST(Follow, BadFlagsAreOneLineErrors) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--depth", "2", "--no-parse"},
           {"--scope", "planet"},
           {"--order", "random"},
           {"--robots", "maybe"},
           {"--exclude", "(["},
           {"--per-host", "-1"},
           {"--header", "no colon"},
           {"--delay", "soon"},
       }) {
    std::vector<std::string> full = {"run", "--url", "http://127.0.0.1:1/"};
    full.insert(full.end(), args.begin(), args.end());
    auto r = test::run_crawl(full);
    EXPECT_EQ(r.exit_code, 2) << args[0];
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
}  // namespace crawl
