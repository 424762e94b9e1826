// Transfer against the real testbed: what robots.txt fetches need of it.
#include <gtest/gtest.h>

#include <string>

#include "crawler/errors.hpp"
#include "crawler/fetch.hpp"
#include "crawler/frontier/robots_fetcher.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

Page fetch(const FetchOptions& options, const std::string& url) {
  Transfer transfer(options, nullptr, nullptr);
  transfer.begin(UrlTask{.url = url}, "test");
  return transfer.perform();
}

// RFC 9309 2.5 reads the first 500 KiB of a robots.txt: a body over the limit is cut there and kept,
// with or without Content-Length, where a page over --max-size fails as too_large.
TEST(Transfer, CutsABodyAtTheLimitWhenToldTo) {
  auto testbed = test::Testbed::start();
  FetchOptions options;
  options.max_body_bytes = kMaxRobotsBytes;
  for (const char* route : {"/big/700000", "/big-chunked/700000"}) {
    const auto failed = fetch(options, testbed.url(route));
    EXPECT_EQ(failed.record.error, category::kTooLarge) << route;
    EXPECT_FALSE(failed.body_kept) << route;
    options.cut_at_max_body = true;
    const auto cut = fetch(options, testbed.url(route));
    EXPECT_EQ(cut.record.error, "") << route << ": " << cut.record.error_message;
    EXPECT_EQ(cut.record.status, 200) << route;
    EXPECT_TRUE(cut.body_kept) << route;
    EXPECT_EQ(cut.body.size(), static_cast<size_t>(kMaxRobotsBytes)) << route;
    EXPECT_EQ(cut.record.body_bytes, kMaxRobotsBytes) << route;
    options.cut_at_max_body = false;
  }
  // Under the limit, nothing changes.
  options.cut_at_max_body = true;
  const auto small = fetch(options, testbed.url("/big/1000"));
  EXPECT_EQ(small.record.error, "");
  EXPECT_EQ(small.body.size(), 1000u);
}

}  // namespace
}  // namespace crawl
