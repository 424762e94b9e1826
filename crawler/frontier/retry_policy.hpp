// Which failed fetches are made again, and when; and which failures say that the host itself is in
// trouble, so that all of its URLs wait (HostBackoff). No state but the settings: the producers ask
// whether a page is to be retried on their own threads, without a lock; the frontier picks the time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

#include "crawler/frontier/options.hpp"
#include "crawler/frontier/time_source.hpp"
#include "storage/records.hpp"

namespace crawl {

// What a fetch ended with, as far as retrying goes.
struct FetchOutcome {
  ErrorCategory error = ErrorCategory::none;  // connect, timeout, reset, other or none
  int64_t status = 0;                         // the final HTTP status; 0 without a response
  int attempts = 1;                           // fetches made so far, this one included
  int64_t retry_after_s = -1;                 // the response's Retry-After, seconds from now; -1 when none

  // A row's outcome. Its category is kept only as far as the policy tells categories apart, as one
  // of crawl::category's constants, so the outcome outlives the row.
  static FetchOutcome of(const storage::PageRecord& record, int64_t retry_after_s);
};

// What may succeed if tried again.
bool is_transient(const FetchOutcome& outcome);
// Refused connections, 429 and 503: the host, not the URL, is in trouble.
bool host_in_trouble(const FetchOutcome& outcome);

class RetryPolicy {
 public:
  explicit RetryPolicy(const PolitenessOptions& options)
      : retries_(options.retries), base_(options.retry_base), max_wait_(options.max_retry_wait) {}
  // Whether the fetch is to be made again: transient, attempts left, and the run not stopping.
  bool retries(const FetchOutcome& outcome, bool stopping) const {
    return !stopping && outcome.attempts <= retries_ && is_transient(outcome);
  }
  // When the server asked, with Retry-After on a transient failure, that the host wait: until then
  // (no longer than --max-retry-wait).
  std::optional<TimePoint> server_asked_until(const FetchOutcome& outcome, TimePoint now) const;
  // When a retry may start: when the server asked, else after an exponential back-off (--retry-base,
  // doubling with each attempt, no more than --max-retry-wait) spread at random from 0.5x to 1.5x,
  // so the retries of many URLs that failed together do not come back together.
  TimePoint retry_at(const FetchOutcome& outcome, TimePoint now, std::mt19937_64& random) const;
  // The back-off for a host that keeps failing, after `rounds` back-offs in a row.
  std::chrono::milliseconds host_backoff(int rounds) const;

 private:
  int retries_;
  std::chrono::milliseconds base_;
  std::chrono::milliseconds max_wait_;
};

// One host's back-off: after kFailuresBeforeBackoff failures in a row that say the host is in
// trouble, none of its URLs starts until the back-off ends; each back-off that ends in another such
// failure doubles the next (up to kMaxDoublings). A success ends it all.
class HostBackoff {
 public:
  static constexpr int kFailuresBeforeBackoff = 3;
  static constexpr int kMaxDoublings = 4;

  void on_outcome(bool trouble, TimePoint now, const RetryPolicy& policy) {
    if (!trouble) {
      failures_in_a_row_ = 0;
      rounds_ = 0;
      return;
    }
    // Failures while the host is already backed off belong to the same outage (requests that were
    // under way together): only a failure after a back-off has run out makes the next one longer.
    if (now >= until_ && ++failures_in_a_row_ >= kFailuresBeforeBackoff)
      until_ = now + policy.host_backoff(std::min(rounds_++, kMaxDoublings));
  }
  // The server asked the host to wait (Retry-After).
  void wait_until(TimePoint at) { until_ = std::max(until_, at); }
  TimePoint until() const { return until_; }

 private:
  TimePoint until_{};
  int failures_in_a_row_ = 0;
  int rounds_ = 0;
};

}  // namespace crawl
