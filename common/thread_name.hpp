// Names the calling thread, so that `top -H`, `perf` and debuggers tell the crawl's threads apart.
#pragma once

#include <pthread.h>

#include <string>

namespace crawl {

// Linux keeps at most 15 characters; longer names are cut rather than refused.
inline void name_this_thread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace crawl
