#include "crawler/frontier/retry_policy.hpp"

#include <algorithm>

#include "crawler/errors.hpp"

namespace crawl {

using std::chrono::milliseconds;

FetchOutcome FetchOutcome::of(const storage::PageRecord& r, int64_t retry_after_s) {
  // Only what retries tell apart is kept.
  ErrorCategory error = r.error;
  if (error != ErrorCategory::none && error != ErrorCategory::connect && error != ErrorCategory::timeout &&
      error != ErrorCategory::reset)
    error = ErrorCategory::other;
  return {.error = error, .status = r.status, .attempts = r.attempts, .retry_after_s = retry_after_s};
}

// The statuses are those curl's --retry retries (408, 429, 500, 502, 503, 504). curl retries
// timeouts too, but not refused connections (only with --retry-connrefused) nor resets; a crawler
// meets both from hosts that are briefly overloaded or restarting, and a reused keep-alive
// connection the server has just closed, so they are retried as well. Any other failure (a
// malformed response, one over the limits, a status outside HTTP's) would come back the same
// unless the status says the server is in trouble.
bool is_transient(const FetchOutcome& o) {
  if (o.error == ErrorCategory::connect || o.error == ErrorCategory::timeout ||
      o.error == ErrorCategory::reset)
    return true;
  return o.status == 408 || o.status == 429 || o.status == 500 || o.status == 502 || o.status == 503 ||
         o.status == 504;
}

// A URL that times out or is reset says little about its host, so those only retry the URL.
bool host_in_trouble(const FetchOutcome& o) {
  return o.error == ErrorCategory::connect || o.status == 429 || o.status == 503;
}

std::optional<TimePoint> RetryPolicy::server_asked_until(const FetchOutcome& o, TimePoint now) const {
  if (o.retry_after_s < 0 || !is_transient(o)) return std::nullopt;
  return now + std::min<milliseconds>(max_wait_, milliseconds(o.retry_after_s * 1000));
}

TimePoint RetryPolicy::retry_at(const FetchOutcome& o, TimePoint now, std::mt19937_64& random) const {
  if (auto asked = server_asked_until(o, now)) return *asked;
  const int exponent = std::clamp(o.attempts - 1, 0, 16);
  const auto base = std::min<milliseconds>(max_wait_, base_ * (1 << exponent));
  std::uniform_real_distribution<double> spread(0.5, 1.5);
  return now + std::chrono::duration_cast<milliseconds>(base * spread(random));
}

milliseconds RetryPolicy::host_backoff(int rounds) const {
  return std::min<milliseconds>(max_wait_, base_ * (1 << std::clamp(rounds, 0, 16)));
}

}  // namespace crawl
