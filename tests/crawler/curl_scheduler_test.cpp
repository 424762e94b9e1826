// The fiber scheduler on its own, against the real testbed: fibers that fetch suspend only
// themselves, a stop ends every transfer in flight, and a Transfer reused for the next URL keeps its
// connection but none of the last URL's outcome.
#include "crawler/curl_scheduler.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/fiber/all.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "crawler/fetch.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

struct Fetched {
  int code = -1;
  Page page;
};

// Runs `urls` in one fiber each on a thread of its own whose scheduler is a CurlScheduler, and
// returns what each fetch ended with. `most_in_flight` receives how many fibers were inside
// perform() at once.
std::vector<Fetched> fetch_in_fibers(const std::vector<std::string>& urls, const std::atomic<bool>& stop,
                                     std::atomic<CurlScheduler*>& installed, int& most_in_flight) {
  std::vector<Fetched> results(urls.size());
  std::thread thread([&] {
    CurlScheduler* scheduler = nullptr;
    boost::fibers::use_scheduling_algorithm<CurlScheduler>(&scheduler, &stop, 0L);
    installed.store(scheduler);
    const FetchOptions options;
    int in_flight = 0;
    std::vector<boost::fibers::fiber> fibers;
    for (size_t i = 0; i < urls.size(); ++i)
      fibers.emplace_back([&, i] {
        Transfer transfer(options, nullptr, nullptr);
        transfer.begin(UrlTask{.url = urls[i]}, "test");
        most_in_flight = std::max(most_in_flight, ++in_flight);
        results[i].code = scheduler->perform(transfer.easy(), "");
        --in_flight;
        results[i].page = transfer.finish(results[i].code);
      });
    for (auto& f : fibers) f.join();
  });
  thread.join();
  return results;
}

TEST(CurlScheduler, AFetchSuspendsOnlyItsFiber) {
  auto testbed = test::Testbed::start();
  std::vector<std::string> urls;
  for (int i = 0; i < 20; ++i) urls.push_back(testbed.url("/delay/200/page/" + std::to_string(i)));
  const std::atomic<bool> stop{false};
  std::atomic<CurlScheduler*> scheduler{nullptr};
  int most_in_flight = 0;
  const auto results = fetch_in_fibers(urls, stop, scheduler, most_in_flight);
  // A perform() that blocked its thread would let only one fiber in at a time.
  EXPECT_EQ(most_in_flight, 20);
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].code, CURLE_OK) << urls[i];
    EXPECT_EQ(results[i].page.record.status, 200) << urls[i];
    EXPECT_EQ(results[i].page.record.error, ErrorCategory::none) << urls[i];
    EXPECT_EQ(results[i].page.record.url, urls[i]);
    EXPECT_GT(results[i].page.record.body_bytes, 0) << urls[i];
  }
  // Their fetches overlapped at the server too: one connection each, all open at once.
  EXPECT_GE(testbed.stats().value("connections_peak", 0), 20);
}

TEST(CurlScheduler, AStopEndsEveryTransferInFlight) {
  auto testbed = test::Testbed::start();
  std::vector<std::string> urls;
  for (int i = 0; i < 10; ++i) urls.push_back(testbed.url("/delay/60000/page/" + std::to_string(i)));
  std::atomic<bool> stop{false};
  std::atomic<CurlScheduler*> scheduler{nullptr};
  // Stops once the transfers are in flight (or, on a slow machine, before they start: then each
  // perform() refuses at once, which ends the same way).
  std::thread stopper([&] {
    while (!scheduler.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop.store(true);
    scheduler.load()->notify();
  });
  int most_in_flight = 0;
  const auto results = fetch_in_fibers(urls, stop, scheduler, most_in_flight);
  stopper.join();
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].code, CURLE_ABORTED_BY_CALLBACK) << urls[i];
    EXPECT_EQ(results[i].page.record.error, ErrorCategory::interrupted) << urls[i];
    EXPECT_EQ(results[i].page.record.status, 0) << urls[i];
  }
}

TEST(Transfer, AReusedTransferKeepsItsConnectionButNotTheLastOutcome) {
  auto testbed = test::Testbed::start();
  const FetchOptions options;
  Transfer transfer(options, nullptr, nullptr);
  transfer.begin(UrlTask{.url = testbed.url("/status/404")}, "test");
  const Page missing = transfer.perform();
  EXPECT_EQ(missing.record.error, ErrorCategory::http_4xx);
  EXPECT_EQ(missing.record.status, 404);
  EXPECT_EQ(missing.record.connections.opened, 1);

  transfer.begin(UrlTask{.url = testbed.url("/page/3")}, "test");
  const Page found = transfer.perform();
  EXPECT_EQ(found.record.error, ErrorCategory::none) << found.record.error_message;
  EXPECT_EQ(found.record.error_message, "");
  EXPECT_EQ(found.record.status, 200);
  EXPECT_EQ(found.record.url, testbed.url("/page/3"));
  EXPECT_EQ(found.record.connections.opened, 0);  // the first fetch's connection, kept alive
  EXPECT_TRUE(found.body_kept);
  EXPECT_EQ(found.record.body_bytes, static_cast<int64_t>(found.body.size()));
}

}  // namespace
}  // namespace crawl
