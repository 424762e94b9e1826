// crawl's allocator is jemalloc, linked into the crawl binary only (CMakeLists.txt), with these
// settings, which jemalloc reads from this variable as it starts (MALLOC_CONF in the environment
// still adds to them). Measured against glibc's malloc on the same runs (perf/RESULTS.md, "A
// fetching fiber's stack, and three allocators tried"): libcurl's and crawl's many small
// allocations per page cost less, and glibc's arenas, which give memory back and fault it in again
// at 11-13 µs a page on the benchmark machine, took 46,000 faults on a link-following crawl where
// jemalloc takes 3,400.
//   thp:always  jemalloc's memory in transparent huge pages (madvise): one fault per 2 MB of the
//               bodies and parse trees it hands out instead of 512. Without THP, the same as 4 KB.
//   narenas:1   one arena for every thread (each thread's cache serves most of its allocations):
//               with jemalloc's default of four per core, W3 (10,000 connections) peaked at
//               258 MB against 239 MB with one.
extern "C" {
// The name and type jemalloc looks for; it must be defined in the program, not in a library.
const char* malloc_conf = "thp:always,narenas:1";
}
