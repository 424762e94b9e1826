// The first crawl a newcomer runs: the README's command on urls/sample.txt, exactly as written there
// (only the sample's port and the database moved into the test's own places), against the testbed.
// It must show every failure category the sample is there to show, within seconds, and say so.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

const std::string kSource = CRAWL_SOURCE_DIR;
const std::string kCommandStart = "build/crawl run urls/sample.txt ";

// The first line of `text` that starts with `start`, without its newline; "" when there is none.
std::string line_starting(const std::string& text, const std::string& start) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(start)) return line;
  return "";
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

TEST(FirstRun, TheReadmeCommandShowsEveryFailureCategoryWithinSeconds) {
  const std::string readme = test::read_file(kSource + "/README.md");
  const std::string command = line_starting(readme, kCommandStart);
  ASSERT_FALSE(command.empty()) << "README.md has no line starting with: " << kCommandStart;
  // scripts/demo runs the same command (after `set -x`), so the two cannot drift apart.
  EXPECT_EQ(line_starting(test::read_file(kSource + "/scripts/demo"), kCommandStart), command);

  auto testbed = test::Testbed::start();
  test::TempDir dir;
  // The sample points at the testbed on port 8080; this one listens where it could.
  const std::string sample = test::read_file(kSource + "/urls/sample.txt");
  ASSERT_NE(sample.find("127.0.0.1:8080/"), std::string::npos);
  test::write_file(dir.file("sample.txt"), replace_all(sample, "http://127.0.0.1:8080", testbed.base_url()));
  const std::string db = dir.file("crawl.db");

  std::vector<std::string> args = words(command);
  args.erase(args.begin());  // build/crawl
  for (auto& a : args) {
    if (a == "urls/sample.txt") a = dir.file("sample.txt");
    if (a == "crawl.db") a = db;
  }
  ASSERT_EQ(args[0], "run");
  auto r = test::run_crawl(args, "", std::chrono::seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;

  // A bound on the promise (a first run takes seconds), loose enough for a loaded machine; with the
  // default 30 s timeout the slow URL alone held this run for 90 s.
  const auto crawl_ms = test::query_int(db, "select cast(crawl_s * 1000 as integer) from runs");
  EXPECT_LT(crawl_ms, 20'000) << r.out;

  std::set<std::string> categories;
  for (const auto& row : test::query_rows(db, "select distinct error from pages where error is not null"))
    categories.insert(row.at("error").value_or(""));
  for (const char* c : {"http_4xx", "http_5xx", "bad_url", "duplicate", "connect", "timeout", "reset",
                        "too_many_redirects", "too_large", "decode"})
    EXPECT_TRUE(categories.count(c)) << c << " is missing from the sample's rows:\n" << r.out;
  EXPECT_EQ(test::query_int(db, "select count(*) from pages where url like '%/slow/%' and error = 'timeout'"),
            1);

  // The slow URL kept the run going seconds after the other pages were done: the summary says so
  // beside the mean rate, which that wait drags down.
  EXPECT_NE(r.out.find("pages/s over"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kept the run going"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace crawl
