// The run's clock: every quarter second it runs the crawl's periodic checks and, with --progress,
// rewrites the progress line on stderr.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "crawler/tally.hpp"

namespace crawl {

// Prints "\r12345 done (12 failed), 64 in flight, 812 pages/s" on stderr until stopped.
class ProgressLine {
 public:
  // `every_tick` runs on the line's thread every tick, shown or not.
  ProgressLine(bool enabled, const Tally& tally, const std::atomic<int64_t>& in_flight,
               std::function<void()> every_tick)
      : tally_(tally), in_flight_(in_flight), every_tick_(std::move(every_tick)), enabled_(enabled) {
    thread_ = std::thread([this] { loop(); });
  }
  ~ProgressLine() { stop(); }
  // Ends the ticks and clears the line; idempotent.
  void stop();

 private:
  void loop();
  const Tally& tally_;
  const std::atomic<int64_t>& in_flight_;
  std::function<void()> every_tick_;
  bool enabled_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace crawl
