// --parser: a link-following crawl stores the same pages and the same facts with libxml2 as with
// gumbo, in every mode; a resumed run keeps the parser it was made with; a bad value is refused.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

class Parser : public ::testing::TestWithParam<std::vector<std::string>> {};

// What a crawl stored of each page, in a stable order.
std::vector<test::Row> pages_of(const std::string& db) {
  return test::query_rows(db,
                          "select url, depth, status, title, text_bytes, link_count from pages order by url");
}

TEST_P(Parser, Libxml2StoresWhatGumboStores) {
  auto testbed = test::Testbed::start({"--pages", "300"});
  test::TempDir dir;
  std::vector<std::vector<test::Row>> stored;
  for (const char* parser : {"gumbo", "libxml2"}) {
    const std::string db = dir.file(std::string(parser) + ".db");
    std::vector<std::string> args = {"run",      "--url", testbed.url("/page/0"), "--depth", "3", "--db", db,
                                     "--parser", parser,  "--no-progress"};
    for (const auto& a : GetParam()) args.push_back(a);
    auto r = test::run_crawl(args, "", std::chrono::seconds(120));
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_NE(r.out.find(std::string(parser) + ")"), std::string::npos) << r.out;  // the summary says which
    stored.push_back(pages_of(db));
  }
  ASSERT_GT(stored[0].size(), 50u);
  EXPECT_EQ(stored[0], stored[1]);
}

INSTANTIATE_TEST_SUITE_P(Modes, Parser,
                         ::testing::Values(std::vector<std::string>{"--mode", "fiber"},
                                           std::vector<std::string>{"--mode", "thread"},
                                           std::vector<std::string>{"--mode", "process", "-c", "8"},
                                           std::vector<std::string>{"--mode", "hybrid", "--processes", "2",
                                                                    "--threads", "2", "--fibers", "4"}),
                         [](const auto& info) { return info.param[1]; });

TEST(ParserFlag, AResumedRunKeepsItsParser) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  std::string list;
  for (int i = 0; i < 40; ++i) list += testbed.url("/delay/1000/page/" + std::to_string(i)) + "\n";
  test::write_file(dir.file("list.txt"), list);
  test::Child crawl({test::crawl_binary(), "run", dir.file("list.txt"), "--db", db, "-c", "4", "--parser",
                     "libxml2", "--no-progress"});
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  // Killed once it has stored a row: the run is made, with its settings.
  auto stored = [&db] {
    try {
      return test::query_int(db, "select count(*) from pages") > 0;
    } catch (const std::exception&) {
      return false;  // not created yet
    }
  };
  while (std::chrono::steady_clock::now() < until && !stored())
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(stored());
  crawl.stop(SIGKILL);

  auto refused = test::run_crawl({"resume", "--db", db, "--parser", "gumbo"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("--parser decides what the run crawls"), std::string::npos) << refused.err;

  auto resumed = test::run_crawl({"resume", "--db", db, "--no-progress"}, "", std::chrono::seconds(120));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err << resumed.out;
  EXPECT_NE(resumed.out.find("libxml2)"), std::string::npos) << resumed.out;
  EXPECT_EQ(test::query_int(db, "select count(*) from pages"), 40);
}

TEST(ParserFlag, ABadValueOrOneWithoutParsingIsRefused) {
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  auto unknown = test::run_crawl({"run", "--url", "http://127.0.0.1:9/", "--db", db, "--parser", "lxml"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("--parser must be gumbo or libxml2, not 'lxml'"), std::string::npos)
      << unknown.err;
  auto unparsed = test::run_crawl(
      {"run", "--url", "http://127.0.0.1:9/", "--db", db, "--parser", "libxml2", "--no-parse"});
  EXPECT_EQ(unparsed.exit_code, 2);
  EXPECT_NE(unparsed.err.find("--parser needs the pages parsed"), std::string::npos) << unparsed.err;
}

}  // namespace
}  // namespace crawl
