// Where the frontier hands out tasks, and the router thread mode fetches from. Internal to crawler/.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
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

// Thread mode: hands each task straight to one waiting thread ("lane"), preferring the lane the task
// names (UrlTask::lane): the thread that just finished a fetch from the same host still holds an
// idle connection to it, and only it can reuse that connection (libcurl's connection pools cannot
// be shared between threads). Without this, a list over many hosts opens a new connection for
// nearly every fetch. A lane that finished its fetch but has not yet come back (it is storing its
// page) still gets the task it is named for: it will be back in microseconds. Otherwise the most
// recently idle lane gets it, and with none idle it waits in a queue for the next lane to come back.
// A lane coming back to that queue takes a URL of the host it fetched from last if one is near the
// front (without per-host rules the frontier keeps a reserve of URLs waiting there, and names no
// lane for them); the front URL is never passed over more than a few dozen times in a row. Each
// hand-off wakes exactly the thread that gets the task.
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
  // Under mutex_: the waiting task for `lane` (which must not be empty).
  UrlTask take_waiting(Lane& lane);
  // Under mutex_: gives the task to `lane`; returns whether that lane sleeps and must be woken.
  bool give(int lane, UrlTask&& task);
  void link_idle(int lane);
  void unlink_idle(int lane);

  mutable std::mutex mutex_;
  std::vector<Lane> lanes_;
  int idle_head_ = -1;  // most recently idle first
  std::deque<UrlTask> waiting_;
  int front_passed_over_ = 0;
  bool closed_ = false;
};

}  // namespace crawl
