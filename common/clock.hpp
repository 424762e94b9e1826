// Clocks: wall-clock time as stored in rows and leases, spans of the monotonic clock, and the CPU a
// thread has used.
#pragma once

#include <time.h>

#include <chrono>

namespace crawl {

// Seconds since the Unix epoch.
inline double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

inline double seconds_between(std::chrono::steady_clock::time_point a,
                              std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// CPU seconds the calling thread has used (user and system).
inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace crawl
