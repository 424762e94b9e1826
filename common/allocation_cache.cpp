#include "common/allocation_cache.hpp"

#include <cstddef>

// jemalloc's control interface; a weak reference, null where the program runs on another
// allocator.
extern "C" int mallctl(const char* name, void* old_value, size_t* old_length, void* new_value,
                       size_t new_length) __attribute__((weak));

namespace crawl {

void drop_thread_allocation_cache() noexcept {
  if (mallctl == nullptr) return;
  bool enabled = false;
  mallctl("thread.tcache.enabled", nullptr, nullptr, &enabled, sizeof enabled);
}

}  // namespace crawl
