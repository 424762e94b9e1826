// A link-following crawl of a few hundred pages on one host, at the default concurrency, in every
// mode, while two processes keep the cores busy: the crawl must finish, with every page the
// breadth-first walk reaches stored once. Parsers slower than fetchers fill the page queue, and a
// fetching thread that goes to sleep with finished pages it could not hand over must be woken when
// room appears (the frontier waits for those pages before it admits the next level). A small
// --queue makes the queue full nearly all the time.
#include <gtest/gtest.h>

#include <deque>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "testbed/site.hpp"
#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

constexpr uint64_t kPages = 300;
constexpr int kDepth = 4;

// The pages a breadth-first walk from page 0 reaches within kDepth hops.
std::set<uint64_t> reachable() {
  testbed::SiteOptions site;
  site.pages = kPages;
  std::set<uint64_t> seen{0};
  std::deque<std::pair<uint64_t, int>> queue{{0, 0}};
  while (!queue.empty()) {
    auto [n, depth] = queue.front();
    queue.pop_front();
    if (depth == kDepth) continue;
    for (uint64_t m : testbed::page_links(n, site))
      if (seen.insert(m).second) queue.push_back({m, depth + 1});
  }
  return seen;
}

struct Case {
  std::string name;
  std::vector<std::string> args;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

class DepthCrawlUnderLoad : public ::testing::TestWithParam<Case> {};

TEST_P(DepthCrawlUnderLoad, FinishesWithEveryReachablePage) {
  auto testbed = test::Testbed::start({"--pages", std::to_string(kPages)});
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  test::CpuBurners burners(2);
  std::vector<std::string> args = {"run",  "--url", testbed.url("/page/0"), "--depth", std::to_string(kDepth),
                                   "--db", db,      "--no-progress"};
  for (const auto& a : GetParam().args) args.push_back(a);
  // A lost wake-up leaves the run waiting forever; a healthy one takes a few seconds even on
  // loaded cores. run_crawl fails the test (and kills the crawl) past the timeout.
  auto r = test::run_crawl(args, "", std::chrono::seconds(90));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const auto expected = reachable();
  EXPECT_EQ(test::query_int(db, "select count(*) from pages"), static_cast<long long>(expected.size()));
  EXPECT_EQ(test::query_int(db, "select count(*) from pages where status = 200 and error is null"),
            static_cast<long long>(expected.size()));
  EXPECT_EQ(test::query_int(db, "select count(distinct url) from pages"),
            static_cast<long long>(expected.size()));
}

INSTANTIATE_TEST_SUITE_P(
    Modes, DepthCrawlUnderLoad,
    ::testing::Values(
        Case{"fiber", {}}, Case{"fiber_small_queue", {"--queue", "16"}}, Case{"thread", {"--mode", "thread"}},
        Case{"thread_small_queue", {"--mode", "thread", "--queue", "16"}},
        Case{"process", {"--mode", "process"}},
        Case{"process_small_queue", {"--mode", "process", "--queue", "16"}},
        Case{"hybrid", {"--mode", "hybrid", "--processes", "2", "--threads", "2", "--fibers", "16"}},
        Case{"hybrid_small_queue",
             {"--mode", "hybrid", "--processes", "2", "--threads", "2", "--fibers", "16", "--queue", "16"}}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace crawl
