// Transfer against the real testbed: what robots.txt fetches need of it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "crawler/errors.hpp"
#include "crawler/fetch.hpp"
#include "crawler/frontier/robots_fetcher.hpp"
#include "testbed/site.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

Page fetch(const FetchOptions& options, const std::string& url) {
  Transfer transfer(options, nullptr, nullptr);
  transfer.begin(UrlTask{.url = url}, "test");
  return transfer.finish(transfer.perform());
}

// RFC 9309 2.5 reads the first 500 KiB of a robots.txt: a body over the limit is cut there and kept,
// with or without Content-Length, where a page over --max-size fails as too_large.
TEST(Transfer, CutsABodyAtTheLimitWhenToldTo) {
  auto testbed = test::Testbed::start();
  FetchOptions options;
  options.max_body_bytes = kMaxRobotsBytes;
  for (const char* route : {"/big/700000", "/big-chunked/700000"}) {
    const auto failed = fetch(options, testbed.url(route));
    EXPECT_EQ(failed.record.error, ErrorCategory::too_large) << route;
    EXPECT_FALSE(failed.body_kept) << route;
    // What was taken before the limit, never more (the chunk that crossed it once counted whole).
    EXPECT_LE(failed.record.body_bytes, kMaxRobotsBytes) << route;
    options.cut_at_max_body = true;
    const auto cut = fetch(options, testbed.url(route));
    EXPECT_EQ(cut.record.error, ErrorCategory::none) << route << ": " << cut.record.error_message;
    EXPECT_EQ(cut.record.status, 200) << route;
    EXPECT_TRUE(cut.body_kept) << route;
    EXPECT_EQ(cut.body.size(), static_cast<size_t>(kMaxRobotsBytes)) << route;
    EXPECT_EQ(cut.record.body_bytes, kMaxRobotsBytes) << route;
    options.cut_at_max_body = false;
  }
  // Under the limit, nothing changes.
  options.cut_at_max_body = true;
  const auto small = fetch(options, testbed.url("/big/1000"));
  EXPECT_EQ(small.record.error, ErrorCategory::none);
  EXPECT_EQ(small.body.size(), 1000u);
}

// Bodies are decoded by crawl, not libcurl: a gzip stream is whole only when it reaches its end.
TEST(Transfer, DecodesGzipAndRefusesAStreamThatStopsBeforeItsEnd) {
  auto testbed = test::Testbed::start();
  FetchOptions options;
  options.keep_body = true;
  const auto plain = fetch(options, testbed.url("/page/7"));
  const auto gzipped = fetch(options, testbed.url("/gzip/7"));
  ASSERT_EQ(gzipped.record.error, ErrorCategory::none) << gzipped.record.error_message;
  EXPECT_EQ(gzipped.body, plain.body);
  EXPECT_EQ(gzipped.record.body_bytes, plain.record.body_bytes);
  EXPECT_LT(gzipped.record.wire_bytes, gzipped.record.body_bytes);
  EXPECT_EQ(gzipped.record.body_hash, plain.record.body_hash);

  // libcurl 7.88 took this for a whole page of half the size, and hashed it.
  const auto cut = fetch(options, testbed.url("/gzip-cut/7"));
  EXPECT_EQ(cut.record.error, ErrorCategory::decode);
  EXPECT_EQ(cut.record.status, 200);
  EXPECT_TRUE(
      cut.record.error_message.starts_with("the gzip stream stops before its end: the body was cut short ("))
      << cut.record.error_message;
  EXPECT_EQ(cut.record.body_hash, "");
  EXPECT_FALSE(cut.body_kept);

  const auto bad = fetch(options, testbed.url("/gzip-bad"));
  EXPECT_EQ(bad.record.error, ErrorCategory::decode);
  EXPECT_EQ(bad.record.error_message, "invalid gzip data: invalid block type");

  // --max-size counts decoded bytes: the compressed page is smaller than the limit, the page is not.
  options.max_body_bytes = plain.record.body_bytes - 1;
  ASSERT_LT(gzipped.record.wire_bytes, options.max_body_bytes);
  const auto over = fetch(options, testbed.url("/gzip/7"));
  EXPECT_EQ(over.record.error, ErrorCategory::too_large);
  EXPECT_LE(over.record.body_bytes, options.max_body_bytes);
  // ... and only decoded bytes: random bytes grow in gzip, and a Content-Length over the limit does
  // not make a body that decodes within it too large.
  const int64_t random_bytes = static_cast<int64_t>(testbed::page_body_bytes(7));
  options.max_body_bytes = random_bytes;
  const auto grown = fetch(options, testbed.url("/gzip-bin/7"));
  EXPECT_EQ(grown.record.error, ErrorCategory::none) << grown.record.error_message;
  EXPECT_EQ(grown.record.body_bytes, random_bytes);
  EXPECT_GT(grown.record.wire_bytes, random_bytes);
  options.max_body_bytes = random_bytes - 1;
  EXPECT_EQ(fetch(options, testbed.url("/gzip-bin/7")).record.error, ErrorCategory::too_large);
  // A body as sent whose Content-Length is over the limit is refused before it arrives.
  const auto announced = fetch(options, testbed.url("/bin/7"));
  EXPECT_EQ(announced.record.error, ErrorCategory::too_large);
  EXPECT_EQ(announced.record.body_bytes, 0);

  // An empty Content-Encoding names no coding (libcurl gives its value as "\r").
  options.max_body_bytes = 10 << 20;
  const auto unlabelled = fetch(options, testbed.url("/empty-encoding/7"));
  EXPECT_EQ(unlabelled.record.error, ErrorCategory::none) << unlabelled.record.error_message;
  EXPECT_EQ(unlabelled.body, plain.body);

  // Cut at the limit on purpose (robots.txt), a stream left unfinished is what was asked for.
  options.max_body_bytes = plain.record.body_bytes - 1;
  options.cut_at_max_body = true;
  const auto limited = fetch(options, testbed.url("/gzip/7"));
  EXPECT_EQ(limited.record.error, ErrorCategory::none) << limited.record.error_message;
  EXPECT_EQ(limited.body, plain.body.substr(0, static_cast<size_t>(options.max_body_bytes)));
}

// robots.txt through the fetcher, from the real testbed: its rules, and a missing one allows all.
TEST(RobotsFetcher, FetchesAndReadsEachOriginsRobotsTxt) {
  auto testbed = test::Testbed::start();
  std::atomic<bool> stop{false};
  ManualTime time;
  RobotsFetcher fetcher(FetchOptions{}, stop, time);
  fetcher.fetch(testbed.base_url());
  fetcher.fetch("http://127.0.0.1:1");  // nothing listens: disallow all
  std::vector<RobotsFetcher::Known> known;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (known.size() < 2 && std::chrono::steady_clock::now() < until)
    for (auto& k : fetcher.poll(std::chrono::milliseconds(100))) known.push_back(std::move(k));
  ASSERT_EQ(known.size(), 2u);
  for (const auto& k : known) {
    if (k.origin == testbed.base_url()) {
      EXPECT_FALSE(k.robots.allowed("/private/1"));
      EXPECT_TRUE(k.robots.allowed("/page/1"));
    } else {
      EXPECT_FALSE(k.robots.allowed("/page/1"));
    }
  }
}

// The frontier sleeps in poll() and is woken for its work: with no robots.txt under way poll()
// waits on a condition variable, with one in libcurl's curl_multi_poll. A wake() must end either
// sleep at once, and one that comes before the sleep must end it too. (The bounds are far above
// a wake-up's time and far below what a lost wake-up costs: the poll's 60 s, or, with the
// transfer under way, the testbed's answer at 30 s.)
TEST(RobotsFetcher, AWakeEndsAPollWhetherOrNotATransferIsUnderWay) {
  auto testbed = test::Testbed::start();
  std::atomic<bool> stop{false};
  ManualTime time;
  // No timer of libcurl's may end a poll first (with the default 10 s connect timeout, a poll
  // not woken ended after 10 s all the same).
  FetchOptions options;
  options.timeout = std::chrono::seconds(120);
  options.connect_timeout = std::chrono::seconds(120);
  RobotsFetcher fetcher(options, stop, time);
  using Clock = std::chrono::steady_clock;
  const auto kLong = std::chrono::seconds(60);
  const auto kPrompt = std::chrono::seconds(20);
  auto poll_after_wake = [&](std::chrono::milliseconds wake_after) {
    const auto start = Clock::now();
    std::thread waker;
    if (wake_after.count() == 0)
      fetcher.wake();
    else
      waker = std::thread([&] {
        std::this_thread::sleep_for(wake_after);
        fetcher.wake();
      });
    fetcher.poll(std::chrono::duration_cast<std::chrono::milliseconds>(kLong));
    if (waker.joinable()) waker.join();
    return Clock::now() - start;
  };
  // Nothing under way: woken before the poll, then while it sleeps.
  EXPECT_LT(poll_after_wake(std::chrono::milliseconds(0)), kPrompt);
  EXPECT_LT(poll_after_wake(std::chrono::milliseconds(200)), kPrompt);
  // The testbed answers this robots.txt only after 30 s: the transfer stays under way. Once
  // connected and sent, libcurl has nothing to do until then (a poll lasts its whole timeout), so a
  // poll that ends early below was ended by the wake-up.
  fetcher.fetch(testbed.base_url() + "/delay/30000");
  bool idle = false;
  for (int i = 0; i < 50 && !idle; ++i) {
    const auto start = Clock::now();
    fetcher.poll(std::chrono::milliseconds(300));
    idle = Clock::now() - start >= std::chrono::milliseconds(250);
  }
  ASSERT_TRUE(idle) << "the robots.txt transfer never went quiet";
  EXPECT_LT(poll_after_wake(std::chrono::milliseconds(0)), kPrompt);
  EXPECT_LT(poll_after_wake(std::chrono::milliseconds(200)), kPrompt);
  stop = true;
}

TEST(RobotsFetcher, MatchesGroupsAgainstTheUserAgentSent) {
  EXPECT_EQ(user_agent_sent({}, "crawl/1"), "crawl/1");
  EXPECT_EQ(user_agent_sent({"Accept: x", "user-AGENT:  MyBot/2"}, "crawl/1"), "MyBot/2");
  EXPECT_EQ(user_agent_sent({"User-Agent: a", "User-Agent: b"}, "crawl/1"), "b");
  EXPECT_EQ(user_agent_sent({"User-Agents: a"}, "crawl/1"), "crawl/1");
}

}  // namespace
}  // namespace crawl
