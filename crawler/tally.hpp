// Running totals of a crawl: counts by category, bytes, and a latency histogram with bounded memory
// (log buckets 1% wide), fed by the consumers and read by the progress line and the summary.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "common/error_category.hpp"
#include "storage/records.hpp"

namespace crawl {

class LatencyHistogram {
 public:
  void add(double ms);
  // The value below which `fraction` (0..1) of the samples lie, to within 1%; 0 when empty.
  double percentile(double fraction) const;
  // How many samples lie at or below `ms`, and the largest of them (each to within 1%).
  std::pair<int64_t, double> at_most(double ms) const;
  int64_t count() const { return count_; }

 private:
  static constexpr int kBuckets = 2400;  // 1.01^2400 µs ≈ 23 hours
  std::array<int64_t, kBuckets> buckets_{};
  int64_t count_ = 0;
};

struct TallySnapshot {
  int64_t urls = 0;
  int64_t ok = 0;
  int64_t failed = 0;
  int64_t skipped = 0;
  int64_t fetched = 0;  // pages that went to the network (ok or not)
  int64_t bytes_wire = 0;
  int64_t bytes_body = 0;
  std::array<int64_t, kErrorCategories> by_category{};  // rows per category, indexed by ErrorCategory

  int64_t count(ErrorCategory category) const { return by_category[static_cast<size_t>(category)]; }
  int64_t connections = 0;  // opened by page fetches
  int64_t tls_full = 0;     // full TLS handshakes on them
  int64_t tls_resumed = 0;  // resumed ones
  int64_t connected_hosts = 0;
  int64_t max_host_connections = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0;
};

// The fetched pages that finished in the second half of a crawl, and when the last one before them
// finished. When a few slow or retried URLs hold a run long after the rest were done, the mean rate
// says little about how fast the others went; this says both.
struct CrawlTail {
  int64_t late = 0;   // fetched pages that finished after half the crawl's time
  double bulk_s = 0;  // when the last fetched page before them finished, in seconds from the start
};

class Tally {
 public:
  // Records a page that finished now; `finished_s` (seconds since the tally was made) says when.
  void add(const storage::PageRecord& record);
  void add(const storage::PageRecord& record, double finished_s);
  TallySnapshot snapshot() const;
  CrawlTail tail(double crawl_s) const;
  int64_t done() const { return done_.load(std::memory_order_relaxed); }
  int64_t failed() const { return failed_.load(std::memory_order_relaxed); }

 private:
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  mutable std::mutex mutex_;
  TallySnapshot totals_;
  LatencyHistogram latency_;
  // Connections opened per host (only hosts with at least one): how well connections were reused.
  std::unordered_map<std::string, int64_t> host_connections_;
  LatencyHistogram finished_;  // when each fetched page finished, in ms since start_ (bounded memory)
  std::atomic<int64_t> done_{0};
  std::atomic<int64_t> failed_{0};
};

}  // namespace crawl
