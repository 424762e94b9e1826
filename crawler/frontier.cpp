#include "crawler/frontier.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <queue>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "common/usage_error.hpp"
#include "crawler/errors.hpp"
#include "urls/domain.hpp"
#include "urls/robots.hpp"
#include "urls/url.hpp"

namespace crawl {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How many URLs from the lists may wait in the frontier before reading pauses: enough to interleave
// thousands of hosts when a per-host cap holds some back, small enough to stay a few tens of MB.
constexpr int64_t kMaxQueuedSeeds = 100'000;
// RFC 9309 2.5: at least 500 KiB of a robots.txt must be parsed; more is ignored.
constexpr size_t kMaxRobotsBytes = 512 * 1024;
// Failures in a row that say the host itself is in trouble (refused connections, 429, 503) after
// which the whole host is backed off, not just the one URL; and the longest such back-off. A URL
// that times out or is reset says little about its host, so those only retry the URL.
constexpr int kHostFailuresBeforeBackoff = 3;
constexpr int kMaxHostBackoffDoublings = 4;
// Without per-host rules: tasks handed out beyond what is in flight, so no producer waits for the
// frontier (see State::release_limit). Completions wake the frontier only once a quarter of it is
// left (see wake_for_fetched): a larger reserve means fewer wake-ups, each of which takes a core
// from the fetching threads for a moment.
constexpr int64_t kReserve = 256;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The path and query of a normalised URL, as robots.txt rules are matched against it.
std::string path_of(const std::string& url) {
  const auto start = url.find("://");
  const auto slash = start == std::string::npos ? std::string::npos : url.find('/', start + 3);
  if (slash == std::string::npos) return "/";
  return url.substr(slash);
}

// What may succeed if tried again. The statuses are those curl's --retry retries (408, 429, 500,
// 502, 503, 504). curl retries timeouts too, but not refused connections (only with
// --retry-connrefused) nor resets; a crawler meets both from hosts that are briefly overloaded or
// restarting, and a reused keep-alive connection the server has just closed, so they are retried
// as well. Any other failure (a malformed response, one over the limits, a status outside HTTP's)
// would come back the same unless the status says the server is in trouble.
bool is_transient(const Page& page) {
  const auto& r = page.record;
  if (r.error == category::kConnect || r.error == category::kTimeout || r.error == category::kReset)
    return true;
  return r.status == 408 || r.status == 429 || r.status == 500 || r.status == 502 || r.status == 503 ||
         r.status == 504;
}

bool host_in_trouble(const Page& page) {
  const auto& r = page.record;
  return r.error == category::kConnect || r.status == 429 || r.status == 503;
}

}  // namespace

LinkFilter::LinkFilter(const FollowOptions& options) : scope_(options.scope) {
  auto compile = [](const std::vector<std::string>& patterns, const char* flag) {
    std::vector<std::regex> out;
    for (const auto& p : patterns) {
      try {
        out.emplace_back(p, std::regex::ECMAScript | std::regex::optimize);
      } catch (const std::regex_error& e) {
        throw UsageError(std::string(flag) + " '" + p + "' is not a valid regular expression (" + e.what() +
                         ")");
      }
    }
    return out;
  };
  include_ = compile(options.include, "--include");
  exclude_ = compile(options.exclude, "--exclude");
}

bool LinkFilter::wanted(const std::string& url) const {
  for (const auto& r : exclude_)
    if (std::regex_search(url, r)) return false;
  if (include_.empty()) return true;
  for (const auto& r : include_)
    if (std::regex_search(url, r)) return true;
  return false;
}

std::vector<std::string> LinkFilter::resolve_all(const std::string& page_url, const std::string& base_href,
                                                 const std::vector<std::string>& hrefs) {
  std::string base = page_url;
  if (!base_href.empty()) {
    auto b = urls::resolve(page_url, base_href);
    if (b.ok()) base = std::move(b.url);
  }
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (const auto& href : hrefs) {
    auto link = urls::resolve(base, href);  // other schemes (mailto:, javascript:) fail here
    if (link.ok() && seen.insert(link.url).second) out.push_back(std::move(link.url));
  }
  return out;
}

std::vector<std::string> LinkFilter::follow(const std::string& page_url, const std::string& base_href,
                                            const std::vector<std::string>& hrefs,
                                            const std::string& seed_host) const {
  std::vector<std::string> out;
  const std::string seed_domain = scope_ == Scope::domain ? urls::registrable_domain(seed_host) : "";
  for (auto& url : resolve_all(page_url, base_href, hrefs)) {
    if (scope_ == Scope::host && urls::host_of(url) != seed_host) continue;
    if (scope_ == Scope::domain && urls::registrable_domain(urls::host_of(url)) != seed_domain) continue;
    if (!wanted(url)) continue;
    out.push_back(std::move(url));
  }
  return out;
}

struct Frontier::State {
  struct Host {
    std::string origin;
    std::deque<UrlTask> queue;
    int in_flight = 0;
    Clock::time_point next_start{};
    Clock::time_point backoff_until{};
    int failures_in_a_row = 0;
    int backoff_rounds = 0;
    enum class RobotsState { unknown, fetching, known } robots_state = RobotsState::unknown;
    std::optional<urls::Robots> robots;
    milliseconds delay{0};
    milliseconds gap{0};          // the delay (with its jitter) after the latest start
    int64_t awaiting_start = -1;  // a task handed out whose request has not gone out yet
    std::vector<int> free_lanes;  // producers that just finished a fetch here (UrlTask::lane)
    bool scheduled = false;       // in `ready` or `timers`
  };
  struct Open {
    int depth = 0;
    Host* host = nullptr;
  };
  struct FetchedEvent {
    int64_t seq;
    int lane;
    bool host_trouble;
    // Set when the URL is to be fetched again. On the heap: fetched() runs on fiber stacks, ten
    // thousand of them at once, and every byte of its frame is paid for in each.
    std::unique_ptr<UrlTask> retry;
    Clock::time_point retry_at;
    bool host_asked_to_wait;  // a Retry-After header: the server asked the host to slow down
  };
  struct RobotsFetch {
    Host* host;
    Clock::time_point started;
    bool request_sent = false;
    std::string body;
    bool truncated = false;
    char error[CURL_ERROR_SIZE] = {};
  };
  struct Timer {
    Clock::time_point at;
    Host* host;
    bool operator>(const Timer& o) const { return at > o.at; }
  };
  struct RetryTimer {
    Clock::time_point at;
    UrlTask task;
    bool operator>(const RetryTimer& o) const { return at > o.at; }
  };

  FrontierLog* log;
  FollowOptions follow;
  PolitenessOptions polite;
  FetchOptions fetch;
  int concurrency;
  int per_host;  // 0: no cap
  bool robots_on;
  TaskSink& tasks;
  PageChannel& pages;
  const std::atomic<bool>& stop;
  std::atomic<int64_t>& next_seq;
  CURLM* multi = nullptr;

  // Shared with other threads, under `mutex`.
  std::mutex mutex;
  std::condition_variable seed_room;
  std::vector<UrlTask> seed_inbox;
  bool seeds_finished = false;
  bool window_read = false;  // see Frontier::restore
  std::vector<FetchedEvent> fetched_inbox;
  std::vector<std::pair<int64_t, Clock::time_point>> started_inbox;
  std::vector<std::pair<int64_t, std::vector<std::string>>> done_inbox;
  std::unordered_map<int64_t, UrlTask> finished;  // fetched for the last time, row not yet done
  int64_t backlog = 0;                            // URLs waiting in host queues (published copy)
  int64_t out = 0;                                // tasks out, as of the last round (published copy)
  bool woken = false;                             // a wake-up is pending: no need for another
  FrontierStats stats;

  // The frontier thread's own.
  urls::SeenSet seen;
  std::unordered_map<std::string, std::unique_ptr<Host>> hosts;
  std::deque<Host*> ready;
  std::vector<Host*> just_freed;  // hosts a fetch finished on this round, in order
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers;
  std::priority_queue<RetryTimer, std::vector<RetryTimer>, std::greater<>> retry_timers;
  std::unordered_map<int64_t, Open> open;  // taken into the crawl, row not yet seen by a consumer
  std::vector<int64_t> open_by_depth;
  std::vector<std::vector<UrlTask>> waiting_by_depth;  // --max-pages, breadth-first: not yet admitted
  int64_t admitted = 0;
  int64_t in_flight = 0;
  int64_t queued = 0;  // in host queues
  std::unordered_map<CURL*, std::unique_ptr<RobotsFetch>> robots_fetches;
  PageBatch rows;        // rows the frontier makes itself (duplicates, robots, interrupted)
  TaskBatch to_release;  // tasks handed out this round, pushed together
  size_t batch;          // tasks per batch (see channel.hpp)
  bool interrupted = false;
  bool hold_links = false;  // a resumed run's lists are not read up to where they were yet
  std::mt19937_64 random{std::random_device{}()};

  State(const FollowOptions& f, const PolitenessOptions& p, const FetchOptions& fo, int c, size_t b,
        TaskSink& t, PageChannel& pg, const std::atomic<bool>& s, std::atomic<int64_t>& seq, FrontierLog* l)
      : log(l),
        follow(f),
        polite(p),
        fetch(fo),
        concurrency(c),
        tasks(t),
        pages(pg),
        stop(s),
        next_seq(seq),
        batch(std::max<size_t>(b, 1)) {
    per_host = p.per_host >= 0 ? p.per_host : (f.max_depth > 0 ? 8 : 0);
    robots_on = p.robots.value_or(f.max_depth > 0);
    stats.per_host = per_host;
    strict = per_host > 0 || p.delay.count() > 0 || robots_on;
    track_links = f.max_depth > 0;
    // The reserve covers the completions between two looks of the frontier; more would only hold
    // memory (10,000 tasks waiting at -c 10000).
    release_limit = strict ? c : c + kReserve;
    multi = curl_multi_init();
    if (!multi) throw std::bad_alloc();
    open_by_depth.assign(static_cast<size_t>(f.max_depth) + 1, 0);
    waiting_by_depth.resize(static_cast<size_t>(f.max_depth) + 1);
  }
  ~State() {
    for (auto& [easy, fetch] : robots_fetches) {
      curl_multi_remove_handle(multi, easy);
      curl_easy_cleanup(easy);
    }
    curl_multi_cleanup(multi);
  }

  // Any thread, under `mutex`: makes the frontier thread look at its inboxes.
  void wake_locked() {
    if (woken) return;
    woken = true;
    curl_multi_wakeup(multi);
  }
  // Any thread, under `mutex`, after a fetched event is queued. Without per-host rules the frontier
  // keeps a reserve of tasks out (see release_limit), so it need not hear of each completion at
  // once: only when no more than a quarter of the reserve is left to fetch, early enough to top it
  // up before a producer runs dry. Near the end of the run, when fewer than that are out, every
  // completion wakes it, so the run ends as soon as its last page does.
  void wake_for_fetched(bool now) {
    const int64_t unfetched = out - static_cast<int64_t>(fetched_inbox.size());
    if (now || strict || unfetched <= concurrency + kReserve / 4) wake_locked();
  }
  bool strict = true;        // per-host rules are in force: hand out no more than can start now
  bool track_links = false;  // pages' links are wanted: a URL is finished when its row is parsed
  int64_t release_limit = 0;

  milliseconds jittered(milliseconds d) {
    if (polite.jitter.count() <= 0) return d;
    std::uniform_int_distribution<int64_t> extra(0, polite.jitter.count());
    return d + milliseconds(extra(random));
  }

  Host& host_for(const std::string& url) {
    const std::string origin(urls::origin_of(url));
    auto& slot = hosts[origin];
    if (!slot) {
      slot = std::make_unique<Host>();
      slot->origin = origin;
      slot->delay = polite.delay;
      if (!robots_on) slot->robots_state = Host::RobotsState::known;
      ++stats.hosts;
    }
    return *slot;
  }

  void schedule(Host& h) {
    if (h.scheduled || h.queue.empty()) return;
    h.scheduled = true;
    ready.push_back(&h);
  }

  // A row for a URL the crawl took in but will not fetch.
  // Rows go out a batch at a time, so that the page channel bounds them like fetched pages (a list
  // of a million duplicate lines must not pile up here or in a few giant batches).
  void row(const UrlTask& task, std::string_view category, std::string message) {
    rows.push_back(unfetched_page(task, category, std::move(message)));
    if (!track_links) close_open(task.seq);
    if (rows.size() >= batch) flush_rows();
  }

  // The URL has its final row: it no longer holds the run open.
  void close_open(int64_t seq) {
    auto it = open.find(seq);
    if (it == open.end()) return;
    --open_by_depth[static_cast<size_t>(it->second.depth)];
    open.erase(it);
  }

  // Takes a URL into the crawl (seed or link); false if --max-pages is spent.
  bool admit(UrlTask&& task, bool is_seed) {
    if (follow.max_pages > 0 && admitted >= follow.max_pages) return false;
    ++admitted;
    Host& h = host_for(task.url);
    open[task.seq] = Open{task.depth, &h};
    ++open_by_depth[static_cast<size_t>(task.depth)];
    if (is_seed) {
      h.queue.push_back(std::move(task));
    } else {
      if (log) log->pending(task, 0, 0);
      ++stats.discovered;
      if (follow.depth_first)
        h.queue.push_front(std::move(task));
      else
        h.queue.push_back(std::move(task));
    }
    ++queued;
    if (h.robots_state == Host::RobotsState::unknown) start_robots(h);
    schedule(h);
    return true;
  }

  void take_seed(UrlTask&& task) {
    if (interrupted || stop.load()) {
      row(task, category::kInterrupted, "the run was interrupted before the fetch");
      return;
    }
    if (!seen.insert(task.url)) {
      row(task, category::kDuplicate, "the same URL appears earlier in the input");
      return;
    }
    if (follow.max_pages > 0 && admitted >= follow.max_pages) {
      row(task, category::kMaxPages,
          "--max-pages " + std::to_string(follow.max_pages) + " was reached before this URL");
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
    if (!waiting && log) log->links_taken(parent.seq);
  }

  void take_link(UrlTask&& t) {
    if (follow.depth_first) {
      if (!seen.insert(t.url)) return;
      t.seq = next_seq.fetch_add(1);
      admit(std::move(t), false);
    } else {
      waiting_by_depth[static_cast<size_t>(t.depth)].push_back(std::move(t));
    }
  }

  // Breadth-first, links of depth d are taken in (and only then checked against the URLs seen)
  // once no page of depth d-2 or less is unfinished: by then every link of depth d-1 is known and
  // was taken first. So each URL is fetched at the depth of the shortest path to it, and a cut at
  // --max-pages leaves exactly a breadth-first walk, whatever order the fetches finish in.
  void admit_waiting() {
    if (follow.depth_first || hold_links) return;
    int64_t unfinished_below = 0;  // open pages of depth <= d-2
    for (size_t d = 1; d < waiting_by_depth.size(); ++d) {
      if (d >= 2) unfinished_below += open_by_depth[d - 2];
      auto& bucket = waiting_by_depth[d];
      if (bucket.empty()) continue;
      if (unfinished_below > 0) return;
      int64_t parent = -1;
      for (auto& t : bucket) {
        // A page's links sit together in the bucket: once past them, they are all dealt with.
        if (log && t.parent_seq != parent) {
          if (parent >= 0) log->links_taken(parent);
          parent = t.parent_seq;
        }
        if (follow.max_pages > 0 && admitted >= follow.max_pages) continue;
        if (!seen.insert(t.url)) continue;
        t.seq = next_seq.fetch_add(1);
        admit(std::move(t), false);
      }
      if (log && parent >= 0) log->links_taken(parent);
      bucket.clear();
      if (follow.max_pages > 0 && admitted >= follow.max_pages) {
        for (auto& b : waiting_by_depth) {
          int64_t last = -1;
          for (const auto& t : b) {
            if (log && t.parent_seq >= 0 && t.parent_seq != last) log->links_taken(t.parent_seq);
            last = t.parent_seq;
          }
          b.clear();
        }
        return;
      }
    }
  }

  void start_robots(Host& h) {
    h.robots_state = Host::RobotsState::fetching;
    CURL* easy = curl_easy_init();
    if (!easy) {
      h.robots = urls::Robots::disallow_all();
      h.robots_state = Host::RobotsState::known;
      return;
    }
    auto f = std::make_unique<RobotsFetch>();
    f->host = &h;
    f->started = Clock::now();
    const std::string url = h.origin + "/robots.txt";
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    apply_safety_defaults(easy, fetch);
    curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);  // RFC 9309 2.3.1.2: at least five
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, f->error);
    // The delay runs from when the request goes out, which is after the connection is made.
    curl_easy_setopt(easy, CURLOPT_PREREQDATA, f.get());
    curl_easy_setopt(
        easy, CURLOPT_PREREQFUNCTION, +[](void* self, char*, char*, int, int) noexcept -> int {
          auto* rf = static_cast<RobotsFetch*>(self);
          if (!rf->request_sent) {
            rf->request_sent = true;
            rf->started = Clock::now();
          }
          return CURL_PREREQFUNC_OK;
        });
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, f.get());
    curl_easy_setopt(
        easy, CURLOPT_WRITEFUNCTION,
        +[](char* data, size_t size, size_t count, void* self) noexcept -> size_t {
          auto* rf = static_cast<RobotsFetch*>(self);
          const size_t n = size * count;
          if (rf->body.size() + n > kMaxRobotsBytes) {
            rf->truncated = true;
            return 0;  // enough has arrived: the rest is ignored
          }
          try {
            rf->body.append(data, n);
          } catch (...) {
            return 0;
          }
          return n;
        });
    // robots.txt counts as a request to the host: it is the first, and the delay runs from it.
    ++h.in_flight;
    h.next_start = Clock::now() + jittered(h.delay);
    curl_multi_add_handle(multi, easy);
    robots_fetches.emplace(easy, std::move(f));
  }

  void robots_done(CURL* easy, CURLcode rc) {
    auto it = robots_fetches.find(easy);
    if (it == robots_fetches.end()) return;
    RobotsFetch& f = *it->second;
    Host& h = *f.host;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if ((rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && f.truncated)) && status >= 200 && status < 300)
      h.robots = urls::Robots::parse(f.body, fetch.user_agent);
    else if ((rc == CURLE_OK && status >= 400 && status < 500) || rc == CURLE_TOO_MANY_REDIRECTS ||
             (rc == CURLE_OK && status >= 300 && status < 400))
      h.robots = urls::Robots::allow_all();  // 2.3.1.3: unavailable, crawl without restrictions
    else
      h.robots = urls::Robots::disallow_all();  // 2.3.1.4: 5xx or unreachable: assume complete disallow
    if (auto d = h.robots->crawl_delay(); d && *d > h.delay) h.delay = *d;
    // The robots.txt request was the host's first: the delay (Crawl-delay too) runs from when it
    // went out.
    h.gap = jittered(h.delay);
    h.next_start = std::max(h.next_start, f.started + h.gap);
    h.robots_state = Host::RobotsState::known;
    --h.in_flight;
    curl_multi_remove_handle(multi, easy);
    curl_easy_cleanup(easy);
    robots_fetches.erase(it);
    h.scheduled = false;
    schedule(h);
  }

  // Hands out the host's next URL, or records it as kept out by robots.txt (false).
  bool release_front(Host& h) {
    UrlTask task = std::move(h.queue.front());
    h.queue.pop_front();
    --queued;
    if (h.robots && !h.robots->allowed(path_of(task.url))) {
      ++stats.robots_denied;
      const std::string rule = h.robots->matching_rule(path_of(task.url));
      row(task, category::kRobots,
          "robots.txt of " + h.origin + " disallows it" + (rule.empty() ? "" : " (" + rule + ")"));
      return false;
    }
    release(h, std::move(task));
    return true;
  }

  void release(Host& h, UrlTask&& task) {
    ++h.in_flight;
    ++in_flight;
    h.gap = jittered(h.delay);
    h.next_start = Clock::now() + h.gap;
    if (h.gap.count() > 0) {
      // The task may wait for a producer, and the one before it may have waited longer: the next
      // start is counted from when this one's request really goes out (on_started).
      task.report_start = true;
      h.awaiting_start = task.seq;
    }
    if (!h.free_lanes.empty()) {
      task.lane = h.free_lanes.back();
      h.free_lanes.pop_back();
    }
    to_release.push_back(std::move(task));
  }

  void on_started(int64_t seq, Clock::time_point at) {
    auto it = open.find(seq);
    if (it == open.end()) return;
    Host& h = *it->second.host;
    if (h.awaiting_start != seq) return;  // a redirect's request, or a start already accounted for
    h.awaiting_start = -1;
    h.next_start = std::max(h.next_start, at + h.gap);
    schedule(h);
  }

  // Pushes this round's tasks in batches. Never blocks: the channel holds `concurrency` batches
  // and no more than that many tasks are out at once.
  void flush_released() {
    if (to_release.empty()) return;
    for (size_t i = 0; i < to_release.size(); i += batch) {
      const auto end = std::min(to_release.size(), i + batch);
      TaskBatch b(std::make_move_iterator(to_release.begin() + static_cast<std::ptrdiff_t>(i)),
                  std::make_move_iterator(to_release.begin() + static_cast<std::ptrdiff_t>(end)));
      tasks.push(std::move(b));
    }
    to_release.clear();
  }

  // Hands out what hosts may start now, interleaving hosts so none holds back the others. Each
  // pass either hands out a URL or takes a host off the ring (until a timer or a completion puts
  // it back), so it ends.
  void dispatch() {
    const auto now = Clock::now();
    // A producer that just finished a fetch from a host gets that host's next URL first, out of the
    // ring's turn: its connection to the host is still open, where any other producer would have
    // to open a new one. When -c rather than the per-host cap is the limit, the ring alone would
    // hand the slot to another host nearly every time. But only while the host has at least as much
    // left as the one whose turn it is: hosts that got ahead give their slots back to the ring, so
    // all hosts finish together rather than a few holding the end of the run to their cap.
    for (Host* h : just_freed) {
      if (in_flight >= release_limit) break;
      if (!ready.empty() && ready.front()->queue.size() > h->queue.size()) continue;
      if (h->queue.empty() || h->robots_state != Host::RobotsState::known || h->awaiting_start >= 0) continue;
      if (per_host > 0 && h->in_flight >= per_host) continue;
      if (std::max(h->next_start, h->backoff_until) > now) continue;
      release_front(*h);
    }
    just_freed.clear();
    while (in_flight < release_limit && !ready.empty()) {
      Host& h = *ready.front();
      ready.pop_front();
      h.scheduled = false;
      if (h.queue.empty() || h.robots_state != Host::RobotsState::known) continue;
      if (per_host > 0 && h.in_flight >= per_host) continue;  // a completion schedules it again
      if (h.awaiting_start >= 0) continue;  // its start or its completion schedules it again
      const auto start_at = std::max(h.next_start, h.backoff_until);
      if (start_at > now) {
        h.scheduled = true;
        timers.push({start_at, &h});
        continue;
      }
      release_front(h);
      schedule(h);
    }
  }

  void on_fetched(const FetchedEvent& e) {
    auto it = open.find(e.seq);
    if (it == open.end()) return;
    Host& h = *it->second.host;
    --h.in_flight;
    --in_flight;
    const auto now = Clock::now();
    if (h.awaiting_start == e.seq) {
      // Over without its start being heard of (no connection, or interrupted): counting from now
      // is later than any start it may have made.
      h.awaiting_start = -1;
      h.next_start = std::max(h.next_start, now + h.gap);
    }
    if (e.lane >= 0) {
      const size_t keep = static_cast<size_t>(per_host > 0 ? per_host : 8);
      if (h.free_lanes.size() >= keep) h.free_lanes.erase(h.free_lanes.begin());
      h.free_lanes.push_back(e.lane);
      if (strict) just_freed.push_back(&h);
    }
    if (e.host_trouble) {
      // Failures while the host is already backed off belong to the same outage (requests that were
      // under way together): only a failure after a back-off has run out makes the next one longer.
      if (now >= h.backoff_until && ++h.failures_in_a_row >= kHostFailuresBeforeBackoff) {
        const int doublings = std::min(h.backoff_rounds++, kMaxHostBackoffDoublings);
        h.backoff_until =
            now + std::min<milliseconds>(polite.max_retry_wait, polite.retry_base * (1 << doublings));
      }
    } else {
      h.failures_in_a_row = 0;
      h.backoff_rounds = 0;
    }
    if (e.host_asked_to_wait) h.backoff_until = std::max(h.backoff_until, e.retry_at);
    if (e.retry) {
      ++stats.retries;
      if (log) {
        const double wait_s = std::chrono::duration<double>(e.retry_at - now).count();
        log->pending(*e.retry, e.retry->attempt - 1, unix_now() + std::max(wait_s, 0.0));
      }
      retry_timers.push({e.retry_at, *e.retry});
    } else if (!track_links) {
      close_open(e.seq);
    }
    schedule(h);
  }

  void on_page_done(int64_t seq, std::vector<std::string>&& links) {
    auto it = open.find(seq);
    if (it == open.end()) return;  // not one of ours (bad line, duplicate) or not yet final
    const Open o = it->second;
    open.erase(it);
    --open_by_depth[static_cast<size_t>(o.depth)];
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

  void interrupt_all() {
    interrupted = true;
    for (auto& [origin, h] : hosts) {
      for (auto& t : h->queue) row(t, category::kInterrupted, "the run was interrupted before the fetch");
      queued -= static_cast<int64_t>(h->queue.size());
      h->queue.clear();
    }
    while (!retry_timers.empty()) {
      row(retry_timers.top().task, category::kInterrupted, "the run was interrupted before it was retried");
      retry_timers.pop();
    }
    for (auto& b : waiting_by_depth) b.clear();
  }

  void flush_rows() {
    if (rows.empty()) return;
    pages.push(std::exchange(rows, {}));
  }
};

Frontier::Frontier(const FollowOptions& follow, const PolitenessOptions& politeness,
                   const FetchOptions& fetch, int concurrency, size_t batch, TaskSink& tasks,
                   PageChannel& pages, const std::atomic<bool>& stop, std::atomic<int64_t>& next_seq,
                   FrontierLog* log)
    : state_(std::make_unique<State>(follow, politeness, fetch, concurrency, batch, tasks, pages, stop,
                                     next_seq, log)) {}

Frontier::~Frontier() = default;

void Frontier::restore(storage::ResumeState& state, bool hold_links) {
  State& s = *state_;
  for (const auto& url : state.seen)
    if (s.seen.insert(url)) ++s.admitted;
  const auto now = Clock::now();
  const double now_unix = unix_now();
  const auto max_depth = static_cast<size_t>(s.follow.max_depth);
  for (auto& p : state.pending) {
    UrlTask t{.seq = p.seq,
              .source = std::move(p.source),
              .line = p.line,
              .input = std::move(p.input),
              .url = std::move(p.url),
              .depth = p.depth,
              .parent_url = std::move(p.parent_url),
              .attempt = p.attempts + 1,
              .seed_host = std::move(p.seed_host)};
    if (t.seed_host.empty()) t.seed_host = urls::host_of(t.url);
    State::Host& h = s.host_for(t.url);
    const auto depth = std::min(static_cast<size_t>(std::max(t.depth, 0)), max_depth);
    s.open[t.seq] = State::Open{static_cast<int>(depth), &h};
    ++s.open_by_depth[depth];
    if (p.not_before > now_unix) {
      const auto wait =
          std::chrono::duration_cast<milliseconds>(std::chrono::duration<double>(p.not_before - now_unix));
      s.retry_timers.push({now + wait, std::move(t)});
    } else {
      h.queue.push_back(std::move(t));
      ++s.queued;
      if (h.robots_state == State::Host::RobotsState::unknown) s.start_robots(h);
      s.schedule(h);
    }
  }
  for (auto& w : state.waiting) {
    for (auto& link : w.links) {
      if (static_cast<size_t>(w.depth) > max_depth) break;
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
    if (s.log && (s.follow.depth_first || static_cast<size_t>(w.depth) > max_depth))
      s.log->links_taken(w.parent_seq);
  }
  s.hold_links = hold_links;
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

// The task a page was fetched for, rebuilt from the page (which carries all of it), so no map of
// the tasks out is kept. Kept out of line: most pages need no task, and fetched()'s frame stays small.
[[gnu::noinline]] std::unique_ptr<UrlTask> task_of(const Page& page) {
  const auto& r = page.record;
  return std::make_unique<UrlTask>(UrlTask{.seq = r.seq,
                                           .source = r.source,
                                           .line = r.line,
                                           .input = r.input,
                                           .url = r.url,
                                           .depth = r.depth,
                                           .parent_url = r.parent_url,
                                           .attempt = r.attempts,
                                           .seed_host = page.seed_host});
}

}  // namespace

bool Frontier::fetched(const Page& page) {
  State& s = *state_;
  const bool transient = is_transient(page);
  const auto& r = page.record;
  const bool retry = transient && r.attempts <= s.polite.retries && !s.stop.load();
  std::unique_ptr<UrlTask> task;
  if (retry || s.track_links) task = task_of(page);
  State::FetchedEvent e{r.seq, page.lane, host_in_trouble(page), nullptr, {}, false};
  const auto now = Clock::now();
  if (page.retry_after_s >= 0 && transient) {
    e.retry_at =
        now + std::min<milliseconds>(s.polite.max_retry_wait, milliseconds(page.retry_after_s * 1000));
    e.host_asked_to_wait = true;
  }
  std::lock_guard lock(s.mutex);
  if (retry) {
    task->attempt = r.attempts + 1;
    if (!e.host_asked_to_wait) {
      // Exponential back-off with jitter (0.5x to 1.5x), so retries of many URLs spread out.
      const int exponent = std::min(r.attempts - 1, 16);
      const auto base =
          std::min<milliseconds>(s.polite.max_retry_wait, s.polite.retry_base * (1 << exponent));
      std::uniform_real_distribution<double> spread(0.5, 1.5);
      e.retry_at = now + std::chrono::duration_cast<milliseconds>(base * spread(s.random));
    }
    e.retry = std::move(task);
  } else if (s.track_links) {
    s.finished.emplace(r.seq, std::move(*task));
  }
  s.fetched_inbox.push_back(std::move(e));
  s.wake_for_fetched(retry);
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
  std::lock_guard lock(s.mutex);
  s.done_inbox.emplace_back(seq, std::move(links));
  s.wake_locked();
}

size_t Frontier::capacity_for(int concurrency) {
  return static_cast<size_t>(concurrency + kReserve);
}

void Frontier::wake() {
  std::lock_guard lock(state_->mutex);
  state_->seed_room.notify_all();  // a reader waiting for room sees the stop too
  state_->wake_locked();
}

FrontierStats Frontier::stats() const {
  std::lock_guard lock(state_->mutex);
  return state_->stats;
}

void Frontier::run() {
  State& s = *state_;
  std::vector<UrlTask> seeds;
  std::vector<State::FetchedEvent> fetched;
  std::vector<std::pair<int64_t, Clock::time_point>> started;
  std::vector<std::pair<int64_t, std::vector<std::string>>> done;
  auto last = Clock::now();
  bool held_by_hosts = false;
  for (;;) {
    bool seeds_finished;
    {
      std::lock_guard lock(s.mutex);
      s.woken = false;
      seeds.swap(s.seed_inbox);
      fetched.swap(s.fetched_inbox);
      started.swap(s.started_inbox);
      done.swap(s.done_inbox);
      seeds_finished = s.seeds_finished;
      if (s.window_read || seeds_finished) s.hold_links = false;
    }
    const auto now = Clock::now();
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
    while (!s.retry_timers.empty() && s.retry_timers.top().at <= now) {
      UrlTask t = s.retry_timers.top().task;
      s.retry_timers.pop();
      State::Host& h = s.host_for(t.url);
      h.queue.push_front(std::move(t));
      ++s.queued;
      // A resumed run's first look at the host may be a retry.
      if (h.robots_state == State::Host::RobotsState::unknown) s.start_robots(h);
      s.schedule(h);
    }
    while (!s.timers.empty() && s.timers.top().at <= now) {
      State::Host& h = *s.timers.top().host;
      s.timers.pop();
      h.scheduled = false;
      s.schedule(h);
    }
    // Once stopped, every round turns what waits (seeds, links, retries) into rows.
    if (s.stop.load())
      s.interrupt_all();
    else
      s.dispatch();
    s.flush_released();
    s.flush_rows();
    held_by_hosts = s.in_flight < s.concurrency && s.queued > 0;
    {
      std::lock_guard lock(s.mutex);
      s.backlog = s.queued;
      s.out = s.in_flight;
      if (s.backlog < kMaxQueuedSeeds || s.interrupted) s.seed_room.notify_all();
    }
    if (seeds_finished && s.open.empty()) break;

    // Sleep until something arrives, a robots.txt transfer moves, or the next timer is due.
    auto until = now + std::chrono::seconds(1);
    if (!s.timers.empty()) until = std::min(until, s.timers.top().at);
    if (!s.retry_timers.empty()) until = std::min(until, s.retry_timers.top().at);
    const auto wait_ms = std::chrono::ceil<milliseconds>(until - Clock::now()).count();
    int numfds = 0;
    curl_multi_poll(s.multi, nullptr, 0, static_cast<int>(std::max<int64_t>(wait_ms, 0)), &numfds);
    int running = 0;
    curl_multi_perform(s.multi, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(s.multi, &left))
      if (m->msg == CURLMSG_DONE) s.robots_done(m->easy_handle, m->data.result);
  }
  s.tasks.close();
}

}  // namespace crawl
