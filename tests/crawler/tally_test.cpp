#include "crawler/tally.hpp"

#include <gtest/gtest.h>

#include "crawler/channel.hpp"
#include "crawler/errors.hpp"

namespace crawl {
namespace {

TEST(LatencyHistogram, PercentilesWithinOnePercent) {
  LatencyHistogram h;
  for (int ms = 1; ms <= 1000; ++ms) h.add(ms);
  EXPECT_EQ(h.count(), 1000);
  EXPECT_NEAR(h.percentile(0.50), 500, 5);
  EXPECT_NEAR(h.percentile(0.90), 900, 9);
  EXPECT_NEAR(h.percentile(0.99), 990, 10);
  EXPECT_NEAR(h.percentile(1.0), 1000, 10);
}

TEST(LatencyHistogram, EmptyIsZero) {
  EXPECT_EQ(LatencyHistogram().percentile(0.5), 0);
}

TEST(Tally, CountsOkFailedAndSkippedByCategory) {
  Tally t;
  storage::PageRecord ok;
  ok.fetched_at = 1;
  ok.timings.total_ms = 10;
  ok.wire_bytes = 100;
  ok.body_bytes = 300;
  storage::PageRecord missing = ok;
  missing.error = std::string(category::kHttp4xx);
  storage::PageRecord dup;
  dup.error = std::string(category::kDuplicate);
  t.add(ok);
  t.add(ok);
  t.add(missing);
  t.add(dup);
  auto s = t.snapshot();
  EXPECT_EQ(s.urls, 4);
  EXPECT_EQ(s.ok, 2);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.skipped, 1);
  EXPECT_EQ(s.fetched, 3);
  EXPECT_EQ(s.by_category["http_4xx"], 1);
  EXPECT_EQ(s.by_category["duplicate"], 1);
  EXPECT_EQ(s.bytes_wire, 300);
  EXPECT_EQ(s.bytes_body, 900);
  EXPECT_EQ(t.done(), 4);
  EXPECT_EQ(t.failed(), 1);
}

TEST(ChannelCapacity, HoldsAtLeastTheRequestedItems) {
  EXPECT_EQ(channel_capacity_for(1), 2u);
  EXPECT_EQ(channel_capacity_for(1000), 1024u);
  EXPECT_EQ(channel_capacity_for(1023), 1024u);
  EXPECT_EQ(channel_capacity_for(1024), 2048u);
}

TEST(CategoryForStatus, SplitsClientAndServerErrors) {
  EXPECT_EQ(category_for_status(200), "");
  EXPECT_EQ(category_for_status(301), "");
  EXPECT_EQ(category_for_status(404), "http_4xx");
  EXPECT_EQ(category_for_status(503), "http_5xx");
}

}  // namespace
}  // namespace crawl
