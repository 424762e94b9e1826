// End-to-end: the named reports that answer what users ask after a crawl, each against a testbed
// crawl whose answers are known from the list it was given.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

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

}  // namespace
}  // namespace crawl
