// The one queue type of the pipeline: bounded, closable, and right for fibers and OS threads alike.
//
// A waiting fiber is suspended and its thread runs the others (Boost.Fiber's condition variable);
// a thread that runs no other fibers sleeps in the kernel (its scheduler's idle wait), never
// spins. The state is guarded by a std::mutex held only to move an item in or out, so dozens of
// producer threads and several consumers need no gate of their own in front of it (Boost.Fiber's
// buffered_channel guards its state with a spinlock, on which OS threads burned most of the CPU of
// a fast thread-mode crawl while a preempted holder kept them waiting).
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
    has_room_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    lock.unlock();
    has_items_.notify_one();
    return true;
  }

  // Never waits: false, leaving `item` as it was, when the queue is full or closed. Safe where no
  // fiber may be suspended (inside a fiber scheduler).
  bool try_push(T&& item) {
    {
      std::lock_guard lock(mutex_);
      if (closed_ || items_.size() >= capacity_) return false;
      items_.push_back(std::move(item));
    }
    has_items_.notify_one();
    return true;
  }

  // Waits for an item; `closed` once the queue is closed and empty, `woken` after wake_pop().
  Popped pop(T& out) {
    std::unique_lock lock(mutex_);
    has_items_.wait(lock, [&] { return !items_.empty() || closed_ || woken_; });
    if (items_.empty()) {
      if (closed_) return Popped::closed;
      woken_ = false;
      return Popped::woken;
    }
    out = std::move(items_.front());
    items_.pop_front();
    woken_ = false;  // the pop returns anyway: the wake is spent
    lock.unlock();
    has_room_.notify_one();
    return Popped::item;
  }

  // Makes one waiting pop() (or the next one) return, with `woken` if there is no item: for a
  // consumer that has something else to look at (the worker process's fetch starts). Never waits.
  void wake_pop() {
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
    }
    has_items_.notify_one();
  }

  // Every push from now on fails; pops take what is left, then return `closed`.
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    has_items_.notify_all();
    has_room_.notify_all();
  }

  std::size_t capacity() const { return capacity_; }

 private:
  const std::size_t capacity_;
  std::mutex mutex_;
  boost::fibers::condition_variable_any has_items_, has_room_;
  std::deque<T> items_;
  bool closed_ = false;
  bool woken_ = false;
};

}  // namespace crawl
