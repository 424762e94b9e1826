// Execution layouts: how the fetching work is spread over processes, threads and fibers. Each takes
// URL tasks from `tasks` until it is closed and drained, and pushes one Page per task into `pages`.
// Internal to crawler/.
#pragma once

#include <atomic>

#include "crawler/channel.hpp"
#include "crawler/fetch.hpp"

namespace crawl {

struct ProducerContext {
  TaskChannel& tasks;
  PageChannel& pages;
  const FetchOptions& fetch;
  const std::atomic<bool>& stop;    // set on Ctrl-C: stop fetching, record the rest as interrupted
  std::atomic<int64_t>& in_flight;  // fetches under way, for the progress line
};

// `threads` OS threads, each with one blocking easy handle reused for keep-alive. Returns when all
// tasks are done.
void run_thread_producers(const ProducerContext& ctx, int threads);

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
