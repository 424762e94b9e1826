// Execution layouts: how the fetching work is spread over processes, threads and fibers. Each takes
// URL tasks from `tasks` until it is closed and drained, and pushes one Page per task into `pages`.
// Internal to crawler/.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/byte_budget.hpp"
#include "crawler/channel.hpp"
#include "crawler/fetch.hpp"
#include "crawler/frontier.hpp"
#include "crawler/in_flight.hpp"
#include "crawler/page.hpp"
#include "crawler/row_sink.hpp"
#include "crawler/task_router.hpp"

namespace crawl {

// Lets the run wake producers that sleep in the kernel (fiber schedulers in epoll_wait) once it has
// been told to stop, so in-flight transfers are abandoned at once rather than at their timeout.
class Wakers {
 public:
  int add(std::function<void()> wake);
  void remove(int id);
  void wake_all();

 private:
  std::mutex mutex_;
  std::map<int, std::function<void()>> wakers_;
  int next_id_ = 0;
};

struct ProducerContext {
  TaskChannel& tasks;
  PageChannel& pages;
  const FetchOptions& fetch;
  const std::atomic<bool>& stop;  // set on Ctrl-C: stop fetching, record the rest as interrupted
  InFlight& in_flight;            // fetches under way, for the progress line
  Wakers& wakers;
  std::size_t page_batch;          // pages pushed together (see channel.hpp)
  std::string worker_prefix = {};  // "p3." inside worker process 3: rows name their process too
  // Told of every page before it is pushed (null inside worker processes: their parent tells it).
  Frontier* frontier = nullptr;
  // Told when a task's request goes out, for the tasks that ask (UrlTask::report_start).
  StartListener* starts = nullptr;
  // Bodies waiting for the parsers, in bytes (null: no bound, as inside worker processes, whose
  // parent holds the budget).
  ByteBudget* budget = nullptr;
  // Where rows that need no parsing are finished (null inside worker processes: their parent
  // finishes them).
  RowSink* rows = nullptr;
  // Rows of fetched pages that will not be parsed are finished by the producer itself, in `rows`,
  // without a trip through the page queue to a consumer thread (thread mode without parsing: there,
  // that trip is a wake-up and two context switches for every page).
  bool finish_unparsed_here = false;
  // False when the frontier will fetch the URL again (a retry): the page is dropped.
  bool keep(const Page& page) const { return !frontier || frontier->fetched(page); }
  // Rows of tasks that were never fetched (a stop, a dead worker), in the crawl's own process:
  // each the frontier keeps is finished at once.
  void finish_unfetched(PageBatch&& unfetched) const {
    for (Page& row : unfetched)
      if (keep(row)) rows->finish(std::move(row.record));
  }
  // Takes the page's body from the budget, waiting while it is spent (blocks the calling fiber).
  void reserve(Page& page) const {
    if (!budget || page.body.empty()) return;
    page.budget_bytes = static_cast<int64_t>(page.body.size());
    budget->acquire(page.budget_bytes);
  }
};

// One task, the same in every layout: its page appended to `out`, or, once the crawl is stopping, the
// row of a URL never fetched. `perform` runs the transfer begun on `transfer` to its end and returns
// libcurl's code (a blocking perform, or a fiber suspended in its scheduler); `in_flight` (null in a
// process worker, whose parent shows the progress) holds the fetch while it lasts.
//
// No Page is built in this frame: a fetching fiber waits in `perform` with this frame and its
// callers' on its stack, and every page of stack a fiber ever touches stays resident for the run
// (10,000 fibers at -c 10000). Boost.Fiber's context::active(), which every wait calls, takes a
// 5 KB frame of its own; the pages are built by the out-of-line appenders once the wait is over.
template <class Perform>
void fetch_task(UrlTask&& task, Transfer& transfer, std::string_view worker, const std::atomic<bool>& stop,
                InFlight* in_flight, Perform&& perform, std::vector<Page>& out) {
  if (stop.load(std::memory_order_relaxed)) return append_interrupted_page(out, task);
  const int64_t seq = task.seq;
  if (in_flight) in_flight->begin(seq, task.url);
  transfer.begin(std::move(task), worker);
  transfer.finish_into(out, perform());
  if (in_flight) in_flight->end(seq);
}

// `threads` OS threads, each with one blocking easy handle reused for keep-alive, taking their tasks
// from `router` (lane i is thread i) rather than from ctx.tasks. Returns when all tasks are done.
void run_thread_producers(const ProducerContext& ctx, TaskRouter& router, int threads);

// `threads` OS threads, each running `fibers_per_thread` long-lived fibers under its own
// CurlScheduler (one CURLM per thread). Returns when all tasks are done.
void run_fiber_producers(const ProducerContext& ctx, int threads, int fibers_per_thread);

// Forked worker processes (process mode, hybrid with --processes): each runs `threads` × `fibers`
// fetches, or one blocking fetch at a time when `blocking`. URLs go to the workers and pages come
// back over one socket pair each (crawler/ipc.hpp). A worker that dies loses nothing: what it held
// is tried once more on another worker, or stored as `worker_crash`.
struct WorkerSpec {
  int processes = 1;
  int threads = 1;
  int fibers = 1;
  bool blocking = true;  // process mode: one curl_easy_perform at a time, no threads, no fibers
  // Each worker loads the trust store as it starts, while the parent sets up the database, rather
  // than at its first verified connection (the lists look as if they hold https URLs).
  bool load_trust = false;
  int fetches_per_worker() const { return blocking ? 1 : threads * fibers; }
  // URLs a fiber worker holds beyond its fetches, so that a finished fetch starts the next at once
  // and URLs cross to it in batches: topped up one URL per page back, a worker woke its reading
  // thread and then its fiber thread for every page. A blocking worker holds none: a URL queued
  // behind its one slow fetch would wait while another worker sat idle.
  int reserve_per_worker() const { return blocking ? 0 : threads * fibers; }
};

// What the workers used, summed over every worker once it has been reaped.
struct WorkerUsage {
  double user_s = 0;
  double sys_s = 0;
  int64_t voluntary_ctx = 0;
  int64_t involuntary_ctx = 0;
  // The largest total sampled (every 250 ms and at the end): this process's resident memory plus
  // each worker's resident memory that is not shared file pages (libraries are counted once).
  int64_t peak_rss_sum_kb = 0;
  int workers_lost = 0;          // workers that died before the end of the run
  int workers_unresponsive = 0;  // of those, killed for sending nothing too long while holding URLs
};

class WorkerPool final : public TaskSink {
 public:
  // Forks the workers. Call it before this process starts a thread, initialises libcurl or opens
  // SQLite: the children must start from a state with none of those (design.md).
  WorkerPool(const WorkerSpec& spec, const FetchOptions& fetch);
  ~WorkerPool();  // kills and reaps any worker still running: no zombie or orphan outlives the pool
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // The frontier's sink: each task goes to the worker it names (UrlTask::lane) if that one has
  // room, else to the one with the most room, else waits for room. push() waits for run() to
  // start.
  void push(TaskBatch&& batch) override;
  void close() override;
  // Pushes the pages the workers send back into ctx.pages (telling ctx.frontier of each first),
  // until the pool is closed and every task has its page; then lets the workers exit and reaps
  // them.
  void run(const ProducerContext& ctx);
  // The run was interrupted: tells every worker to abandon its fetches (safe from any thread).
  void stop_workers();
  // Adds up the memory of this process and its workers (see WorkerUsage); keeps the largest sum.
  void sample_memory();
  WorkerUsage usage() const;
  std::vector<int> pids() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Starts `fn` on an OS thread with a small stack, so thousands of producer threads fit in memory.
class SmallStackThread {
 public:
  SmallStackThread(size_t stack_bytes, std::function<void()> fn);
  SmallStackThread(SmallStackThread&& other) noexcept;
  SmallStackThread& operator=(SmallStackThread&&) = delete;
  ~SmallStackThread();
  void join();

 private:
  unsigned long handle_ = 0;  // pthread_t
  bool joinable_ = false;
};

}  // namespace crawl
