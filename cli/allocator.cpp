// crawl's allocator is jemalloc, linked into the crawl binary only (CMakeLists.txt), with these
// settings, which jemalloc reads from this variable as it starts (MALLOC_CONF in the environment
// still adds to them). Measured against glibc's malloc, interleaved on the same runs (perf/RESULTS.md,
// "A fetching fiber's stack, and crawl on jemalloc"): W2 and W3 took less time, and a
// link-following crawl of real documentation took 3,400 page faults where glibc's took 46,000 (a
// fault costs 11-13 µs on the benchmark machine) and about 0.6 s less CPU.
//   thp:always  jemalloc's memory in transparent huge pages (madvise): one fault per 2 MB of the
//               bodies and parse trees it hands out instead of 512. Where the kernel has no
//               transparent huge pages, its pages stay 4 KB.
//   narenas:1   one arena for every thread (each still allocates through a cache of its own):
//               with jemalloc's default of four per core, W3 (10,000 connections) peaked at
//               258 MB against 239 MB with one.
extern "C" {
// The name and type jemalloc looks for; it must be defined in the program, not in a library.
const char* malloc_conf = "thp:always,narenas:1";
}
