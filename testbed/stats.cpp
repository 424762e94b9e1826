#include "testbed/stats.hpp"

#include <algorithm>
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

void Stats::count_handshake(Handshake outcome) {
  switch (outcome) {
    case Handshake::kFull:
      tls_full_.fetch_add(1, kRelaxed);
      break;
    case Handshake::kResumed:
      tls_resumed_.fetch_add(1, kRelaxed);
      break;
    case Handshake::kFailed:
      tls_failed_.fetch_add(1, kRelaxed);
      break;
  }
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
      {"tls_handshakes_full", tls_full_.load(kRelaxed)},
      {"tls_handshakes_resumed", tls_resumed_.load(kRelaxed)},
      {"tls_handshakes_failed", tls_failed_.load(kRelaxed)},
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
  tls_full_.store(0, kRelaxed);
  tls_resumed_.store(0, kRelaxed);
  tls_failed_.store(0, kRelaxed);
  connections_peak_.store(connections_open_.load(kRelaxed), kRelaxed);
}

struct HostStats::Counters {
  std::mutex mutex;
  uint64_t requests = 0;
  uint64_t in_progress = 0;
  uint64_t peak = 0;
  std::vector<uint32_t> starts_ms;
};

HostStats::HostStats(Clock::time_point epoch) : epoch_(epoch) {}

HostStats::~HostStats() = default;

HostStats::Counters* HostStats::find(std::string_view name, bool named) {
  {
    std::shared_lock lock(mutex_);
    if (auto it = hosts_.find(name); it != hosts_.end()) return it->second.get();
  }
  std::unique_lock lock(mutex_);
  if (auto it = hosts_.find(name); it != hosts_.end()) return it->second.get();
  if (!named) {
    if (other_names_ >= kMaxOtherNames) {
      auto& other = hosts_["(other)"];
      if (!other) other = std::make_unique<Counters>();
      return other.get();
    }
    ++other_names_;
  }
  auto& counters = hosts_[std::string(name)];
  counters = std::make_unique<Counters>();
  return counters.get();
}

void HostStats::begin(Counters* counters, Clock::time_point now) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - epoch_).count();
  std::lock_guard lock(counters->mutex);
  ++counters->requests;
  counters->peak = std::max(counters->peak, ++counters->in_progress);
  if (counters->starts_ms.size() < kMaxStartsPerHost)
    counters->starts_ms.push_back(static_cast<uint32_t>(ms));
}

void HostStats::end(Counters* counters) {
  std::lock_guard lock(counters->mutex);
  --counters->in_progress;
}

std::string HostStats::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  std::shared_lock lock(mutex_);
  for (const auto& [name, counters] : hosts_) {
    std::lock_guard host_lock(counters->mutex);
    if (counters->requests == 0 && counters->in_progress == 0) continue;
    out[name] = {{"requests", counters->requests},
                 {"in_progress", counters->in_progress},
                 {"peak_concurrent", counters->peak},
                 {"starts_ms", counters->starts_ms}};
  }
  return out.dump();
}

void HostStats::reset() {
  std::shared_lock lock(mutex_);
  for (const auto& [name, counters] : hosts_) {
    std::lock_guard host_lock(counters->mutex);
    counters->requests = 0;
    counters->peak = counters->in_progress;
    counters->starts_ms.clear();
    counters->starts_ms.shrink_to_fit();
  }
}

uint64_t ThrottleCounters::next(std::string_view host, std::string_view target) {
  std::string key;
  key.reserve(host.size() + 1 + target.size());
  key += host;
  key += ' ';
  key += target;
  std::lock_guard lock(mutex_);
  return seen_[std::move(key)]++;
}

void ThrottleCounters::reset() {
  std::lock_guard lock(mutex_);
  seen_.clear();
}

}  // namespace crawl::testbed
