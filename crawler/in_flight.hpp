// The fetches under way, for the progress line: how many, and which has been under way longest,
// the one a crawl in which nothing finishes is waiting for. Fibers, producer threads and the worker
// pool begin and end fetches from their threads; the progress line reads from its own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace crawl {

class InFlight {
 public:
  // A fetch of the task `seq` (one at a time per seq: a retry begins after its attempt ended).
  void begin(int64_t seq, std::string_view url);
  void end(int64_t seq);
  int64_t count() const { return count_.load(std::memory_order_relaxed); }

  struct Oldest {
    std::string url;
    double seconds = 0;  // under way for
  };
  // Found by a look at every fetch under way (at most the concurrency): asked for only when the
  // crawl seems stuck, never per fetch.
  std::optional<Oldest> oldest(std::chrono::steady_clock::time_point now) const;

 private:
  struct Fetch {
    std::chrono::steady_clock::time_point since;
    std::string url;
  };
  mutable std::mutex mutex_;
  std::unordered_map<int64_t, Fetch> fetches_;
  std::atomic<int64_t> count_{0};
};

}  // namespace crawl
