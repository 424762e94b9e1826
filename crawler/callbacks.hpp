// The library's extension point (the seeds' add_done_callback): callbacks run on a pool of
// --callback-threads threads, so a slow callback never stalls fetching, parsing or storing. Every
// submitted callback has run when drain() returns.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "storage/records.hpp"

namespace crawl {

struct RunSummary;  // crawler/run.hpp

// Called once per row. `body` is empty unless a callback asked for bodies.
using PageCallback = std::function<void(const storage::PageRecord& record, std::string_view body)>;
using RunDoneCallback = std::function<void(const RunSummary& summary)>;

struct Callbacks {
  // Called synchronously with the run id once the run row exists, before any page is fetched.
  std::vector<std::function<void(int64_t run_id)>> on_run_start;
  std::vector<PageCallback> on_page;
  std::vector<RunDoneCallback> on_run_done;
  bool needs_bodies = false;  // keep bodies in memory for on_page even with --no-parse
  bool empty() const { return on_page.empty() && on_run_done.empty(); }
};

class CallbackPool {
 public:
  // `max_backlog` bounds how many tasks may wait: past it, submit() blocks (memory stays bounded
  // when callbacks are hopelessly slower than the crawl).
  CallbackPool(int threads, size_t max_backlog);
  ~CallbackPool();
  CallbackPool(const CallbackPool&) = delete;
  CallbackPool& operator=(const CallbackPool&) = delete;

  void submit(std::function<void()> task);
  // Waits until every submitted task has run, then stops the threads.
  void drain();
  int64_t failures() const { return failures_.load(); }
  std::string first_failure() const;

 private:
  void work();
  mutable std::mutex mutex_;
  std::condition_variable has_work_, has_room_;
  std::deque<std::function<void()>> tasks_;
  size_t max_backlog_;
  bool closing_ = false;
  std::vector<std::thread> threads_;
  std::atomic<int64_t> failures_{0};
  std::string first_failure_;
};

// Built-in callbacks exposed on the command line.
// --jsonl FILE|-: one JSON object per page, written as pages complete.
PageCallback make_jsonl_writer(const std::string& path);
// --save-bodies DIR: each body as DIR/<run>-<seq>.<ext>, a name that never comes from the URL.
PageCallback make_body_saver(const std::string& dir, std::shared_ptr<std::atomic<int64_t>> run_id);

}  // namespace crawl
