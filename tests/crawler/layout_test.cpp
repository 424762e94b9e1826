#include <gtest/gtest.h>

#include "common/usage_error.hpp"
#include "crawler/run.hpp"

namespace crawl {
namespace {

TEST(MakeLayout, ModesArePresetsOfTheLayout) {
  auto f = make_layout(Mode::fiber, 500, 1, 1, 1);
  EXPECT_EQ(f.processes * 100 + f.threads * 10, 110);
  EXPECT_EQ(f.fibers, 500);
  auto t = make_layout(Mode::thread, 64, 1, 1, 1);
  EXPECT_EQ(t.threads, 64);
  EXPECT_EQ(t.fibers, 1);
  auto p = make_layout(Mode::process, 8, 1, 1, 1);
  EXPECT_EQ(p.processes, 8);
  EXPECT_EQ(make_layout(Mode::fiber, std::nullopt, 1, 1, 1).concurrency(), 64);
}

TEST(MakeLayout, HybridTakesTheProductAndRefusesADisagreeingConcurrency) {
  auto h = make_layout(Mode::hybrid, std::nullopt, 2, 2, 250);
  EXPECT_EQ(h.concurrency(), 1000);
  EXPECT_EQ(make_layout(Mode::hybrid, 1000, 2, 2, 250).concurrency(), 1000);
  EXPECT_THROW(make_layout(Mode::hybrid, 100, 2, 2, 250), UsageError);
  EXPECT_THROW(make_layout(Mode::hybrid, std::nullopt, 0, 2, 250), UsageError);
  EXPECT_THROW(make_layout(Mode::thread, 0, 1, 1, 1), UsageError);
}

}  // namespace
}  // namespace crawl
