// The hosts of a crawl and their turns: each host's queue of URLs, the fetches it has in flight
// (--per-host), the delay between two starts (--delay, --jitter, Crawl-delay), its back-off, the
// producers holding an idle connection to it, and the ring that gives every host its turn.
// Single-threaded (the frontier's thread); time comes from a TimeSource.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crawler/frontier/retry_policy.hpp"
#include "crawler/frontier/time_source.hpp"
#include "crawler/page.hpp"
#include "urls/robots.hpp"

namespace crawl {

class HostRing {
 public:
  struct Host {
    std::string origin;
    std::deque<UrlTask> queue;
    int in_flight = 0;  // its fetches out, and its robots.txt transfer
    TimePoint next_start{};
    HostBackoff backoff;
    bool may_start = true;  // false until its robots.txt is known
    std::chrono::milliseconds delay{0};
    std::chrono::milliseconds gap{0};  // the delay (with its jitter) after the latest start
    int64_t awaiting_start = -1;       // a task handed out whose request has not gone out yet
    std::vector<int> free_lanes;       // producers that just finished a fetch here (UrlTask::lane)
    bool scheduled = false;            // in the ring or waiting on a timer
    bool robots_asked = false;         // its robots.txt was asked for (or is not wanted)
    std::optional<urls::Robots> robots;
    // Politeness: how long it had URLs waiting that its rules held back (its delay or back-off, its
    // cap, its robots.txt, a start not yet heard of), and since when it is held now, if it is.
    std::chrono::nanoseconds held{0};
    std::optional<TimePoint> held_since;
  };

  struct Rules {
    int per_host = 0;  // fetches in flight per host; 0: no cap
    std::chrono::milliseconds delay{0};
    std::chrono::milliseconds jitter{0};
    // Hand a producer the host it just left when it may (see dispatch); only with per-host rules,
    // where each start is a decision, not a top-up of a reserve.
    bool affinity = true;
  };

  HostRing(const Rules& rules, const TimeSource& time, uint64_t seed = std::random_device{}());

  // The host of an origin, made on first use (`made` says so).
  Host& host(std::string_view origin, bool* made = nullptr);
  size_t hosts() const { return hosts_.size(); }

  // A URL for the host: at the back of its queue, or at the front (a retry, a depth-first link).
  void push(Host& h, UrlTask&& task, bool front = false);
  int64_t queued() const { return queued_; }
  int64_t in_flight() const { return in_flight_; }

  // Puts the host in the ring if it has URLs and is not there yet.
  void schedule(Host& h);
  // Hosts whose delay or back-off has run out go back in the ring.
  void wake_due();
  // When the next host's delay or back-off runs out (max() when none waits).
  TimePoint next_due() const;

  // Hands out what hosts may start now, interleaving hosts so none holds back the others, while
  // fewer than `limit` fetches are in flight. Each URL taken off a queue is offered to `keep`
  // (bool(Host&, UrlTask&)), which may turn it down (it then has its row, and nothing starts);
  // those kept go into `out`, counted in flight. Each pass either hands out a URL or takes a host
  // off the ring (until a timer or a completion puts it back), so it ends.
  template <class Keep>
  void dispatch(int64_t limit, Keep keep, std::vector<UrlTask>& out);

  // The request of the task `seq` went out at `at` (StartListener): the host's next start may come
  // a gap after it.
  void started(Host& h, int64_t seq, TimePoint at);
  // A fetch of the host's is over; `lane` is the producer that made it (-1: unknown).
  void finished(Host& h, int64_t seq, int lane);
  // A transfer of the host's own (robots.txt) that counts as a request to it: the first, and the
  // delay runs from it.
  void own_request_started(Host& h);
  // It is over: it went out at `sent_at`, and the host's delay is now `delay` (a Crawl-delay may
  // have made it longer). The host may start its URLs.
  void own_request_done(Host& h, TimePoint sent_at, std::chrono::milliseconds delay);

  // Takes every URL out of the host's queue (its fetches in flight go on); the host stays where it
  // is in the ring, and is passed over while its queue is empty.
  std::deque<UrlTask> take_queue(Host& h);

  // Each host's politeness wait so far (Host::held, a wait under way counted up to now), by origin;
  // hosts never held are left out.
  std::vector<std::pair<std::string, double>> held_seconds() const;

  // Takes every URL out of every queue (an interrupted run), in no particular order.
  template <class Each>
  void drain(Each each);

 private:
  struct Timer {
    TimePoint at;
    Host* host;
    bool operator>(const Timer& o) const { return at > o.at; }
  };
  std::chrono::milliseconds jittered(std::chrono::milliseconds d);
  bool can_start(const Host& h) const;
  bool release_front(Host& h, TimePoint now, std::vector<UrlTask>& out, auto& keep);
  // Ends the host's politeness wait, if one is under way (Host::held).
  void let_go(Host& h, TimePoint now);

  Rules rules_;
  const TimeSource& time_;
  std::mt19937_64 random_;
  std::unordered_map<std::string, std::unique_ptr<Host>> hosts_;
  std::deque<Host*> ready_;
  std::vector<Host*> just_freed_;  // hosts a fetch finished on since the last dispatch, in order
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  int64_t queued_ = 0;
  int64_t in_flight_ = 0;
};

inline bool HostRing::can_start(const Host& h) const {
  return !h.queue.empty() && h.may_start && h.awaiting_start < 0 &&
         (rules_.per_host <= 0 || h.in_flight < rules_.per_host);
}

bool HostRing::release_front(Host& h, TimePoint now, std::vector<UrlTask>& out, auto& keep) {
  let_go(h, now);
  UrlTask task = std::move(h.queue.front());
  h.queue.pop_front();
  --queued_;
  if (!keep(h, task)) return false;
  ++h.in_flight;
  ++in_flight_;
  h.gap = jittered(h.delay);
  // From the dispatch's own "now": a fresh clock read would put a host without a delay a few
  // nanoseconds in the future, and the dispatch would then hand out one of its URLs per round
  // instead of as many as the limit allows.
  h.next_start = now + h.gap;
  if (h.gap.count() > 0) {
    // The task may wait for a producer, and the one before it may have waited longer: the next
    // start is counted from when this one's request really goes out (started()).
    task.report_start = true;
    h.awaiting_start = task.seq;
  }
  if (!h.free_lanes.empty()) {
    task.lane = h.free_lanes.back();
    h.free_lanes.pop_back();
  }
  out.push_back(std::move(task));
  return true;
}

template <class Keep>
void HostRing::dispatch(int64_t limit, Keep keep, std::vector<UrlTask>& out) {
  const auto now = time_.now();
  // A producer that just finished a fetch from a host gets that host's next URL first, out of the
  // ring's turn: its connection to the host is still open, where any other producer would have
  // to open a new one. When -c rather than the per-host cap is the limit, the ring alone would
  // hand the slot to another host nearly every time. But only while the host has at least as much
  // left as the one whose turn it is: hosts that got ahead give their slots back to the ring, so
  // all hosts finish together rather than a few holding the end of the run to their cap.
  for (Host* h : just_freed_) {
    if (in_flight_ >= limit) break;
    if (!ready_.empty() && ready_.front()->queue.size() > h->queue.size()) continue;
    if (!can_start(*h) || std::max(h->next_start, h->backoff.until()) > now) continue;
    release_front(*h, now, out, keep);
  }
  just_freed_.clear();
  while (in_flight_ < limit && !ready_.empty()) {
    Host& h = *ready_.front();
    ready_.pop_front();
    h.scheduled = false;
    // A host that cannot start now is put back by what lets it: a completion (--per-host), its
    // request going out (awaiting_start), its robots.txt arriving.
    if (!can_start(h)) {
      if (!h.queue.empty() && !h.held_since) h.held_since = now;
      continue;
    }
    const auto start_at = std::max(h.next_start, h.backoff.until());
    if (start_at > now) {
      if (!h.held_since) h.held_since = now;
      h.scheduled = true;
      timers_.push({start_at, &h});
      continue;
    }
    release_front(h, now, out, keep);
    schedule(h);
  }
}

template <class Each>
void HostRing::drain(Each each) {
  for (auto& [origin, h] : hosts_) {
    for (auto& t : h->queue) each(*h, t);
    queued_ -= static_cast<int64_t>(h->queue.size());
    h->queue.clear();
  }
}

}  // namespace crawl
