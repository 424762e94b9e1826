#include "common/open_files.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace crawl {
namespace {

TEST(OpenFiles, RaisesTheSoftLimitToTheHardOneAndReportsIt) {
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &before), 0);
  // Start below the hard limit, as a default shell does (1,024 under a higher hard limit).
  if (before.rlim_max > 256 && before.rlim_cur > 256) {
    rlimit lowered = before;
    lowered.rlim_cur = 256;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  }
  const std::optional<uint64_t> limit = raise_open_files_limit();
  rlimit after{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &after), 0);
  ASSERT_TRUE(limit.has_value());
  EXPECT_EQ(after.rlim_cur, after.rlim_max);
  if (after.rlim_cur == RLIM_INFINITY)
    EXPECT_EQ(*limit, kUnlimitedOpenFiles);
  else
    EXPECT_EQ(*limit, static_cast<uint64_t>(after.rlim_cur));
}

}  // namespace
}  // namespace crawl
