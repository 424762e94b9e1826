#include "testbed/stats.hpp"

#include <nlohmann/json.hpp>

#include "testbed/site.hpp"

namespace crawl::testbed {
namespace {

int route_index(std::string_view route) {
  for (size_t i = 0; i + 1 < kRouteCount; ++i)
    if (kRouteNames[i] == route) return static_cast<int>(i);
  return static_cast<int>(kRouteCount) - 1;
}

constexpr auto kRelaxed = std::memory_order_relaxed;

}  // namespace

Stats::Stats(int shards) : shard_count_(shards), shards_(std::make_unique<Shard[]>(shards)) {}

void Stats::count_request(int shard) {
  shards_[shard].requests.fetch_add(1, kRelaxed);
}

void Stats::count_response(int shard, int status, std::string_view route) {
  Shard& s = shards_[shard];
  if (status > 0 && status < kStatuses) s.by_status[status].fetch_add(1, kRelaxed);
  s.by_route[route_index(route)].fetch_add(1, kRelaxed);
}

void Stats::count_bytes_sent(int shard, uint64_t bytes) {
  shards_[shard].bytes_sent.fetch_add(bytes, kRelaxed);
}

void Stats::connection_opened() {
  connections_total_.fetch_add(1, kRelaxed);
  const int64_t open = connections_open_.fetch_add(1, kRelaxed) + 1;
  int64_t peak = connections_peak_.load(kRelaxed);
  while (open > peak && !connections_peak_.compare_exchange_weak(peak, open, kRelaxed)) {
  }
}

void Stats::connection_closed() {
  connections_open_.fetch_sub(1, kRelaxed);
}

std::string Stats::to_json() const {
  uint64_t requests = 0, bytes_sent = 0;
  uint64_t by_status[kStatuses] = {};
  uint64_t by_route[kRoutes] = {};
  for (int i = 0; i < shard_count_; ++i) {
    const Shard& s = shards_[i];
    requests += s.requests.load(kRelaxed);
    bytes_sent += s.bytes_sent.load(kRelaxed);
    for (int code = 0; code < kStatuses; ++code) by_status[code] += s.by_status[code].load(kRelaxed);
    for (int r = 0; r < kRoutes; ++r) by_route[r] += s.by_route[r].load(kRelaxed);
  }
  nlohmann::json statuses = nlohmann::json::object();
  for (int code = 0; code < kStatuses; ++code)
    if (by_status[code]) statuses[std::to_string(code)] = by_status[code];
  nlohmann::json routes = nlohmann::json::object();
  for (int r = 0; r < kRoutes; ++r)
    if (by_route[r]) routes[std::string(kRouteNames[r])] = by_route[r];
  nlohmann::json out = {
      {"requests", requests},
      {"by_status", statuses},
      {"responses_by_target_prefix", routes},
      {"connections_open", connections_open_.load(kRelaxed)},
      {"connections_peak", connections_peak_.load(kRelaxed)},
      {"connections_total", connections_total_.load(kRelaxed)},
      {"bytes_sent", bytes_sent},
  };
  return out.dump();
}

void Stats::reset() {
  for (int i = 0; i < shard_count_; ++i) {
    Shard& s = shards_[i];
    s.requests.store(0, kRelaxed);
    s.bytes_sent.store(0, kRelaxed);
    for (auto& c : s.by_status) c.store(0, kRelaxed);
    for (auto& c : s.by_route) c.store(0, kRelaxed);
  }
  connections_total_.store(0, kRelaxed);
  connections_peak_.store(connections_open_.load(kRelaxed), kRelaxed);
}

}  // namespace crawl::testbed
