#include "crawler/frontier/host_ring.hpp"

#include <utility>

#include <algorithm>

namespace crawl {

using std::chrono::milliseconds;

HostRing::HostRing(const Rules& rules, const TimeSource& time, uint64_t seed)
    : rules_(rules), time_(time), random_(seed) {}

HostRing::Host& HostRing::host(std::string_view origin, bool* made) {
  auto& slot = hosts_[std::string(origin)];
  if (made) *made = !slot;
  if (!slot) {
    slot = std::make_unique<Host>();
    slot->origin = std::string(origin);
    slot->delay = rules_.delay;
  }
  return *slot;
}

void HostRing::push(Host& h, UrlTask&& task, bool front) {
  if (front)
    h.queue.push_front(std::move(task));
  else
    h.queue.push_back(std::move(task));
  ++queued_;
  schedule(h);
}

std::deque<UrlTask> HostRing::take_queue(Host& h) {
  let_go(h, time_.now());  // nothing of its waits here any more
  queued_ -= static_cast<int64_t>(h.queue.size());
  return std::exchange(h.queue, {});
}

void HostRing::schedule(Host& h) {
  if (h.scheduled || h.queue.empty()) return;
  h.scheduled = true;
  ready_.push_back(&h);
  // Back in the ring: its wait ends if its rules let it start now (a host back in the ring still at
  // its cap, say, waits on).
  if (h.held_since) {
    const auto now = time_.now();
    if (can_start(h) && std::max(h.next_start, h.backoff.until()) <= now) let_go(h, now);
  }
}

void HostRing::let_go(Host& h, TimePoint now) {
  if (h.held_since) h.held += now - *std::exchange(h.held_since, std::nullopt);
}

std::vector<std::pair<std::string, double>> HostRing::held_seconds() const {
  const auto now = time_.now();
  std::vector<std::pair<std::string, double>> held;
  for (const auto& [origin, h] : hosts_) {
    const auto total = h->held + (h->held_since ? now - *h->held_since : std::chrono::nanoseconds(0));
    if (total.count() > 0) held.emplace_back(origin, std::chrono::duration<double>(total).count());
  }
  return held;
}

void HostRing::wake_due() {
  const auto now = time_.now();
  while (!timers_.empty() && timers_.top().at <= now) {
    Host& h = *timers_.top().host;
    timers_.pop();
    h.scheduled = false;
    schedule(h);
  }
}

TimePoint HostRing::next_due() const {
  return timers_.empty() ? TimePoint::max() : timers_.top().at;
}

milliseconds HostRing::jittered(milliseconds d) {
  if (rules_.jitter.count() <= 0) return d;
  std::uniform_int_distribution<int64_t> extra(0, rules_.jitter.count());
  return d + milliseconds(extra(random_));
}

void HostRing::started(Host& h, int64_t seq, TimePoint at) {
  if (h.awaiting_start != seq) return;  // a redirect's request, or a start already accounted for
  h.awaiting_start = -1;
  h.next_start = std::max(h.next_start, at + h.gap);
  schedule(h);
}

void HostRing::finished(Host& h, int64_t seq, int lane) {
  --h.in_flight;
  --in_flight_;
  if (h.awaiting_start == seq) {
    // Over without its start being heard of (no connection, or interrupted): counting from now
    // is later than any start it may have made.
    h.awaiting_start = -1;
    h.next_start = std::max(h.next_start, time_.now() + h.gap);
  }
  if (lane >= 0) {
    const size_t keep = static_cast<size_t>(rules_.per_host > 0 ? rules_.per_host : 8);
    if (h.free_lanes.size() >= keep) h.free_lanes.erase(h.free_lanes.begin());
    h.free_lanes.push_back(lane);
    if (rules_.affinity) just_freed_.push_back(&h);
  }
  schedule(h);
}

void HostRing::own_request_started(Host& h) {
  h.may_start = false;
  ++h.in_flight;
  h.next_start = time_.now() + jittered(h.delay);
}

void HostRing::own_request_done(Host& h, TimePoint sent_at, milliseconds delay) {
  h.delay = delay;
  h.gap = jittered(h.delay);
  h.next_start = std::max(h.next_start, sent_at + h.gap);
  h.may_start = true;
  --h.in_flight;
  // A host still in the ring keeps its place there; one that was taken off it while it waited
  // (dispatch passes over a host that may not start yet) goes back.
  schedule(h);
}

}  // namespace crawl
