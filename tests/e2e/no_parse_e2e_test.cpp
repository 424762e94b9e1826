// End-to-end: without parsing, a row is the same whoever finishes it. Fiber mode hands its pages to a
// consumer thread; thread mode's producers finish their rows themselves (no trip through the page
// queue, crawler/producers.hpp). Both must store the same facts and hand the same rows to --jsonl.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "testbed/site.hpp"
#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

int count_lines(const std::string& path) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

// libcurl's messages say how long a step took ("Failed to connect to 127.0.0.1 port 1 after 17 ms"),
// which two runs of the same URL need not share: the rest of the message must be the same.
void drop_timings(std::vector<test::Row>& rows) {
  static const std::regex elapsed(R"(after [0-9]+ ms)");
  for (auto& row : rows)
    if (auto& message = row.at("error_message"))
      *message = std::regex_replace(*message, elapsed, "after N ms");
}

TEST(NoParse, ARowIsTheSameWhetherAConsumerOrItsProducerFinishesIt) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const auto& sample = testbed::charset_samples().front();
  const std::vector<std::string> urls = {
      testbed.url("/page/1"),     testbed.url("/redirect/2/page/3"),
      testbed.url("/status/404"), testbed.url("/charset/" + std::string(sample.label)),
      "http://127.0.0.1:1/",
  };
  std::string list;
  for (const auto& u : urls) list += u + "\n";
  test::write_file(dir.file("urls.txt"), list);

  const std::string columns =
      "url, status, final_url, redirects, content_type, charset, error, body_bytes, wire_bytes, body_hash, "
      "error_message";
  std::vector<test::Row> rows_of[2];
  int mode_index = 0;
  for (const char* mode : {"fiber", "thread"}) {
    SCOPED_TRACE(mode);
    const std::string db = dir.file(std::string(mode) + ".db");
    const std::string jsonl = dir.file(std::string(mode) + ".jsonl");
    const auto result = test::run_crawl({"run", dir.file("urls.txt"), "--db", db, "--mode", mode, "-c", "3",
                                         "--no-parse", "--no-progress", "--retries", "0", "--jsonl", jsonl});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(count_lines(jsonl), static_cast<int>(urls.size()));
    rows_of[mode_index] = test::query_rows(db, "select " + columns + " from pages order by url");
    drop_timings(rows_of[mode_index++]);
  }
  const auto& fiber = rows_of[0];
  const auto& thread = rows_of[1];
  ASSERT_EQ(fiber.size(), urls.size());
  ASSERT_EQ(thread.size(), urls.size());
  for (size_t i = 0; i < fiber.size(); ++i) {
    SCOPED_TRACE(fiber[i].at("url").value_or("?"));
    EXPECT_EQ(thread[i], fiber[i]);
  }
  // What the finishing adds, checked once: the final URL of a fetch that was not redirected is its
  // URL, of one that was, where it ended; the charset is the one the Content-Type names.
  for (const auto& r : thread) {
    const std::string url = r.at("url").value_or("");
    if (url == testbed.url("/page/1")) {
      EXPECT_EQ(r.at("final_url"), url);
    } else if (url == testbed.url("/redirect/2/page/3")) {
      EXPECT_EQ(r.at("final_url"), testbed.url("/redirect/0/page/3"));
    } else if (url.find("/charset/") != std::string::npos) {
      EXPECT_EQ(r.at("charset"), std::string(sample.label));  // as the header names it: no parse, no decoding
    } else if (url == "http://127.0.0.1:1/") {
      EXPECT_EQ(r.at("error"), "connect");
      EXPECT_NE(r.at("error_message").value_or("").find("after N ms"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace crawl
