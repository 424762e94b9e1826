// The frontier's time. Its policies ask a TimeSource for "now" instead of the steady clock, so
// their tests move time by hand: no sleeps, no dependence on how busy the machine is.
#pragma once

#include <chrono>

namespace crawl {

using TimePoint = std::chrono::steady_clock::time_point;

class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual TimePoint now() const = 0;
};

class SteadyTime final : public TimeSource {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
};

// Stands still until told to move.
class ManualTime final : public TimeSource {
 public:
  TimePoint now() const override { return now_; }
  void advance(std::chrono::milliseconds by) { now_ += by; }

 private:
  TimePoint now_ = TimePoint{} + std::chrono::hours(1);
};

}  // namespace crawl
