// A bound in bytes on the page bodies that wait for the parsers: the page queue counts pages, and
// a hundred 10 MB pages fit in it as well as a hundred 10 KB ones. A producer takes its page's
// bytes before handing the page over and waits while the budget is spent; a consumer gives them
// back once the page is parsed. Boost.Fiber's mutex and condition variable block only the calling
// fiber on a fiber thread, the thread elsewhere, and a release on another thread wakes a waiting
// fiber through its scheduler's notify(), so one type serves every layout. Internal to crawler/.
#pragma once

#include <atomic>
#include <boost/fiber/condition_variable.hpp>
#include <boost/fiber/mutex.hpp>
#include <cstdint>
#include <mutex>

namespace crawl {

class ByteBudget {
 public:
  // `limit` 0: no limit.
  explicit ByteBudget(int64_t limit) : limit_(limit) {}

  // Waits until `bytes` more fit, or nothing else is held: a page larger than the whole budget
  // still goes through, alone.
  void acquire(int64_t bytes) {
    if (limit_ <= 0 || bytes <= 0) return;
    std::unique_lock lock(mutex_);
    room_.wait(lock, [&] {
      const int64_t held = held_.load(std::memory_order_relaxed);
      return held == 0 || held + bytes <= limit_;
    });
    held_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void release(int64_t bytes) {
    if (limit_ <= 0 || bytes <= 0) return;
    {
      std::lock_guard lock(mutex_);
      held_.fetch_sub(bytes, std::memory_order_relaxed);
    }
    room_.notify_all();
  }
  int64_t limit() const { return limit_; }

 private:
  const int64_t limit_;
  boost::fibers::mutex mutex_;
  boost::fibers::condition_variable room_;
  // Only read and written under mutex_; atomic because ThreadSanitizer cannot see Boost.Fiber's
  // mutex (an uninstrumented library, see tests/tsan.supp) and would report the waits as races.
  std::atomic<int64_t> held_{0};
};

}  // namespace crawl
