#include "crawler/in_flight.hpp"

#include "common/clock.hpp"

namespace crawl {

void InFlight::begin(int64_t seq, std::string_view url) {
  Fetch fetch{.since = std::chrono::steady_clock::now(), .url = std::string(url)};
  std::lock_guard lock(mutex_);
  if (fetches_.insert_or_assign(seq, std::move(fetch)).second) count_.fetch_add(1, std::memory_order_relaxed);
}

void InFlight::end(int64_t seq) {
  std::lock_guard lock(mutex_);
  if (fetches_.erase(seq) > 0) count_.fetch_sub(1, std::memory_order_relaxed);
}

std::optional<InFlight::Oldest> InFlight::oldest(std::chrono::steady_clock::time_point now) const {
  std::lock_guard lock(mutex_);
  const Fetch* first = nullptr;
  for (const auto& [seq, fetch] : fetches_)
    if (!first || fetch.since < first->since) first = &fetch;
  if (!first) return std::nullopt;
  return Oldest{.url = first->url, .seconds = seconds_between(first->since, now)};
}

}  // namespace crawl
