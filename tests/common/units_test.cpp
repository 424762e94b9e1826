#include "common/units.hpp"

#include <gtest/gtest.h>

#include "common/usage_error.hpp"

namespace crawl {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsUnitsAndPlainSeconds) {
  EXPECT_EQ(parse_duration("250ms", "--x"), milliseconds(250));
  EXPECT_EQ(parse_duration("30s", "--x"), milliseconds(30'000));
  EXPECT_EQ(parse_duration("1.5", "--x"), milliseconds(1'500));
  EXPECT_EQ(parse_duration("2m", "--x"), milliseconds(120'000));
}

TEST(ParseDuration, RejectsGarbageNamingTheFlag) {
  EXPECT_THROW(parse_duration("soon", "--timeout"), UsageError);
  EXPECT_THROW(parse_duration("-1s", "--timeout"), UsageError);
  EXPECT_THROW(parse_duration("5 parsecs", "--timeout"), UsageError);
  try {
    parse_duration("x", "--timeout");
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--timeout"), std::string::npos);
  }
}

TEST(ParseSize, AcceptsBinarySuffixes) {
  EXPECT_EQ(parse_size("100", "--x"), 100);
  EXPECT_EQ(parse_size("512k", "--x"), 512 * 1024);
  EXPECT_EQ(parse_size("10M", "--x"), 10 * 1024 * 1024);
  EXPECT_EQ(parse_size("1GiB", "--x"), 1024LL * 1024 * 1024);
  EXPECT_THROW(parse_size("lots", "--max-size"), UsageError);
  EXPECT_THROW(parse_size("10Q", "--max-size"), UsageError);
}

}  // namespace
}  // namespace crawl
