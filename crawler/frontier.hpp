// The frontier: every URL to fetch passes through it on its way to the producers. It removes
// duplicates, follows links (depth, scope, include/exclude, --max-pages, breadth- or depth-first),
// keeps each host to its politeness limits (fetches in flight, delay between starts, robots.txt,
// back-off when it keeps failing), and schedules retries of transient failures. It runs on a
// thread of its own; readers, producers and consumers hand it work through short, non-blocking
// calls. Internal to crawler/.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "crawler/channel.hpp"
#include "crawler/fetch.hpp"
#include "crawler/frontier_log.hpp"
#include "crawler/task_router.hpp"
#include "storage/records.hpp"

namespace crawl {

enum class Scope { host, domain, any };

struct FollowOptions {
  int max_depth = 0;  // 0: fetch the list only
  Scope scope = Scope::host;
  std::vector<std::string> include;  // ECMAScript regexes searched in the normalised URL
  std::vector<std::string> exclude;
  int64_t max_pages = 0;  // URLs fetched in all (seeds included); 0: no limit
  bool depth_first = false;
  bool store_links = false;
};

struct PolitenessOptions {
  int per_host = -1;  // fetches in flight per host; 0 no cap; -1: 8 when following links, else none
  std::chrono::milliseconds delay{0};   // between the starts of two fetches to one host
  std::chrono::milliseconds jitter{0};  // up to this much added at random to each delay
  std::optional<bool> robots;           // unset: obeyed when following links only
  int retries = 2;                      // further attempts after a transient failure
  std::chrono::milliseconds max_retry_wait{60'000};
  std::chrono::milliseconds retry_base{500};  // first back-off; doubles with each attempt
};

// Which links of a page the crawl follows; used by the consumers, so the regexes are compiled once.
class LinkFilter {
 public:
  explicit LinkFilter(const FollowOptions& options);  // throws UsageError for a bad regex
  // Resolves each href against the page (and its <base href>), keeps http(s) URLs within scope of
  // `seed_host` and the include/exclude patterns. Normalised, fragments dropped, duplicates removed.
  std::vector<std::string> follow(const std::string& page_url, const std::string& base_href,
                                  const std::vector<std::string>& hrefs, const std::string& seed_host) const;
  // Every http(s) link of the page, resolved (for --store-links).
  static std::vector<std::string> resolve_all(const std::string& page_url, const std::string& base_href,
                                              const std::vector<std::string>& hrefs);
  // Whether a URL (a seed) passes --include/--exclude.
  bool wanted(const std::string& url) const;

 private:
  Scope scope_;
  std::vector<std::regex> include_, exclude_;
};

struct FrontierStats {
  int64_t retries = 0;         // fetches done again
  int64_t robots_denied = 0;   // URLs robots.txt kept us from
  int64_t discovered = 0;      // links taken into the crawl (beyond the list)
  int hosts = 0;               // distinct hosts
  double held_by_hosts_s = 0;  // seconds when URLs waited on per-host limits with -c not full
  int per_host = 0;            // the cap in force (0: none)
};

class Frontier final : public StartListener {
 public:
  // `batch`: tasks pushed together into `tasks`, which must take capacity_for(concurrency) + 1 batches
  // without blocking (without per-host rules, a small reserve of tasks waits there so no producer
  // idles).
  // `next_seq` numbers the links it takes in, after the lines of the lists.
  // `log`, when given, hears of every URL taken in that must outlive the process (see FrontierLog).
  Frontier(const FollowOptions& follow, const PolitenessOptions& politeness, const FetchOptions& fetch,
           int concurrency, size_t batch, TaskSink& tasks, PageChannel& pages, const std::atomic<bool>& stop,
           std::atomic<int64_t>& next_seq, FrontierLog* log = nullptr);
  ~Frontier();
  Frontier(const Frontier&) = delete;
  Frontier& operator=(const Frontier&) = delete;

  // ---- before run(): a resumed run ----
  // Takes up where the run stood: the URLs it took in, its frontier entries (each at its depth, a
  // retry at its time) and the links waiting to be taken in. With `hold_links`, no waiting link is
  // taken in until window_read() (or seeds_done()): the lines of the lists that an earlier session
  // had read must be back in the crawl first, as they were then, for each URL to get its
  // breadth-first depth.
  void restore(storage::ResumeState& state, bool hold_links);

  // ---- the reader thread ----
  // A resumed run: every line an earlier session had read has been handed in again.
  void window_read();
  // URLs from the lists. Blocks while many URLs already wait (memory stays flat).
  void add_seeds(std::vector<UrlTask>&& batch);
  void seeds_done();

  // ---- producers, after each fetch (any thread or fiber; never blocks for long) ----
  // False when the page failed transiently and will be fetched again: the caller drops it.
  bool fetched(const Page& page);
  // The task's request went out (the tasks with UrlTask::report_start, when a host has a --delay
  // or a Crawl-delay): the host's next fetch may start `delay` after `at`, and not before.
  void started(int64_t seq, std::chrono::steady_clock::time_point at) noexcept override;

  // ---- consumers, for every row they handle ----
  // `links`: the page's links to follow (LinkFilter::follow), empty when none or not wanted.
  void page_done(int64_t seq, std::vector<std::string>&& links);
  // Whether the links of a page at `depth` are wanted at all.
  bool wants_links(int depth) const;

  // ---- the frontier's own thread ----
  // Hands tasks to the producers until every URL has its row; closes `tasks` at the end.
  void run();
  // How many tasks may be out at once: `concurrency`, plus a small reserve without per-host rules.
  static size_t capacity_for(int concurrency);
  // Makes the frontier thread look at the stop flag now (any thread).
  void wake();
  FrontierStats stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace crawl
