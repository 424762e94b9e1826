// Where the frontier hands out tasks, and the router thread mode fetches from. Internal to crawler/.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crawler/channel.hpp"

namespace crawl {

// The frontier's way out. push() never blocks for long: the frontier never has more tasks out than
// the sink was sized for.
class TaskSink {
 public:
  virtual void push(TaskBatch&& batch) = 0;
  virtual void close() = 0;

 protected:
  ~TaskSink() = default;
};

// Fiber producers and the process feeder take their tasks from a channel.
class ChannelSink final : public TaskSink {
 public:
  explicit ChannelSink(TaskChannel& channel) : channel_(channel) {}
  void push(TaskBatch&& batch) override { channel_.push(std::move(batch)); }
  void close() override { channel_.close(); }

 private:
  TaskChannel& channel_;
};

// Tasks waiting for a producer, in the frontier's order. A producer coming back takes one named for
// it (UrlTask::lane), else one of the host it fetched from last, among the first 64; else the front
// one, which is passed over at most 32 times in a row, so none waits for ever. Used under its
// owner's lock.
class WaitingTasks {
 public:
  bool empty() const { return tasks_.empty(); }
  void push(UrlTask&& task) { tasks_.push_back(std::move(task)); }
  // Must not be empty.
  UrlTask take_for(int lane, std::string_view origin);
  // Offers every task that names a lane to `give` (bool(UrlTask&)), which moves it out and returns
  // true to take it.
  template <class Give>
  void give_named(Give give) {
    for (auto it = tasks_.begin(); it != tasks_.end();)
      it = it->lane >= 0 && give(*it) ? tasks_.erase(it) : it + 1;
  }
  std::deque<UrlTask> take_all() { return std::exchange(tasks_, {}); }

 private:
  std::deque<UrlTask> tasks_;
  int front_passed_over_ = 0;
};

// Thread mode: hands each task straight to one waiting thread ("lane"), preferring the lane the task
// names (UrlTask::lane): the thread that just finished a fetch from the same host still holds an
// idle connection to it, and only it can reuse that connection (libcurl's connection pools cannot
// be shared between threads). Without this, a list over many hosts opens a new connection for
// nearly every fetch. A lane that finished its fetch but has not yet come back (it is storing its
// page) still gets the task it is named for: it will be back in microseconds. Otherwise the most
// recently idle lane gets it, and with none idle it waits (WaitingTasks) for the next lane to come
// back (without per-host rules the frontier keeps a reserve of URLs there). Each hand-off wakes
// exactly the thread that gets the task.
class TaskRouter final : public TaskSink {
 public:
  explicit TaskRouter(int lanes);
  void push(TaskBatch&& batch) override;
  void close() override;

  // The lane's next task; blocks until there is one. nullopt once closed and nothing is left.
  std::optional<UrlTask> take(int lane);
  // The lane's fetch is over and it will call take() next.
  void returning(int lane);
  // Every task no lane took (when no producer thread could start).
  std::vector<UrlTask> drain();
  // Lanes asleep in take() for want of a task.
  int idle_lanes() const;

 private:
  enum class LaneState { fetching, returning, idle };
  struct Lane {
    LaneState state = LaneState::fetching;
    std::optional<UrlTask> mail;
    std::string origin;  // scheme://host:port of the lane's latest task
    std::condition_variable cv;
    int prev = -1, next = -1;  // in the idle list while idle
  };
  // Under mutex_: gives the task to `lane`; returns whether that lane sleeps and must be woken.
  bool give(int lane, UrlTask&& task);
  void link_idle(int lane);
  void unlink_idle(int lane);

  mutable std::mutex mutex_;
  std::vector<Lane> lanes_;
  int idle_head_ = -1;  // most recently idle first
  WaitingTasks waiting_;
  bool closed_ = false;
};

}  // namespace crawl
