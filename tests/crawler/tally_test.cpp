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
  missing.error = ErrorCategory::http_4xx;
  storage::PageRecord dup;
  dup.error = ErrorCategory::duplicate;
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
  EXPECT_EQ(s.count(ErrorCategory::http_4xx), 1);
  EXPECT_EQ(s.count(ErrorCategory::duplicate), 1);
  EXPECT_EQ(s.bytes_wire, 300);
  EXPECT_EQ(s.bytes_body, 900);
  EXPECT_EQ(t.done(), 4);
  EXPECT_EQ(t.failed(), 1);
}

TEST(Tally, CountsConnectionsPerHostAndHandshakes) {
  Tally t;
  auto page = [](std::string url, int opened, int full, int resumed) {
    storage::PageRecord r;
    r.url = std::move(url);
    r.fetched_at = 1;
    r.connections = {.opened = opened, .tls_full = full, .tls_resumed = resumed};
    return r;
  };
  t.add(page("https://a.test/1", 1, 1, 0));
  t.add(page("https://a.test/2", 0, 0, 0));  // on the connection of the first
  t.add(page("https://a.test/3?x", 1, 0, 1));
  t.add(page("https://a.test:8443/", 1, 1, 0));     // another port: another origin
  t.add(page("http://localhost@b.test", 2, 0, 0));  // user info is not the host
  auto s = t.snapshot();
  EXPECT_EQ(s.connections, 5);
  EXPECT_EQ(s.tls_full, 2);
  EXPECT_EQ(s.tls_resumed, 1);
  EXPECT_EQ(s.connected_hosts, 3);
  EXPECT_EQ(s.max_host_connections, 2);
}

// Times are given, not measured: 99 pages done within 2 s, one that took until 90 s.
TEST(Tally, TailTellsTheFewLatePagesFromTheRest) {
  Tally t;
  storage::PageRecord page;
  page.fetched_at = 1;
  for (int i = 1; i <= 99; ++i) t.add(page, 0.02 * i);
  t.add(page, 90.0);
  storage::PageRecord unfetched;  // a bad line: no time of its own to count
  unfetched.error = ErrorCategory::bad_url;
  t.add(unfetched, 89.0);
  const CrawlTail tail = t.tail(90.0);
  EXPECT_EQ(tail.late, 1);
  EXPECT_NEAR(tail.bulk_s, 1.98, 0.02);
}

TEST(Tally, NoTailWhenPagesFinishedEvenly) {
  Tally t;
  storage::PageRecord page;
  page.fetched_at = 1;
  for (int i = 1; i <= 100; ++i) t.add(page, 0.1 * i);
  const CrawlTail tail = t.tail(10.0);
  EXPECT_EQ(tail.late, 50);
  EXPECT_NEAR(tail.bulk_s, 5.0, 0.05);
}

TEST(CategoryForStatus, SplitsClientAndServerErrors) {
  EXPECT_EQ(category_for_status(200), ErrorCategory::none);
  EXPECT_EQ(category_for_status(301), ErrorCategory::none);
  EXPECT_EQ(category_for_status(404), ErrorCategory::http_4xx);
  EXPECT_EQ(category_for_status(503), ErrorCategory::http_5xx);
}

}  // namespace
}  // namespace crawl
