// End-to-end: responses that are broken or odd in themselves (a status HTTP does not define, a
// malformed chunked body, headers over libcurl's limits) and the statuses worth another attempt.
// Each gets its own category and a message that says what happened, in every execution layout, and
// only what may succeed when tried again is tried again (the attempts column, and the testbed's own
// count of what it served).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

using test::query_rows;

struct Fault {
  std::string path;
  std::string error;    // the category; "" for a page fetched whole
  std::string message;  // a part of error_message; "" when there must be none
  int attempts = 1;     // with --retries 2
};

std::vector<Fault> faults() {
  return {
      {"/status/999", "http_other", "HTTP 999 (not a status HTTP defines: 100-599)"},
      {"/status/600", "http_other", "HTTP 600 (not a status HTTP defines: 100-599)"},
      {"/bad-chunked", "protocol",
       "malformed chunked body: Illegal or missing hexadecimal sequence in chunked-encoding"},
      // The URL fetched was good; where the server sent the crawler was not.
      {"/bad-redirect", "protocol", "the server redirected to a URL that cannot be parsed"},
      {"/huge-header/300000", "too_large",
       "a response header line larger than libcurl accepts (100 KB; libcurl reports it as \"Out of "
       "memory\")"},
      {"/many-headers/400000", "too_large",
       "response headers larger than libcurl accepts (300 KB in all): Too large response headers"},
      // Under the limits: fetched as usual.
      {"/huge-header/90000", "", ""},
      {"/many-headers/200000", "", ""},
      // What curl's --retry retries is tried three times; other statuses once.
      {"/status/408", "http_4xx", "HTTP 408", 3},
      {"/status/429", "http_4xx", "HTTP 429", 3},
      {"/status/500", "http_5xx", "HTTP 500", 3},
      {"/status/502", "http_5xx", "HTTP 502", 3},
      {"/status/503", "http_5xx", "HTTP 503", 3},
      {"/status/504", "http_5xx", "HTTP 504", 3},
      {"/status/501", "http_5xx", "HTTP 501", 1},
      {"/status/404", "http_4xx", "HTTP 404", 1},
  };
}

class Faults : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(Faults, EachHasItsCategoryMessageAndAttempts) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const auto list = faults();
  std::string text;
  for (const auto& f : list) text += testbed.url(f.path) + "\n";
  test::write_file(dir.file("urls.txt"), text);
  const std::string db = dir.file("crawl.db");
  // Short retry waits (--max-retry-wait caps the back-off) keep the test quick.
  std::vector<std::string> args = {
      "run",   dir.file("urls.txt"), "--db",      db,  "--retries", "2", "--max-retry-wait",
      "200ms", "--no-progress",      "--timeout", "5s"};
  for (const auto& a : GetParam()) args.push_back(a);
  const auto result = test::run_crawl(args);
  ASSERT_EQ(result.exit_code, 0) << result.err;

  const auto rows = query_rows(db, "select input, error, error_message, attempts from pages order by seq");
  ASSERT_EQ(rows.size(), list.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    const Fault& f = list[i];
    SCOPED_TRACE(f.path);
    EXPECT_EQ(row.at("input").value_or(""), testbed.url(f.path));
    EXPECT_EQ(row.at("error").value_or(""), f.error);
    const std::string message = row.at("error_message").value_or("");
    if (f.message.empty()) {
      EXPECT_EQ(message, "");
    } else {
      EXPECT_NE(message.find(f.message), std::string::npos) << message;
    }
    EXPECT_EQ(row.at("attempts").value_or(""), std::to_string(f.attempts));
  }

  // The server's side of the attempts: what is not retried was asked for once.
  const auto stats = testbed.stats();
  const auto& routes = stats["responses_by_target_prefix"];
  EXPECT_EQ(routes["bad-chunked"], 1);
  EXPECT_EQ(routes["huge-header"], 2);
  EXPECT_EQ(routes["many-headers"], 2);
  const auto& statuses = stats["by_status"];
  EXPECT_EQ(statuses["999"], 1);
  EXPECT_EQ(statuses["600"], 1);
  EXPECT_EQ(statuses["500"], 3);
  EXPECT_EQ(statuses["408"], 3);
  EXPECT_EQ(statuses["501"], 1);
}

INSTANTIATE_TEST_SUITE_P(Modes, Faults,
                         ::testing::Values(std::vector<std::string>{"--mode", "fiber", "-c", "8"},
                                           std::vector<std::string>{"--mode", "thread", "-c", "8"},
                                           std::vector<std::string>{"--mode", "process", "-c", "4"},
                                           std::vector<std::string>{"--mode", "hybrid", "--processes", "2",
                                                                    "--threads", "2", "--fibers", "2"}),
                         [](const auto& info) { return info.param[1]; });

}  // namespace
}  // namespace crawl
