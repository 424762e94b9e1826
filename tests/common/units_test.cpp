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

// strtod would take these, and 1e17 s overflowed into no wait at all.
TEST(ParseDuration, TakesOnlyPlainDecimalNumbersUpToThirtyDays) {
  for (const char* text : {"", " 5s", "0x10", "1e3", "1e17", "inf", "nan", "1.2.3s", ".", "+5s"})
    EXPECT_THROW(parse_duration(text, "--delay"), UsageError) << text;
  EXPECT_EQ(parse_duration(".5", "--x"), milliseconds(500));
  EXPECT_EQ(parse_duration("43200m", "--x"), milliseconds(30LL * 24 * 3600 * 1000));
  try {
    parse_duration("99999999999999999999", "--delay");
    ADD_FAILURE() << "a duration past any clock was taken";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--delay: '99999999999999999999' is too long (at most 30 days)"),
              std::string::npos)
        << e.what();
  }
}

TEST(ParseSize, TakesOnlyPlainDecimalNumbers) {
  for (const char* text : {"", " 5k", "0x10", "1e3", "inf", "1.2.3k"})
    EXPECT_THROW(parse_size(text, "--max-size"), UsageError) << text;
  EXPECT_EQ(parse_size("1.5k", "--x"), 1536);
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
