// The one queue type of the pipeline: bounded, closable, and right for fibers and OS threads alike.
//
// A waiting fiber is suspended and its thread runs the others (Boost.Fiber's condition variables);
// a thread that runs no other fibers sleeps in the kernel (its scheduler's idle wait). The state is
// guarded by a std::mutex, a sleeping lock held only to move an item in or out, and the condition
// variables are notified under it, and only when someone waits: their internal spinlocks are then
// never contended, so dozens of producer threads never spin. (Boost.Fiber's buffered_channel guards
// its state with such a spinlock, and so, left alone, do its condition variables: 50 OS threads
// spinning on one while a preempted holder kept them waiting burned most of the CPU of a fast
// thread-mode crawl, 14 s of CPU for a 1 s run.)
#pragma once

#include <boost/fiber/condition_variable.hpp>
#include <cstddef>
#include <deque>
#include <mutex>
#include <utility>

namespace crawl {

template <typename T>
class BoundedQueue {
 public:
  enum class Popped { item, closed, woken };

  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // Waits while the queue is full. Returns false, leaving `item` as it was, once the queue is closed.
  bool push(T&& item) {
    std::unique_lock lock(mutex_);
    if (!closed_ && items_.size() >= capacity_) {
      ++waiting_push_;
      has_room_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
      --waiting_push_;
    }
    if (closed_) return false;
    items_.push_back(std::move(item));
    if (waiting_pop_ > 0) has_items_.notify_one();
    return true;
  }

  // Never waits: false, leaving `item` as it was, when the queue is full or closed. Safe where no
  // fiber may be suspended (inside a fiber scheduler).
  bool try_push(T&& item) {
    std::lock_guard lock(mutex_);
    if (closed_ || items_.size() >= capacity_) return false;
    items_.push_back(std::move(item));
    if (waiting_pop_ > 0) has_items_.notify_one();
    return true;
  }

  // Waits for an item; `closed` once the queue is closed and empty, `woken` after wake_pop().
  Popped pop(T& out) {
    std::unique_lock lock(mutex_);
    if (items_.empty() && !closed_ && !woken_) {
      ++waiting_pop_;
      has_items_.wait(lock, [&] { return !items_.empty() || closed_ || woken_; });
      --waiting_pop_;
    }
    if (items_.empty()) {
      if (closed_) return Popped::closed;
      woken_ = false;
      return Popped::woken;
    }
    out = std::move(items_.front());
    items_.pop_front();
    woken_ = false;  // the pop returns anyway: the wake is spent
    if (waiting_push_ > 0) has_room_.notify_one();
    return Popped::item;
  }

  // Makes one waiting pop() (or the next one) return, with `woken` if there is no item: for a
  // consumer that has something else to look at (the worker process's fetch starts). Never waits.
  void wake_pop() {
    std::lock_guard lock(mutex_);
    woken_ = true;
    if (waiting_pop_ > 0) has_items_.notify_one();
  }

  // Every push from now on fails; pops take what is left, then return `closed`.
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    has_items_.notify_all();
    has_room_.notify_all();
  }

 private:
  const std::size_t capacity_;
  std::mutex mutex_;
  boost::fibers::condition_variable_any has_items_, has_room_;
  std::deque<T> items_;
  bool closed_ = false;
  bool woken_ = false;
  int waiting_push_ = 0, waiting_pop_ = 0;
};

}  // namespace crawl
