#include "crawler/progress.hpp"

#include <chrono>
#include <cstdio>

#include "common/clock.hpp"
#include "common/thread_name.hpp"

namespace crawl {

void ProgressLine::stop() {
  {
    std::lock_guard lock(mutex_);
    if (done_) return;
    done_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (enabled_) std::fputs("\r\033[K", stderr);
}

void ProgressLine::loop() {
  name_this_thread("crawl-progress");
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, std::chrono::milliseconds(250), [&] { return done_; })) {
    every_tick_();
    if (!enabled_) continue;
    const double elapsed = seconds_between(start, std::chrono::steady_clock::now());
    const auto done = tally_.done();
    std::fprintf(stderr, "\r\033[K%lld done (%lld failed), %lld in flight, %.0f pages/s, %.1f s",
                 static_cast<long long>(done), static_cast<long long>(tally_.failed()),
                 static_cast<long long>(in_flight_.load()), elapsed > 0 ? done / elapsed : 0.0, elapsed);
    std::fflush(stderr);
  }
}

}  // namespace crawl
