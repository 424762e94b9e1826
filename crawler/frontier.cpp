#include "crawler/frontier.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "common/clock.hpp"
#include "crawler/errors.hpp"
#include "crawler/frontier/host_ring.hpp"
#include "crawler/frontier/level_gate.hpp"
#include "crawler/frontier/retry_policy.hpp"
#include "crawler/frontier/robots_fetcher.hpp"
#include "crawler/frontier/time_source.hpp"
#include "urls/url.hpp"

namespace crawl {
namespace {

using std::chrono::milliseconds;
using Host = HostRing::Host;

// How many URLs from the lists may wait in the frontier before reading pauses: enough to interleave
// thousands of hosts when a per-host cap holds some back, small enough to stay a few tens of MB.
constexpr int64_t kMaxQueuedSeeds = 100'000;
// Without per-host rules: tasks handed out beyond what is in flight, so no producer waits for the
// frontier (see State::release_limit). Completions wake the frontier only once a quarter of it is
// left (see wake_for_fetched): a larger reserve means fewer wake-ups, each of which takes a core
// from the fetching threads for a moment.
constexpr int64_t kReserve = 256;
// Pages whose links may wait for the frontier's next round (see State::wake_for_done), and the
// longest they wait: queued URLs may all be held back (a --delay, a back-off, a host's cap) while
// these links are for a host that could start now.
constexpr size_t kDoneBatch = 64;
constexpr auto kLinksWait = milliseconds(20);

// The path and query of a normalised URL, as robots.txt rules are matched against it.
std::string path_of(const std::string& url) {
  const auto start = url.find("://");
  const auto slash = start == std::string::npos ? std::string::npos : url.find('/', start + 3);
  if (slash == std::string::npos) return "/";
  return url.substr(slash);
}

// The task for a frontier entry stored by an earlier session or another worker: its next fetch.
UrlTask task_of_entry(storage::PendingUrl&& p, int max_depth) {
  UrlTask t{.seq = p.seq,
            .source = std::move(p.source),
            .line = p.line,
            .input = std::move(p.input),
            .url = std::move(p.url),
            .depth = std::clamp(p.depth, 0, max_depth),
            .parent_url = std::move(p.parent_url),
            .attempt = p.attempts + 1,
            .seed_host = std::move(p.seed_host)};
  if (t.seed_host.empty()) t.seed_host = urls::host_of(t.url);
  return t;
}

}  // namespace

struct Frontier::State {
  struct Open {
    int depth = 0;
    Host* host = nullptr;
  };
  struct FetchedEvent {
    int64_t seq;
    int lane;
    FetchOutcome outcome;
    // Set when the URL is to be fetched again. On the heap: fetched() runs on fiber stacks, ten
    // thousand of them at once, and every byte of its frame is paid for in each.
    std::unique_ptr<UrlTask> retry;
  };
  struct RetryTimer {
    TimePoint at;
    UrlTask task;
    bool operator>(const RetryTimer& o) const { return at > o.at; }
  };

  FrontierStore* store;
  LeaseSource* leases;  // a shared run's (see Frontier's constructor)
  FollowOptions follow;
  int concurrency;
  bool robots_on;
  TaskSink& tasks;
  RowSink& row_sink;
  const std::atomic<bool>& stop;
  std::atomic<int64_t>& next_seq;
  SteadyTime time;
  RetryPolicy retry_policy;
  bool strict;       // per-host rules are in force: hand out no more than can start now
  bool track_links;  // pages' links are wanted: a URL is finished when its row is parsed
  int64_t release_limit;
  int per_host;          // fetches in flight per host; 0: no cap
  RobotsFetcher robots;  // also what the frontier's thread sleeps in (see run())

  // Shared with other threads, under `mutex`.
  std::mutex mutex;
  std::condition_variable seed_room;
  std::vector<UrlTask> seed_inbox;
  bool seeds_finished = false;
  bool window_read = false;  // see Frontier::restore
  bool committed = false;    // see Frontier::shared_store_committed
  std::vector<FetchedEvent> fetched_inbox;
  std::vector<std::pair<int64_t, TimePoint>> started_inbox;
  std::vector<std::pair<int64_t, std::vector<std::string>>> done_inbox;
  std::unordered_map<int64_t, UrlTask> finished;  // fetched for the last time, row not yet done
  int64_t backlog = 0;                            // URLs waiting in host queues (published copy)
  int64_t out = 0;                                // tasks out, as of the last round (published copy)
  bool woken = false;                             // a wake-up is pending: no need for another
  FrontierStats stats;

  // The frontier thread's own.
  urls::SeenSet seen;
  HostRing ring;
  LevelGate gate;
  std::priority_queue<RetryTimer, std::vector<RetryTimer>, std::greater<>> retry_timers;
  std::unordered_map<int64_t, Open> open;  // taken into the crawl, row not yet seen by a consumer
  std::vector<int64_t> rows_done;          // rows the frontier made this round (see row())
  std::vector<UrlTask> to_release;         // tasks handed out this round, pushed together
  size_t batch;                            // tasks per batch (see channel.hpp)
  bool interrupted = false;
  std::mt19937_64 random{std::random_device{}()};
  // A shared run's: for each leased host, how many of its URLs have no row yet and the highest seq
  // taken of them; when to ask for work, for more URLs of the hosts held, or for the run's state
  // next; and whether the run is over.
  struct Leased {
    int64_t open = 0;
    int64_t taken_up_to = -1;
  };
  std::unordered_map<Host*, Leased> leased_open;
  TimePoint next_claim{}, next_refill{}, next_state_check{};
  bool run_over = false, run_done = false;
  bool store_asked = false;  // store_now() since this worker last had nothing in hand
  bool wants_work = false;   // the producers could use more than is queued

  static HostRing::Rules ring_rules(const FollowOptions& f, const PolitenessOptions& p, bool robots_on) {
    const int per_host = p.per_host >= 0 ? p.per_host : (f.max_depth > 0 ? 8 : 0);
    return {.per_host = per_host,
            .delay = p.delay,
            .jitter = p.jitter,
            .affinity = per_host > 0 || p.delay.count() > 0 || robots_on};
  }

  State(const FollowOptions& f, const PolitenessOptions& p, const FetchOptions& fo, int c, size_t b,
        TaskSink& t, RowSink& rs, const std::atomic<bool>& s, std::atomic<int64_t>& seq, FrontierStore* st,
        LeaseSource* l)
      : store(st),
        leases(l),
        follow(f),
        concurrency(c),
        robots_on(p.robots.value_or(f.max_depth > 0)),
        tasks(t),
        row_sink(rs),
        stop(s),
        next_seq(seq),
        retry_policy(p),
        strict(ring_rules(f, p, robots_on).affinity),
        // A shared run's URL is done when its row is, which gives its host back.
        track_links(f.max_depth > 0 || l != nullptr),
        // The reserve covers the completions between two looks of the frontier; more would only
        // hold memory (10,000 tasks waiting at -c 10000).
        release_limit(strict ? c : c + kReserve),
        per_host(ring_rules(f, p, robots_on).per_host),
        robots(fo, s, time),
        ring(ring_rules(f, p, robots_on), time),
        gate(f.max_depth, f.max_pages),
        batch(std::max<size_t>(b, 1)) {
    stats.per_host = per_host;
  }

  // Any thread, under `mutex`: makes the frontier thread look at its inboxes.
  void wake_locked() {
    if (should_wake()) robots.wake();
  }
  // Any thread, under `mutex`: whether the caller is to wake the frontier thread (robots.wake()),
  // after letting go of `mutex`, so that the thread it wakes does not wait for it at once. The
  // calls made for every page do that; the others wake it with wake_locked().
  bool should_wake() { return !std::exchange(woken, true); }

  // Any thread, under `mutex`, after a fetched event is queued; returns should_wake(). Without
  // per-host rules the frontier keeps a reserve of tasks out (see release_limit), so it need not
  // hear of each completion at once: only when no more than a quarter of the reserve is left to
  // fetch, early enough to top it up before a producer runs dry. Near the end of the run, when
  // fewer than that are out, every completion wakes it, so the run ends as soon as its last page
  // does.
  bool wake_for_fetched(bool now) {
    const int64_t unfetched = out - static_cast<int64_t>(fetched_inbox.size());
    return (now || strict || unfetched <= concurrency + kReserve / 4) && should_wake();
  }

  // Any thread, under `mutex`, after a page's links are queued; returns should_wake(). While the
  // host queues hold at least -c URLs, the links are seldom needed at once: the next round the
  // frontier runs anyway (woken for a completion, wake_for_fetched, or at most kLinksWait later,
  // see run()) takes them in. It is woken now when the queues hold fewer, when enough pages wait to
  // be worth a round of their own, and always in a stop or a shared run. Without this, a
  // link-following crawl woke the frontier twice per page instead of once.
  bool wake_for_done() { return links_wanted_now() && should_wake(); }
  // Under `mutex`: whether the pages' links waiting in done_inbox are worth a round now.
  bool links_wanted_now() const {
    return leases || stop.load() || backlog < concurrency || done_inbox.size() >= kDoneBatch;
  }

  Host& host_for(const std::string& url) {
    bool made = false;
    Host& h = ring.host(urls::origin_of(url), &made);
    if (made) {
      std::lock_guard lock(mutex);
      ++stats.hosts;
    }
    return h;
  }

  // The host's robots.txt is asked for with its first URL (when the crawl obeys robots.txt).
  void ask_robots(Host& h) {
    if (!robots_on || h.robots_asked) return;
    h.robots_asked = true;
    ring.own_request_started(h);
    try {
      robots.fetch(h.origin);
    } catch (const std::exception&) {
      // Without a transfer there is no telling what the host allows: nothing, to be safe.
      h.robots = urls::Robots::disallow_all();
      ring.own_request_done(h, time.now(), h.delay);
    }
  }

  void robots_known(RobotsFetcher::Known& k) {
    Host& h = ring.host(k.origin);
    h.robots = std::move(k.robots);
    auto delay = h.delay;
    if (auto d = h.robots->crawl_delay(); d && *d > delay) delay = *d;
    // The robots.txt request was the host's first: the delay (Crawl-delay too) runs from when it
    // went out.
    ring.own_request_done(h, k.sent_at, delay);
  }

  // A row for a URL the crawl took in but will not fetch. It is stored at once (the writer's queue
  // bounds how many wait, as the page queue bounds fetched pages); when pages' rows finish URLs,
  // the frontier hears of it at the end of the round, as it would from a consumer, so that the
  // rings and hosts are never changed while one of their callbacks is making the row.
  void row(const UrlTask& task, ErrorCategory category, std::string message) {
    row(task, unfetched_page(task, category, std::move(message)));
  }
  void row(const UrlTask& task, Page&& page) {
    row_sink.store(std::move(page.record));
    if (track_links)
      rows_done.push_back(task.seq);
    else
      close_open(task.seq);
  }

  // The URL has its final row: it no longer holds the run open.
  void close_open(int64_t seq) {
    auto it = open.find(seq);
    if (it == open.end()) return;
    gate.closed(it->second.depth);
    open.erase(it);
  }

  // Takes a URL into the crawl (seed or link); false if --max-pages is spent.
  bool admit(UrlTask&& task, bool is_seed) {
    if (!gate.take()) return false;
    Host& h = host_for(task.url);
    open[task.seq] = Open{task.depth, &h};
    gate.opened(task.depth);
    if (!is_seed) {
      if (store) store->pending(task, 0, 0);
      std::lock_guard lock(mutex);
      ++stats.discovered;
    }
    ring.push(h, std::move(task), !is_seed && follow.depth_first);
    ask_robots(h);
    return true;
  }

  void take_seed(UrlTask&& task) {
    if (interrupted || stop.load()) {
      row(task, interrupted_page(task));
      return;
    }
    if (!seen.insert(task.url)) {
      row(task, ErrorCategory::duplicate, "the same URL appears earlier in the input");
      return;
    }
    if (gate.spent()) {
      row(task, ErrorCategory::max_pages,
          "--max-pages " + std::to_string(gate.max_pages()) + " was reached before this URL");
      return;
    }
    task.seed_host = urls::host_of(task.url);
    admit(std::move(task), true);
  }

  void take_links(const Open& parent_open, const UrlTask& parent, std::vector<std::string>&& links) {
    const int depth = parent_open.depth + 1;
    bool waiting = false;  // some wait for their level: the last of them says when all are dealt with
    for (auto& link : links) {
      if (seen.contains(link)) continue;
      waiting = !follow.depth_first;
      UrlTask t;
      t.source = parent.source;
      t.line = parent.line;
      t.input = link;
      t.url = std::move(link);
      t.depth = depth;
      t.parent_url = parent.url;
      t.seed_host = parent.seed_host;
      t.parent_seq = parent.seq;
      take_link(std::move(t));
    }
    if (!waiting && store) store->links_taken(parent.seq);
  }

  void take_link(UrlTask&& t) {
    if (follow.depth_first) {
      if (!seen.insert(t.url)) return;
      t.seq = next_seq.fetch_add(1);
      admit(std::move(t), false);
    } else {
      gate.hold(std::move(t));
    }
  }

  void admit_waiting() {
    gate.release(
        [this](UrlTask&& t) {
          if (!seen.insert(t.url)) return;
          t.seq = next_seq.fetch_add(1);
          admit(std::move(t), false);
        },
        [this](int64_t parent) {
          if (store) store->links_taken(parent);
        });
  }

  void dispatch() {
    ring.dispatch(
        release_limit,
        [this](Host& h, UrlTask& task) {
          if (!h.robots || h.robots->allowed(path_of(task.url))) return true;
          {
            std::lock_guard lock(mutex);
            ++stats.robots_denied;
          }
          const std::string rule = h.robots->matching_rule(path_of(task.url));
          row(task, ErrorCategory::robots,
              "robots.txt of " + h.origin + " disallows it" + (rule.empty() ? "" : " (" + rule + ")"));
          return false;
        },
        to_release);
  }

  void on_started(int64_t seq, TimePoint at) {
    auto it = open.find(seq);
    if (it != open.end()) ring.started(*it->second.host, seq, at);
  }

  void on_fetched(FetchedEvent& e) {
    auto it = open.find(e.seq);
    if (it == open.end()) return;
    Host& h = *it->second.host;
    ring.finished(h, e.seq, e.lane);
    const auto now = time.now();
    h.backoff.on_outcome(host_in_trouble(e.outcome), now, retry_policy);
    if (auto asked = retry_policy.server_asked_until(e.outcome, now)) h.backoff.wait_until(*asked);
    if (e.retry) {
      {
        std::lock_guard lock(mutex);
        ++stats.retries;
      }
      const auto at = retry_policy.retry_at(e.outcome, now, random);
      if (store) {
        const double wait_s = std::chrono::duration<double>(at - now).count();
        store->pending(*e.retry, e.retry->attempt - 1, unix_now() + std::max(wait_s, 0.0));
      }
      retry_timers.push({at, std::move(*e.retry)});
    } else if (!track_links) {
      close_open(e.seq);
    }
  }

  void on_page_done(int64_t seq, std::vector<std::string>&& links) {
    auto it = open.find(seq);
    if (it == open.end()) return;  // not one of ours (bad line, duplicate) or not yet final
    const Open o = it->second;
    open.erase(it);
    gate.closed(o.depth);
    if (leases) leased_url_done(*o.host);
    // The parent's task (its source, line and seed) is kept from its last fetch until here.
    UrlTask parent;
    {
      std::lock_guard lock(mutex);
      auto p = finished.find(seq);
      if (p == finished.end()) return;  // a row the frontier made itself: no links
      parent = std::move(p->second);
      finished.erase(p);
    }
    if (!links.empty() && !interrupted && o.depth < follow.max_depth) take_links(o, parent, std::move(links));
  }

  // ---- a shared run ----
  // When the host's next fetch may start, as unix time.
  double next_fetch_unix(const Host& h) {
    const auto at = std::max(h.next_start, h.backoff.until());
    const double wait_s = std::chrono::duration<double>(at - time.now()).count();
    return unix_now() + std::max(wait_s, 0.0);
  }

  // An idle worker asks again this often (for hosts, or for more URLs of the hosts it holds): soon
  // enough that new work (a list being read, links another worker stored, a host given back) starts
  // within a few tens of ms; each ask is one cheap query.
  static constexpr auto kPoll = milliseconds(50);

  void leased_url_done(Host& h) {
    auto it = leased_open.find(&h);
    if (it == leased_open.end() || --it->second.open > 0) return;
    leased_open.erase(it);
    // The row went to the store before the consumer reported it: the host goes back after it.
    if (store) store->host_done(h.origin, next_fetch_unix(h));
  }

  // Claims hosts while the producers could use more than is queued, and keeps the leases alive.
  void take_leased_work(TimePoint now) {
    if (auto held = leases->renew_if_due()) drop_lost_hosts(*held);
    // Work is wanted while the hosts held cannot keep the producers busy: a host counts for no more
    // fetches than its per-host cap lets out at once, however many of its URLs are queued. (Counting
    // every queued URL, a worker that held 14 hosts of 100 URLs each at --per-host 4 took no more
    // and fetched 56 at a time at -c 200.) What it holds in all stays bounded, whatever the hosts'
    // delays make of their pace.
    int64_t ready = 0;
    for (const auto& [h, l] : leased_open)
      ready += per_host > 0 ? std::min<int64_t>(l.open, per_host) : l.open;
    const int64_t held = ring.queued() + ring.in_flight();
    const int64_t wanted = std::min(2 * release_limit - ready, 8 * release_limit - held);
    wants_work = wanted > 0;
    // A batch per host large enough that one claim keeps a host's share of -c busy for a while
    // (each claim of a host is a round trip), and as many hosts as the room left needs.
    const int batch_per_host = static_cast<int>(std::clamp<int64_t>(2 * concurrency, 32, 1000));
    if (held < 8 * release_limit && now >= next_refill) take_more_of_held_hosts(now, batch_per_host);
    if (wanted <= 0 || now < next_claim) return;
    const int hosts = static_cast<int>(std::clamp<int64_t>(wanted / 4, 1, 256));
    auto claimed = leases->claim(hosts, batch_per_host);
    next_claim = claimed.empty() ? now + kPoll : now;
    for (auto& lease : claimed) {
      bool made = false;
      Host& h = ring.host(lease.host, &made);
      if (made) {
        std::lock_guard lock(mutex);
        ++stats.hosts;
      }
      const double wait_s = lease.next_fetch_at - unix_now();
      if (wait_s > 0)
        h.next_start =
            std::max(h.next_start,
                     now + std::chrono::duration_cast<milliseconds>(std::chrono::duration<double>(wait_s)));
      if (lease.urls.empty()) {
        if (store) store->host_done(h.origin, next_fetch_unix(h));
        continue;
      }
      const int64_t taken = take_leased_urls(h, lease.urls);
      {
        std::lock_guard lock(mutex);
        ++stats.host_claims;
        stats.claimed_urls += taken;
      }
      if (!leased_open.contains(&h)) {
        if (store) store->host_done(h.origin, next_fetch_unix(h));
        continue;
      }
      ask_robots(h);
    }
  }

  // Returns how many were new to this worker.
  int64_t take_leased_urls(Host& h, std::vector<storage::PendingUrl>& urls) {
    int64_t taken = 0;
    for (auto& p : urls) {
      if (open.contains(p.seq)) continue;  // still ours from an earlier lease of the host
      Leased& l = leased_open[&h];
      l.taken_up_to = std::max(l.taken_up_to, p.seq);
      UrlTask t = task_of_entry(std::move(p), follow.max_depth);
      open[t.seq] = Open{t.depth, &h};
      gate.opened(t.depth);
      ++l.open;
      ++taken;
      ring.push(h, std::move(t));
    }
    return taken;
  }

  // A worker alone on a run keeps the hosts it holds fed with their URLs that came in since it took
  // them (the list read on, links found): without them, a host runs dry at the end of each batch,
  // goes back, waits for the writer's commit and a claim, and starts again from no fetches in
  // flight and, when other hosts' connections took its place, no connections (one host of 2,000 URLs
  // at -c 200 took 1.7 times as long as one process on SQLite). A URL of the host that sorts before
  // the last one taken but was left out of its claim waits for the host's next claim. With other
  // workers live, hosts go back at the end of their batch, so that a worker holding every host of a
  // small run leaves some to the others.
  void take_more_of_held_hosts(TimePoint now, int batch_per_host) {
    const size_t low = per_host > 0 ? 2 * static_cast<size_t>(per_host) : static_cast<size_t>(concurrency);
    std::vector<storage::HostLeases::TakenUpTo> hosts;
    for (const auto& [h, l] : leased_open)
      if (h->queue.size() < low) hosts.push_back({.host = h->origin, .after = l.taken_up_to});
    if (hosts.empty()) return;
    if (leases->others_live()) {
      next_refill = now + kPoll;
      return;
    }
    auto more = leases->take_more(hosts, batch_per_host);
    // Soon again while URLs come in; at the idle pace once none do.
    next_refill = now + (more.empty() ? kPoll : milliseconds(5));
    int64_t taken = 0;
    for (auto& lease : more) {
      Host& h = ring.host(lease.host);
      if (!leased_open.contains(&h)) continue;  // given back since
      taken += take_leased_urls(h, lease.urls);
    }
    std::lock_guard lock(mutex);
    stats.taken_while_held += taken;
  }

  // Hosts whose lease this worker lost (it expired, and another worker claimed the host): their
  // queued URLs are the other's now; the fetches in flight end, and their rows are stored only if
  // the other has not stored them first (the writer's fenced completion).
  void drop_lost_hosts(const std::vector<std::string>& held) {
    const std::unordered_set<std::string_view> still(held.begin(), held.end());
    for (auto it = leased_open.begin(); it != leased_open.end();) {
      Host& h = *it->first;
      if (still.contains(h.origin)) {
        ++it;
        continue;
      }
      for (const UrlTask& t : ring.take_queue(h)) {
        if (auto o = open.find(t.seq); o != open.end()) {
          gate.closed(o->second.depth);
          open.erase(o);
        }
        --it->second.open;
      }
      it = it->second.open > 0 ? std::next(it) : leased_open.erase(it);
    }
  }

  // Whether this worker is done: it was stopped, or it has nothing left and the run says so.
  bool shared_worker_done(TimePoint now) {
    if (stop.load() || run_over) return open.empty();
    if (!open.empty() || !retry_timers.empty()) {
      store_asked = false;
      return false;
    }
    // The run may be over once the last rows are stored: they need not wait for the writer's batch.
    if (!std::exchange(store_asked, true) && store) store->store_now();
    if (now < next_state_check) return false;
    next_state_check = now + milliseconds(50);
    switch (leases->run_state()) {
      case LeaseSource::RunState::working:
        return false;
      case LeaseSource::RunState::done:
        run_done = true;
        break;
      case LeaseSource::RunState::reader_gone:
      case LeaseSource::RunState::failed:
        break;
    }
    run_over = true;
    return true;
  }

  // Retries whose time has come go to the front of their host's queue.
  void retries_due(TimePoint now) {
    while (!retry_timers.empty() && retry_timers.top().at <= now) {
      UrlTask t = retry_timers.top().task;
      retry_timers.pop();
      Host& h = host_for(t.url);
      ring.push(h, std::move(t), true);
      ask_robots(h);  // a resumed run's first look at the host may be a retry
    }
  }

  void interrupt_all() {
    interrupted = true;
    ring.drain([this](Host&, const UrlTask& t) { row(t, interrupted_page(t)); });
    while (!retry_timers.empty()) {
      row(retry_timers.top().task, ErrorCategory::interrupted,
          "the run was interrupted before it was retried");
      retry_timers.pop();
    }
    gate.clear();
  }

  // Pushes this round's tasks in batches. Never blocks: the channel holds `concurrency` batches
  // and no more than that many tasks are out at once.
  void flush_released() { push_in_batches(tasks, to_release, batch); }

  // Returns whether there were any.
  bool rows_finished() {
    if (rows_done.empty()) return false;
    for (const int64_t seq : rows_done) on_page_done(seq, {});
    rows_done.clear();
    return true;
  }
};

Frontier::Frontier(const FollowOptions& follow, const PolitenessOptions& politeness,
                   const FetchOptions& fetch, int concurrency, size_t batch, TaskSink& tasks, RowSink& rows,
                   const std::atomic<bool>& stop, std::atomic<int64_t>& next_seq, FrontierStore* store,
                   LeaseSource* leases)
    : state_(std::make_unique<State>(follow, politeness, fetch, concurrency, batch, tasks, rows, stop,
                                     next_seq, store, leases)) {}

Frontier::~Frontier() = default;

void Frontier::restore(storage::ResumeState&& state, bool hold_links) {
  State& s = *state_;
  for (const auto& url : state.seen)
    if (s.seen.insert(url)) s.gate.take();
  const auto now = s.time.now();
  const double now_unix = unix_now();
  const int max_depth = s.follow.max_depth;
  for (auto& p : state.pending) {
    UrlTask t = task_of_entry(std::move(p), max_depth);
    Host& h = s.host_for(t.url);
    s.open[t.seq] = State::Open{t.depth, &h};
    s.gate.opened(t.depth);
    if (p.not_before > now_unix) {
      const auto wait =
          std::chrono::duration_cast<milliseconds>(std::chrono::duration<double>(p.not_before - now_unix));
      s.retry_timers.push({now + wait, std::move(t)});
    } else {
      s.ring.push(h, std::move(t));
      s.ask_robots(h);
    }
  }
  for (auto& w : state.waiting) {
    for (auto& link : w.links) {
      if (w.depth > max_depth) break;
      UrlTask t{.source = w.source,
                .line = w.line,
                .input = link,
                .url = std::move(link),
                .depth = w.depth,
                .parent_url = w.parent_url,
                .seed_host = w.seed_host,
                .parent_seq = w.parent_seq};
      s.take_link(std::move(t));
    }
    if (s.store && (s.follow.depth_first || w.depth > max_depth)) s.store->links_taken(w.parent_seq);
  }
  s.gate.hold_all(hold_links);
}

void Frontier::window_read() {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  s.window_read = true;
  s.wake_locked();
}

void Frontier::add_seeds(std::vector<UrlTask>&& batch) {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  s.seed_room.wait(lock, [&] {
    return static_cast<int64_t>(s.seed_inbox.size()) + s.backlog < kMaxQueuedSeeds || s.stop.load();
  });
  const bool was_empty = s.seed_inbox.empty();
  for (auto& t : batch) s.seed_inbox.push_back(std::move(t));
  // The first URLs wake the frontier at once; more while it has not yet looked are on their way.
  if (was_empty) s.wake_locked();
}

void Frontier::seeds_done() {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  s.seeds_finished = true;
  s.wake_locked();
}

bool Frontier::wants_links(int depth) const {
  return depth < state_->follow.max_depth;
}

namespace {

// The task a page was fetched for, rebuilt from the page, so no map of the tasks out is kept. Kept
// out of line: most pages need no task, and fetched()'s frame stays small.
[[gnu::noinline]] std::unique_ptr<UrlTask> task_on_heap(const Page& page) {
  return std::make_unique<UrlTask>(task_of(page));
}

}  // namespace

bool Frontier::fetched(const Page& page) {
  State& s = *state_;
  const auto& r = page.record;
  const FetchOutcome outcome = FetchOutcome::of(r, page.retry_after_s);
  const bool retry = s.retry_policy.retries(outcome, s.stop.load());
  std::unique_ptr<UrlTask> task;
  if (retry || s.track_links) task = task_on_heap(page);
  if (retry) task->attempt = r.attempts + 1;
  bool wake = false;
  {
    std::lock_guard lock(s.mutex);
    if (!retry && s.track_links) s.finished.emplace(r.seq, std::move(*task));
    s.fetched_inbox.push_back({r.seq, page.lane, outcome, retry ? std::move(task) : nullptr});
    wake = s.wake_for_fetched(retry);
  }
  if (wake) s.robots.wake();
  return !retry;
}

void Frontier::started(int64_t seq, std::chrono::steady_clock::time_point at) noexcept {
  State& s = *state_;
  try {
    std::lock_guard lock(s.mutex);
    s.started_inbox.emplace_back(seq, at);
    s.wake_locked();
  } catch (...) {
    // Out of memory: the host then waits for the fetch's end instead (on_fetched), later, not sooner.
  }
}

void Frontier::page_done(int64_t seq, std::vector<std::string>&& links) {
  State& s = *state_;
  if (!s.track_links) return;  // fetched() already finished the URL
  bool wake = false;
  {
    std::lock_guard lock(s.mutex);
    s.done_inbox.emplace_back(seq, std::move(links));
    wake = s.wake_for_done();
  }
  if (wake) s.robots.wake();
}

size_t Frontier::capacity_for(int concurrency) {
  return static_cast<size_t>(concurrency + kReserve);
}

void Frontier::wake() {
  std::lock_guard lock(state_->mutex);
  state_->seed_room.notify_all();  // a reader waiting for room sees the stop too
  state_->wake_locked();
}

void Frontier::shared_store_committed() {
  std::lock_guard lock(state_->mutex);
  state_->committed = true;
  state_->wake_locked();
}

bool Frontier::shared_run_done() const {
  return state_->run_done;
}

FrontierStats Frontier::stats() const {
  std::lock_guard lock(state_->mutex);
  return state_->stats;
}

std::vector<storage::HostWait> Frontier::politeness_waits() const {
  std::lock_guard lock(state_->mutex);
  std::map<std::string, double> by_host;
  for (const auto& [origin, seconds] : state_->ring.held_seconds()) by_host[urls::host_of(origin)] += seconds;
  std::vector<storage::HostWait> waits;
  for (auto& [host, seconds] : by_host) waits.push_back({.host = host, .held_s = seconds});
  return waits;
}

void Frontier::run() {
  State& s = *state_;
  std::vector<UrlTask> seeds;
  std::vector<State::FetchedEvent> fetched;
  std::vector<std::pair<int64_t, TimePoint>> started;
  std::vector<std::pair<int64_t, std::vector<std::string>>> done;
  auto last = s.time.now();
  bool held_by_hosts = false;
  for (;;) {
    bool seeds_finished;
    bool release_links;
    {
      std::lock_guard lock(s.mutex);
      s.woken = false;
      seeds.swap(s.seed_inbox);
      fetched.swap(s.fetched_inbox);
      started.swap(s.started_inbox);
      done.swap(s.done_inbox);
      seeds_finished = s.seeds_finished;
      release_links = s.window_read || seeds_finished;
      if (std::exchange(s.committed, false)) s.next_claim = s.next_refill = s.next_state_check = TimePoint{};
    }
    if (release_links) s.gate.hold_all(false);
    const auto now = s.time.now();
    if (held_by_hosts) {
      std::lock_guard lock(s.mutex);
      s.stats.held_by_hosts_s += std::chrono::duration<double>(now - last).count();
    }
    last = now;
    // Starts first: a fetch's start is always reported before its end.
    for (auto& [seq, at] : started) s.on_started(seq, at);
    for (auto& e : fetched) s.on_fetched(e);
    for (auto& t : seeds) s.take_seed(std::move(t));
    for (auto& [seq, links] : done) s.on_page_done(seq, std::move(links));
    seeds.clear();
    started.clear();
    fetched.clear();
    done.clear();
    s.admit_waiting();
    s.retries_due(now);
    if (s.leases && !s.stop.load() && !s.run_over) s.take_leased_work(now);
    s.ring.wake_due();
    // Once stopped, every round turns what waits (seeds, links, retries) into rows.
    if (s.stop.load())
      s.interrupt_all();
    else
      s.dispatch();
    s.flush_released();
    const bool made_rows = s.rows_finished();
    held_by_hosts = s.ring.in_flight() < s.concurrency && s.ring.queued() > 0;
    bool links_waiting = false;  // pages whose links did not wake the frontier (wake_for_done)
    bool links_wanted = false;   // ... which would wake it now that the queues are published
    bool pages_in_hand = false;  // pages fetched and not yet parsed: their links may come any time
    {
      std::lock_guard lock(s.mutex);
      s.backlog = s.ring.queued();
      s.out = s.ring.in_flight();
      if (s.backlog < kMaxQueuedSeeds || s.interrupted) s.seed_room.notify_all();
      links_waiting = !s.done_inbox.empty();
      links_wanted = links_waiting && s.links_wanted_now();
      pages_in_hand = !s.finished.empty();
    }
    // A row this round made (a robots.txt refusal, say) may have finished the last open page below
    // the links the gate holds: they go out in another round now. Ended here instead, the run
    // stopped a level short and called itself completed.
    if (made_rows && !s.gate.empty()) continue;
    if (s.leases ? s.shared_worker_done(now) : seeds_finished && s.open.empty()) break;
    if (links_wanted) continue;

    // Sleep until something arrives, a robots.txt transfer moves, or the next timer is due.
    auto until = std::min(now + std::chrono::seconds(1), s.ring.next_due());
    if (links_waiting || pages_in_hand) until = std::min(until, now + kLinksWait);
    if (!s.retry_timers.empty()) until = std::min(until, s.retry_timers.top().at);
    if (s.leases && !s.stop.load() && !s.run_over) {
      // The next claim, or, once nothing is left here, the next look at the run's state.
      auto next_look = std::min(s.wants_work ? s.next_claim : TimePoint::max(), s.leases->next_renewal());
      if (s.open.empty()) next_look = std::min(next_look, s.next_state_check);
      until = std::min(until, std::max(next_look, now + milliseconds(1)));
    }
    for (auto& known : s.robots.poll(std::chrono::ceil<milliseconds>(until - s.time.now())))
      s.robots_known(known);
  }
  s.tasks.close();
}

}  // namespace crawl
