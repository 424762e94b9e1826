#include "crawler/task_router.hpp"

#include "urls/url.hpp"

namespace crawl {
namespace {

// How far into the waiting tasks a producer looks for its own, and how often the front task may be
// passed over before it goes to the next producer whatever its host.
constexpr size_t kLookAhead = 64;
constexpr int kMaxPassedOver = 32;

}  // namespace

UrlTask WaitingTasks::take_for(int lane, std::string_view origin) {
  auto pick = tasks_.end();
  size_t looked = 0;
  for (auto it = tasks_.begin(); it != tasks_.end() && looked < kLookAhead; ++it, ++looked) {
    if (lane >= 0 && it->lane == lane) {
      pick = it;
      break;
    }
    if (pick == tasks_.end() && front_passed_over_ < kMaxPassedOver && !origin.empty() &&
        urls::origin_of(it->url) == origin)
      pick = it;
  }
  if (pick == tasks_.end()) pick = tasks_.begin();
  front_passed_over_ = pick == tasks_.begin() ? 0 : front_passed_over_ + 1;
  UrlTask task = std::move(*pick);
  tasks_.erase(pick);
  return task;
}

TaskRouter::TaskRouter(int lanes) : lanes_(static_cast<size_t>(lanes)) {}

void TaskRouter::link_idle(int lane) {
  Lane& l = lanes_[static_cast<size_t>(lane)];
  l.prev = -1;
  l.next = idle_head_;
  if (idle_head_ >= 0) lanes_[static_cast<size_t>(idle_head_)].prev = lane;
  idle_head_ = lane;
}

void TaskRouter::unlink_idle(int lane) {
  Lane& l = lanes_[static_cast<size_t>(lane)];
  if (l.prev >= 0)
    lanes_[static_cast<size_t>(l.prev)].next = l.next;
  else
    idle_head_ = l.next;
  if (l.next >= 0) lanes_[static_cast<size_t>(l.next)].prev = l.prev;
  l.prev = l.next = -1;
}

bool TaskRouter::give(int lane, UrlTask&& task) {
  Lane& l = lanes_[static_cast<size_t>(lane)];
  const bool sleeping = l.state == LaneState::idle;
  if (sleeping) unlink_idle(lane);
  l.origin.assign(urls::origin_of(task.url));
  l.mail = std::move(task);
  l.state = LaneState::fetching;
  return sleeping;
}

void TaskRouter::push(TaskBatch&& batch) {
  std::vector<int> wake;
  {
    std::lock_guard lock(mutex_);
    for (UrlTask& task : batch) {
      const int named = task.lane;
      if (named >= 0 && static_cast<size_t>(named) < lanes_.size() &&
          lanes_[static_cast<size_t>(named)].state != LaneState::fetching) {
        if (give(named, std::move(task))) wake.push_back(named);
      } else if (idle_head_ >= 0) {
        const int lane = idle_head_;
        give(lane, std::move(task));
        wake.push_back(lane);
      } else {
        waiting_.push(std::move(task));
      }
    }
  }
  // Woken after the lock is let go, so the thread does not wake only to wait for it.
  for (int lane : wake) lanes_[static_cast<size_t>(lane)].cv.notify_one();
}

void TaskRouter::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  for (int lane = idle_head_; lane >= 0; lane = lanes_[static_cast<size_t>(lane)].next)
    lanes_[static_cast<size_t>(lane)].cv.notify_one();
}

void TaskRouter::returning(int lane) {
  std::lock_guard lock(mutex_);
  Lane& l = lanes_[static_cast<size_t>(lane)];
  if (l.state == LaneState::fetching && !l.mail) l.state = LaneState::returning;
}

std::optional<UrlTask> TaskRouter::take(int lane) {
  std::unique_lock lock(mutex_);
  Lane& l = lanes_[static_cast<size_t>(lane)];
  for (;;) {
    if (l.mail) {
      std::optional<UrlTask> task = std::move(l.mail);
      l.mail.reset();
      l.state = LaneState::fetching;
      return task;
    }
    // Tasks wait here only while no lane is idle, so an idle lane never sleeps beside them.
    if (!waiting_.empty()) {
      std::optional<UrlTask> task = waiting_.take_for(lane, l.origin);
      l.origin.assign(urls::origin_of(task->url));
      l.state = LaneState::fetching;
      return task;
    }
    if (closed_) {
      if (l.state == LaneState::idle) unlink_idle(lane);
      l.state = LaneState::fetching;
      return std::nullopt;
    }
    if (l.state != LaneState::idle) {
      l.state = LaneState::idle;
      link_idle(lane);
    }
    l.cv.wait(lock);
  }
}

int TaskRouter::idle_lanes() const {
  std::lock_guard lock(mutex_);
  int n = 0;
  for (int lane = idle_head_; lane >= 0; lane = lanes_[static_cast<size_t>(lane)].next) ++n;
  return n;
}

std::vector<UrlTask> TaskRouter::drain() {
  std::lock_guard lock(mutex_);
  std::deque<UrlTask> waiting = waiting_.take_all();
  std::vector<UrlTask> out(std::make_move_iterator(waiting.begin()), std::make_move_iterator(waiting.end()));
  for (auto& l : lanes_)
    if (l.mail) {
      out.push_back(std::move(*l.mail));
      l.mail.reset();
    }
  return out;
}

}  // namespace crawl
