// The calling thread's own cache of freed memory, in the allocator crawl runs on (jemalloc, linked
// into the crawl binary only: cli/allocator.cpp).
#pragma once

namespace crawl {

// Turns the calling thread's cache off, so that what it allocates and frees goes to the shared
// arena at once. For thread mode's fetching threads: hundreds of threads, each holding a cache of
// its own, took thread mode's W1 (2,000 pages at -c 200) from 30 MB to 82 MB and from 1.03 to
// 1.10 x curl_floor's time (perf/RESULTS.md, "A kept-alive connection stays in the epoll set").
// Where crawl runs on another allocator (a sanitizer's, or glibc's in the tests), nothing.
void drop_thread_allocation_cache() noexcept;

}  // namespace crawl
