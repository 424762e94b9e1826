// The testbed's counters, served at /__stats. Each io_context thread counts requests in its own
// shard, so the hot path never contends for a cache line; a /__stats request sums the shards.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "testbed/site.hpp"

namespace crawl::testbed {

class Stats {
 public:
  explicit Stats(int shards);

  // Only the thread owning `shard` calls these.
  void count_request(int shard);
  void count_response(int shard, int status, std::string_view route);
  void count_bytes_sent(int shard, uint64_t bytes);

  // Any thread.
  void connection_opened();
  void connection_closed();
  // A TLS handshake on the HTTPS port: completed in full, resumed from an earlier session, or failed
  // (the client refused the certificate, or spoke no TLS).
  enum class Handshake { kFull, kResumed, kFailed };
  void count_handshake(Handshake outcome);
  std::string to_json() const;
  // Zeroes every counter but connections_open; the peak restarts from the connections open now.
  void reset();

 private:
  static constexpr int kStatuses = 1000;  // every three-digit status /status/CODE sends
  static constexpr int kRoutes = static_cast<int>(kRouteCount);

  struct alignas(64) Shard {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> bytes_sent{0};
    std::atomic<uint64_t> by_status[kStatuses] = {};
    std::atomic<uint64_t> by_route[kRoutes] = {};
  };

  int shard_count_;
  std::unique_ptr<Shard[]> shards_;
  std::atomic<int64_t> connections_open_{0};
  std::atomic<int64_t> connections_peak_{0};
  std::atomic<uint64_t> connections_total_{0};
  std::atomic<uint64_t> tls_full_{0};
  std::atomic<uint64_t> tls_resumed_{0};
  std::atomic<uint64_t> tls_failed_{0};
};

// Per-host counters, served at /__hosts. Each host has its own small lock, so that requests to
// different hosts never wait for each other; sessions keep a pointer to their host's counters, so
// the map of hosts is searched only when a connection names a host it did not name before.
class HostStats {
 public:
  using Clock = std::chrono::steady_clock;
  struct Counters;

  explicit HostStats(Clock::time_point epoch);
  ~HostStats();
  HostStats(const HostStats&) = delete;
  HostStats& operator=(const HostStats&) = delete;

  // The counters of host `name`, created on first use and alive as long as this object. Names the
  // site does not know (`named` false) share one "(other)" entry beyond the first kMaxOtherNames.
  Counters* find(std::string_view name, bool named);
  // A request for the host began at `now` / ended.
  void begin(Counters* counters, Clock::time_point now);
  void end(Counters* counters);

  std::string to_json() const;
  // Zeroes requests and start times; peaks restart from the requests in progress now.
  void reset();

  static constexpr size_t kMaxOtherNames = 256;

 private:
  Clock::time_point epoch_;
  mutable std::shared_mutex mutex_;  // guards the map, not the counters
  std::map<std::string, std::unique_ptr<Counters>, std::less<>> hosts_;
  size_t other_names_ = 0;
};

// How many times each throttled target has been requested, per host (/ratelimit..., /unavailable...).
class ThrottleCounters {
 public:
  // Counts one more request for `target` on `host` and returns how many came before it.
  uint64_t next(std::string_view host, std::string_view target);
  void reset();

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, uint64_t> seen_;
};

}  // namespace crawl::testbed
