// The testbed's counters, served at /__stats. Each io_context thread counts requests in its own
// shard, so the hot path never contends for a cache line; a /__stats request sums the shards.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

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
  std::string to_json() const;
  // Zeroes every counter but connections_open; the peak restarts from the connections open now.
  void reset();

 private:
  static constexpr int kStatuses = 600;
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
};

}  // namespace crawl::testbed
