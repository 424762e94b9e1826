// End-to-end: what a row keeps of a response besides its status and sizes (host, HTTP version,
// server address, ETag, Last-Modified, the body's hash) is what the curl and xxh128sum command-line
// tools find in the same response, in every mode (process mode carries rows between processes).
#include <gtest/gtest.h>

#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

// What `curl -si URL` shows of the header `name` (its value), or nullopt.
std::optional<std::string> header_from_curl(const std::string& url, const std::string& name) {
  const auto curl = test::run_process({"/usr/bin/curl", "-si", url});
  EXPECT_EQ(curl.exit_code, 0) << curl.err;
  std::smatch m;
  const std::regex line("(?:^|\r\n)" + name + ": ([^\r\n]*)\r\n", std::regex::icase);
  if (!std::regex_search(curl.out, m, line)) return std::nullopt;
  return m[1].str();
}

// The body's hash as xxh128sum prints it for the bytes curl received (decoded when --compressed).
std::string hash_from_xxh128sum(const std::string& url) {
  const auto sum =
      test::run_process({"/bin/sh", "-c", "/usr/bin/curl -s --compressed '" + url + "' | xxh128sum"});
  EXPECT_EQ(sum.exit_code, 0) << sum.err;
  return sum.out.substr(0, sum.out.find(' '));
}

class PageFacts : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(PageFacts, AreWhatCurlAndXxh128sumSeeInTheSameResponse) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  const std::string page = testbed.url("/page/1");
  const std::string gzipped = testbed.url("/gzip/1");
  const std::string missing = testbed.url("/status/404");
  test::write_file(dir.file("urls.txt"), page + "\n" + testbed.url("/page/2") + "\n" + gzipped + "\n" +
                                             missing + "\nnot a url\nhttp://127.0.0.1:1/\n");
  const std::string db = dir.file("crawl.db");
  std::vector<std::string> args = {"run", dir.file("urls.txt"), "--retries", "0", "--db",
                                   db,    "--no-progress"};
  args.insert(args.end(), GetParam().begin(), GetParam().end());
  const auto run = test::run_crawl(args);
  ASSERT_EQ(run.exit_code, 0) << run.err;

  auto row = [&](const std::string& input) {
    const auto rows = test::query_rows(db, "SELECT * FROM pages WHERE input = '" + input + "'");
    EXPECT_EQ(rows.size(), 1u) << input;
    return rows.empty() ? test::Row{} : rows[0];
  };
  const test::Row fetched = row(page);
  EXPECT_EQ(fetched.at("host"), "127.0.0.1");
  EXPECT_EQ(fetched.at("http_version"), "1.1");
  EXPECT_EQ(fetched.at("server_ip"), "127.0.0.1");
  const auto etag = header_from_curl(page, "ETag");
  ASSERT_TRUE(etag.has_value()) << "the testbed sends an ETag with its pages";
  EXPECT_EQ(fetched.at("etag"), etag);
  EXPECT_EQ(fetched.at("last_modified"), header_from_curl(page, "Last-Modified"));
  EXPECT_EQ(fetched.at("body_hash"), hash_from_xxh128sum(page));
  EXPECT_NE(row(testbed.url("/page/2")).at("body_hash"), fetched.at("body_hash"));
  EXPECT_NE(row(testbed.url("/page/2")).at("etag"), fetched.at("etag"));

  // The hash is of the body after content decoding: the same HTML sent gzipped hashes alike.
  EXPECT_EQ(row(gzipped).at("body_hash"), fetched.at("body_hash"));

  // A 404's small page arrived whole: hashed; it carries no validators.
  const test::Row not_found = row(missing);
  EXPECT_EQ(not_found.at("body_hash"), hash_from_xxh128sum(missing));
  EXPECT_EQ(not_found.at("etag"), std::nullopt);
  EXPECT_EQ(not_found.at("last_modified"), std::nullopt);
  EXPECT_EQ(not_found.at("http_version"), "1.1");

  // No response: nothing of one; no URL: no host.
  const test::Row refused = row("http://127.0.0.1:1/");
  EXPECT_EQ(refused.at("error"), "connect");
  EXPECT_EQ(refused.at("host"), "127.0.0.1");
  for (const char* column : {"http_version", "server_ip", "etag", "last_modified", "body_hash"})
    EXPECT_EQ(refused.at(column), std::nullopt) << column;
  EXPECT_EQ(row("not a url").at("host"), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(Modes, PageFacts,
                         ::testing::Values(std::vector<std::string>{"--mode", "fiber"},
                                           std::vector<std::string>{"--mode", "process", "-c", "4"}),
                         [](const auto& info) { return info.param[1]; });

}  // namespace
}  // namespace crawl
