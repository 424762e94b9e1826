// The frontier: every URL to fetch passes through it on its way to the producers. It runs on a
// thread of its own; readers, producers and consumers hand it work through short, non-blocking
// calls, and it puts together the policies in crawler/frontier/: duplicates (urls::SeenSet),
// breadth-first levels and --max-pages (LevelGate), each host's turn, limits, delay and back-off
// (HostRing), retries (RetryPolicy), robots.txt (RobotsFetcher), and where its state outlives the
// process (FrontierStore). The consumers choose the links to follow (LinkFilter). Internal to
// crawler/.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crawler/channel.hpp"
#include "crawler/fetch.hpp"
#include "crawler/frontier/lease_source.hpp"
#include "crawler/frontier/link_filter.hpp"
#include "crawler/frontier/options.hpp"
#include "crawler/frontier/store.hpp"
#include "crawler/row_sink.hpp"
#include "crawler/task_router.hpp"
#include "storage/records.hpp"

namespace crawl {

struct FrontierStats {
  int64_t retries = 0;         // fetches done again
  int64_t robots_denied = 0;   // URLs robots.txt kept us from
  int64_t discovered = 0;      // links taken into the crawl (beyond the list)
  int hosts = 0;               // distinct hosts
  double held_by_hosts_s = 0;  // seconds when URLs waited on per-host limits with -c not full
  int per_host = 0;            // the cap in force (0: none)
  // A shared run's: hosts claimed (a host claimed again counts again), the URLs those claims
  // brought, and the URLs of hosts already held taken since (while this worker was alone on the run).
  int64_t host_claims = 0;
  int64_t claimed_urls = 0;
  int64_t taken_while_held = 0;
};

class Frontier final : public StartListener {
 public:
  // `batch`: tasks pushed together into `tasks`, which must take capacity_for(concurrency) + 1 batches
  // without blocking (without per-host rules, a small reserve of tasks waits there so no producer
  // idles).
  // The rows it makes itself (duplicates, robots.txt refusals, --max-pages, a stop) go to `rows`.
  // `next_seq` numbers the links it takes in, after the lines of the lists.
  // `store`, when given, keeps every URL taken in that must outlive the process (FrontierStore).
  // `leases`, for a run shared by several workers: the frontier takes its URLs from hosts it claims
  // there rather than from the reader and the pages' links (which go to the database with the
  // pages, ListedUrl and PageRecord::follow), gives each host back through `store` once its URLs
  // have their rows (FrontierStore::host_done), and ends when the run's frontier is empty.
  Frontier(const FollowOptions& follow, const PolitenessOptions& politeness, const FetchOptions& fetch,
           int concurrency, size_t batch, TaskSink& tasks, RowSink& rows, const std::atomic<bool>& stop,
           std::atomic<int64_t>& next_seq, FrontierStore* store = nullptr, LeaseSource* leases = nullptr);
  ~Frontier();
  Frontier(const Frontier&) = delete;
  Frontier& operator=(const Frontier&) = delete;

  // ---- before run(): a resumed run ----
  // Takes up where the run stood: the URLs it took in, its frontier entries (each at its depth, a
  // retry at its time) and the links waiting to be taken in. With `hold_links`, no waiting link is
  // taken in until window_read() (or seeds_done()): the lines of the lists that an earlier session
  // had read must be back in the crawl first, as they were then, for each URL to get its
  // breadth-first depth.
  void restore(storage::ResumeState&& state, bool hold_links);

  // ---- the reader thread ----
  // A resumed run: every line an earlier session had read has been handed in again.
  void window_read();
  // URLs from the lists. Blocks while many URLs already wait (memory stays flat).
  void add_seeds(std::vector<UrlTask>&& batch);
  void seeds_done();

  // ---- producers, after each fetch (any thread or fiber; never blocks for long) ----
  // False when the page failed transiently and will be fetched again: the caller drops it. Whether
  // it is retried is RetryPolicy's answer, given without a lock; when, and what it does to the
  // host, the frontier's thread decides.
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
  // A shared run: this worker's writer committed rows, URLs into the run's frontier or hosts given
  // back (any thread). The frontier asks for work, or whether the run is over, at once rather than
  // at its next idle look.
  void shared_store_committed();
  FrontierStats stats() const;
  // How long each host's politeness held its URLs back (HostRing::held_seconds), by host name as
  // pages.host has it (the origins of one name summed).
  std::vector<storage::HostWait> politeness_waits() const;
  // A shared run: whether the run is over (every URL has its row), rather than this worker stopped
  // or the worker reading the lists is gone.
  bool shared_run_done() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace crawl
