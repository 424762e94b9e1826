// Execution layouts: how the fetching work is spread over processes, threads and fibers. Each takes
// URL tasks from `tasks` until it is closed and drained, and pushes one Page per task into `pages`.
// Internal to crawler/.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>

#include "crawler/channel.hpp"
#include "crawler/fetch.hpp"

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
  const std::atomic<bool>& stop;    // set on Ctrl-C: stop fetching, record the rest as interrupted
  std::atomic<int64_t>& in_flight;  // fetches under way, for the progress line
  Wakers& wakers;
  std::size_t page_batch;  // pages pushed together (see channel.hpp)
};

// `threads` OS threads, each with one blocking easy handle reused for keep-alive. Returns when all
// tasks are done.
void run_thread_producers(const ProducerContext& ctx, int threads);

// `threads` OS threads, each running `fibers_per_thread` long-lived fibers under its own
// CurlScheduler (one CURLM per thread). Returns when all tasks are done.
void run_fiber_producers(const ProducerContext& ctx, int threads, int fibers_per_thread);

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
