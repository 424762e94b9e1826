#include "crawler/tally.hpp"

#include <algorithm>
#include <cmath>

#include "crawler/errors.hpp"

namespace crawl {
namespace {
const double kLogStep = std::log(1.01);

// "host:port" of a normalised URL ("https://h1.localhost:8443/x" -> "h1.localhost:8443").
std::string_view authority_of(std::string_view url) {
  const size_t start = url.find("://");
  if (start == std::string_view::npos) return {};
  url.remove_prefix(start + 3);
  const size_t end = url.find_first_of("/?#");
  url = url.substr(0, end);
  if (const size_t at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  return url;
}
}  // namespace

void LatencyHistogram::add(double ms) {
  const double us = std::max(1.0, ms * 1000.0);
  int bucket = static_cast<int>(std::log(us) / kLogStep);
  bucket = std::clamp(bucket, 0, kBuckets - 1);
  ++buckets_[static_cast<size_t>(bucket)];
  ++count_;
}

double LatencyHistogram::percentile(double fraction) const {
  if (count_ == 0) return 0;
  const auto rank = static_cast<int64_t>(std::ceil(fraction * static_cast<double>(count_)));
  int64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[static_cast<size_t>(i)];
    if (seen >= std::max<int64_t>(rank, 1)) return std::exp((i + 0.5) * kLogStep) / 1000.0;
  }
  return std::exp(kBuckets * kLogStep) / 1000.0;
}

std::pair<int64_t, double> LatencyHistogram::at_most(double ms) const {
  const double us = std::max(1.0, ms * 1000.0);
  const int last = std::clamp(static_cast<int>(std::log(us) / kLogStep), 0, kBuckets - 1);
  int64_t n = 0;
  double largest = 0;
  for (int i = 0; i <= last; ++i) {
    if (buckets_[static_cast<size_t>(i)] == 0) continue;
    n += buckets_[static_cast<size_t>(i)];
    largest = std::min(ms, std::exp((i + 0.5) * kLogStep) / 1000.0);
  }
  return {n, largest};
}

void Tally::add(const storage::PageRecord& r) {
  add(r, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
}

void Tally::add(const storage::PageRecord& r, double finished_s) {
  const bool failed = is_failure(r.error);
  {
    std::lock_guard lock(mutex_);
    ++totals_.urls;
    if (r.error == ErrorCategory::none)
      ++totals_.ok;
    else if (failed)
      ++totals_.failed;
    else
      ++totals_.skipped;
    if (r.error != ErrorCategory::none) ++totals_.by_category[static_cast<size_t>(r.error)];
    if (r.fetched_at > 0 && !cuts_fetch_short(r.error)) {
      ++totals_.fetched;
      latency_.add(r.timings.total_ms);
      finished_.add(finished_s * 1000.0);
    }
    totals_.bytes_wire += r.wire_bytes;
    totals_.bytes_body += r.body_bytes;
    if (r.connections.opened > 0) {
      totals_.connections += r.connections.opened;
      totals_.tls_full += r.connections.tls_full;
      totals_.tls_resumed += r.connections.tls_resumed;
      // Counted under the host the fetch began with (a redirect may have gone elsewhere).
      int64_t& n = host_connections_[std::string(authority_of(r.url))];
      if (n == 0) ++totals_.connected_hosts;
      n += r.connections.opened;
      totals_.max_host_connections = std::max(totals_.max_host_connections, n);
    }
  }
  done_.fetch_add(1, std::memory_order_relaxed);
  if (failed) failed_.fetch_add(1, std::memory_order_relaxed);
}

TallySnapshot Tally::snapshot() const {
  std::lock_guard lock(mutex_);
  TallySnapshot s = totals_;
  s.p50_ms = latency_.percentile(0.50);
  s.p90_ms = latency_.percentile(0.90);
  s.p99_ms = latency_.percentile(0.99);
  return s;
}

CrawlTail Tally::tail(double crawl_s) const {
  std::lock_guard lock(mutex_);
  const auto [early, last_early_ms] = finished_.at_most(crawl_s * 1000.0 / 2);
  return {.late = finished_.count() - early, .bulk_s = last_early_ms / 1000.0};
}

}  // namespace crawl
