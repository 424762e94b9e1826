// Wall-clock time as stored in rows and leases: seconds since the Unix epoch.
#pragma once

#include <chrono>

namespace crawl {

inline double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace crawl
