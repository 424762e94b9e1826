#include "cli/summary.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "common/error_category.hpp"

namespace crawl::cli {
namespace {

// The summary says when a few late pages held the run long after the rest (the mean rate alone
// would understate the others), and says nothing more when pages finished evenly.
TEST(PrintSummary, NamesTheTailThatHeldTheRun) {
  RunSummary s;
  s.tally.urls = s.tally.fetched = s.tally.ok = 100;
  s.stats.crawl_s = 90;
  s.stats.pages_per_s = 100 / 90.0;
  s.tail = {.late = 1, .bulk_s = 1.98};
  std::ostringstream out;
  print_summary(s, out);
  EXPECT_NE(out.str().find("rate      1.1 pages/s over 90.00 s of crawling\n"), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find(
                "tail      99 pages took 1.98 s (50.0 pages/s); the last 1 kept the run going 88.02 s more"),
            std::string::npos)
      << out.str();

  s.tail = {.late = 50, .bulk_s = 45};
  std::ostringstream even;
  print_summary(s, even);
  EXPECT_EQ(even.str().find("tail"), std::string::npos) << even.str();
}

// The exit status scripts read: a failure wins over an interruption, and a stop that came from a
// closed standard output reads as SIGPIPE's 141.
TEST(ExitCode, SaysHowTheRunEnded) {
  RunSummary s;
  EXPECT_EQ(exit_code(s), 0);
  s.interrupted = true;
  EXPECT_EQ(exit_code(s), 130);
  s.output_closed = true;
  EXPECT_EQ(exit_code(s), 141);
  s.failure = "the database is full";
  EXPECT_EQ(exit_code(s), 1);
}

// --fail: a run that completed with failed URLs says so in its status (22, as curl --fail); one
// without, or one that ended otherwise, keeps its own.
TEST(ExitCode, WithFailSaysThatSomeUrlsFailed) {
  RunSummary s;
  EXPECT_EQ(exit_code(s, true), 0);
  s.tally.failed = 3;
  EXPECT_EQ(exit_code(s, false), 0);
  EXPECT_EQ(exit_code(s, true), kSomeUrlsFailed);
  EXPECT_EQ(kSomeUrlsFailed, 22);
  s.interrupted = true;
  EXPECT_EQ(exit_code(s, true), 130);
  s.interrupted = false;
  s.failure = "the database is full";
  EXPECT_EQ(exit_code(s, true), 1);
}

// Failures are listed by category name, skipped rows apart from them, and a run's failure said last.
TEST(PrintSummary, ListsFailuresByCategory) {
  RunSummary s;
  s.run_id = 7;
  s.db_path = "c.db";
  s.stats.status = "failed";
  s.tally.urls = 6;
  s.tally.ok = 2;
  s.tally.failed = 3;
  s.tally.skipped = 1;
  s.tally.by_category[static_cast<size_t>(ErrorCategory::timeout)] = 2;
  s.tally.by_category[static_cast<size_t>(ErrorCategory::dns)] = 1;
  s.tally.by_category[static_cast<size_t>(ErrorCategory::excluded)] = 1;
  s.failure = "disk full";
  std::ostringstream out;
  print_summary(s, out);
  const std::string text = out.str();
  EXPECT_EQ(text.rfind("run 7 failed: 6 URLs", 0), 0u) << text;
  EXPECT_NE(text.find("  failed    3  (dns 1, timeout 2)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  skipped   1  (excluded 1)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  failure   disk full\n"), std::string::npos) << text;
  EXPECT_NE(text.find("crawl query --db c.db --run 7"), std::string::npos) << text;
}

}  // namespace
}  // namespace crawl::cli
