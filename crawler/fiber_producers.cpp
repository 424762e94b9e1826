#include <algorithm>
#include <boost/fiber/all.hpp>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/thread_name.hpp"
#include "crawler/curl_scheduler.hpp"
#include "crawler/errors.hpp"
#include "crawler/producers.hpp"
#include "crawler/stack_pool.hpp"
#include "urls/url.hpp"

namespace crawl {
namespace {

// Fetching fibers run little code of their own (curl's callbacks run on the scheduler's stack, in
// suspend_until); sanitizers pad every frame, so they get more.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr size_t kFiberStack = 256 * 1024;
#else
constexpr size_t kFiberStack = 64 * 1024;
#endif

// What the fibers of one thread share. They never run at the same time (one OS thread), so no lock
// is needed: a fiber only gives up the thread where it waits (a channel, a transfer).
struct ThreadQueues {
  std::deque<UrlTask> tasks;  // taken from the task channel a batch at a time
  PageBatch outbox;           // finished pages not yet handed to the consumers
  bool input_done = false;
  // One fiber at a time waits on the task channel; the others wait here for it. Were they all to
  // wait on the channel, a batch would wake one of them while the rest stayed parked with tasks
  // already queued here, and the thread would fetch with a handful of its fibers.
  bool refilling = false;
  boost::fibers::mutex mutex;
  boost::fibers::condition_variable refilled;
  // The courier fiber hands the outbox over when the thread is about to sleep and the channel was
  // full. A full channel cannot be waited on from the scheduler itself (it is no fiber), and the
  // consumers that make room wake only fibers blocked in push(): without a fiber waiting there, the
  // pages would stay in the outbox while the thread sleeps and the frontier waits for them.
  bool flush_wanted = false;
  bool fetching_done = false;
  boost::fibers::condition_variable flush;
};

void hand_over(const ProducerContext& ctx, ThreadQueues& q) {
  PageBatch batch;
  batch.swap(q.outbox);
  // Room for a whole batch at once: growing it page by page would move every Page several times.
  q.outbox.reserve(ctx.page_batch);
  ctx.pages.push(std::move(batch));  // blocks this fiber only when the consumers are behind
}

// Blocks in push() for as long as the consumers are behind, so that their next pop() wakes this
// thread (Boost.Fiber schedules a blocked producer remotely, which writes the scheduler's eventfd).
void courier_loop(const ProducerContext& ctx, ThreadQueues& q) {
  for (;;) {
    {
      std::unique_lock lock(q.mutex);
      q.flush.wait(lock, [&] { return q.flush_wanted || q.fetching_done; });
      if (!q.flush_wanted) return;
      q.flush_wanted = false;
    }
    if (!q.outbox.empty()) hand_over(ctx, q);
  }
}

// The next task of the thread's queue fetched, its page appended to the outbox. Out of line, so that
// the task and the lambda live in this frame only while a fetch does (see fetch_task).
[[gnu::noinline]] void fetch_next(const ProducerContext& ctx, CurlScheduler& scheduler, ThreadQueues& q,
                                  Transfer& transfer, const std::string& worker) {
  UrlTask task = std::move(q.tasks.front());
  q.tasks.pop_front();
  fetch_task(
      std::move(task), transfer, worker, ctx.stop, &ctx.in_flight,
      [&] {
        // "https://host:port" of the normalised URL: what HTTP/2 connections are shared by.
        const std::string& url = transfer.task().url;
        return scheduler.perform(transfer.easy(), url.starts_with("https://") ? urls::origin_of(url) : "");
      },
      q.outbox);
}

void fetch_loop(const ProducerContext& ctx, CurlScheduler& scheduler, ThreadQueues& q,
                const std::string& worker, CURLSH* share) {
  // No `stop` for the transfer: on a stop the scheduler abandons every transfer itself (abort_all),
  // so libcurl's progress callback, which would only watch for it, stays off. On the heap, not on
  // the fiber's stack: the fewer bytes below a wait, the fewer stack pages each fiber keeps.
  const auto transfer = std::make_unique<Transfer>(ctx.fetch, share, nullptr, ctx.starts);
  transfer->listen_for_connections(&scheduler);
  for (;;) {
    if (q.tasks.empty()) {
      if (q.input_done) return;
      if (q.refilling) {
        std::unique_lock lock(q.mutex);
        q.refilled.wait(lock, [&] { return !q.refilling; });
        continue;
      }
      q.refilling = true;
      TaskBatch batch;
      // pop() suspends only this fiber: the thread goes on running the others.
      if (ctx.tasks.pop(batch) == TaskChannel::Popped::item) {
        for (auto& t : batch) q.tasks.push_back(std::move(t));
      } else {
        q.input_done = true;
      }
      {
        std::lock_guard lock(q.mutex);
        q.refilling = false;
      }
      q.refilled.notify_all();
      continue;
    }
    fetch_next(ctx, scheduler, q, *transfer, worker);
    if (!ctx.keep(q.outbox.back())) {
      q.outbox.pop_back();
    } else {
      // Waits (this fiber only) while the parsers hold too many bytes; the outbox is handed over
      // meanwhile when the thread would sleep, so what is waiting here can always drain.
      ctx.reserve(q.outbox.back());
    }
    if (q.outbox.size() >= ctx.page_batch) hand_over(ctx, q);
  }
}

void run_thread(const ProducerContext& ctx, int thread_index, int fibers, CURLSH* share) {
  name_this_thread("crawl-fibers" + std::to_string(thread_index));
  CurlScheduler* scheduler = nullptr;
  // Idle connections kept per thread: enough for every fiber's keep-alive connection, and with few
  // fibers enough for a list over a few dozen hosts (an idle connection costs a descriptor and a
  // few KB; a new one costs a handshake, and a TLS one much more).
  constexpr long kMinIdleConnections = 32;
  boost::fibers::use_scheduling_algorithm<CurlScheduler>(&scheduler, &ctx.stop,
                                                         std::max<long>(fibers, kMinIdleConnections));
  const int waker = ctx.wakers.add([scheduler] { scheduler->notify(); });
  ThreadQueues queues;
  queues.outbox.reserve(ctx.page_batch);
  // Before the thread sleeps, pages waiting for a full batch go to the consumers: at once if the
  // channel has room, else through the courier, whose blocked push() is what wakes this thread when
  // room appears. The scheduler does not sleep while the courier is ready to run.
  scheduler->set_before_sleep([&ctx, &queues] {
    if (queues.outbox.empty() || queues.flush_wanted) return;
    if (ctx.pages.try_push(std::move(queues.outbox))) {
      queues.outbox = PageBatch{};
      queues.outbox.reserve(ctx.page_batch);
      return;
    }
    queues.flush_wanted = true;
    queues.flush.notify_one();
  });
  {
    auto stacks = std::make_shared<StackPool>(static_cast<size_t>(fibers) + 1, kFiberStack);  // + the courier
    std::vector<boost::fibers::fiber> running;
    running.reserve(static_cast<size_t>(fibers));
    for (int f = 0; f < fibers; ++f) {
      std::string worker = ctx.worker_prefix + "t" + std::to_string(thread_index) + ".f" + std::to_string(f);
      running.emplace_back(std::allocator_arg, PooledStack{stacks},
                           [&ctx, scheduler, &queues, share, worker = std::move(worker)] {
                             fetch_loop(ctx, *scheduler, queues, worker, share);
                           });
    }
    boost::fibers::fiber courier(std::allocator_arg, PooledStack{stacks},
                                 [&ctx, &queues] { courier_loop(ctx, queues); });
    for (auto& f : running) f.join();
    {
      std::lock_guard lock(queues.mutex);
      queues.fetching_done = true;
    }
    queues.flush.notify_one();
    courier.join();
  }
  scheduler->set_before_sleep(nullptr);
  if (!queues.outbox.empty()) hand_over(ctx, queues);
  ctx.wakers.remove(waker);
}

}  // namespace

int Wakers::add(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  wakers_.emplace(next_id_, std::move(wake));
  return next_id_++;
}

void Wakers::remove(int id) {
  std::lock_guard lock(mutex_);
  wakers_.erase(id);
}

void Wakers::wake_all() {
  std::lock_guard lock(mutex_);
  for (auto& [id, wake] : wakers_) wake();
}

void run_fiber_producers(const ProducerContext& ctx, int threads, int fibers_per_thread) {
  // Each thread's fibers share its connections (one CURLM); TLS sessions and DNS answers are shared
  // by every fiber of every thread, so a second connection to a host resumes the first's session.
  CurlShare share;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back(
        [&ctx, t, fibers_per_thread, &share] { run_thread(ctx, t, fibers_per_thread, share.get()); });
  for (auto& w : workers) w.join();
}

}  // namespace crawl
