// What storing a page costs: ResultWriter taking W2-like rows (a 200 with no body, as `--no-parse`
// stores them) into a fresh database, submitted from this thread and written by the writer's.
// CPU time is this process's (both threads): build/crawl_microbench --benchmark_filter=Writer
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <filesystem>
#include <string>
#include <vector>

#include "storage/writer.hpp"

namespace {

double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

crawl::storage::PageRecord w2_row(int64_t seq) {
  crawl::storage::PageRecord r;
  r.seq = seq;
  r.source = "/tmp/crawl-bench-abcdef/urls.txt";
  r.line = seq + 1;
  r.input = "http://127.0.0.1:41234/status/200?i=" + std::to_string(seq);
  r.url = r.input;
  r.final_url = r.input;
  r.status = 200;
  r.content_type = "text/plain; charset=utf-8";
  r.charset = "utf-8";
  r.wire_bytes = 3;
  r.body_bytes = 3;
  r.attempts = 1;
  r.timings = {.dns_ms = 0.01,
               .connect_ms = 0.0,
               .tls_ms = 0,
               .ttfb_ms = 0.4,
               .total_ms = 0.5 + seq % 97 * 0.01,
               .queue_ms = 0.02};
  r.worker = "t0.f" + std::to_string(seq % 50);
  r.fetched_at = 1.7e9 + static_cast<double>(seq) * 1e-4;
  return r;
}

void WriterRows(benchmark::State& state) {
  const auto rows = state.range(0);
  const auto dir = std::filesystem::temp_directory_path() / "crawl-writer-bench";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "bench.db").string();
  double cpu = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    std::vector<crawl::storage::PageRecord> ready;
    ready.reserve(static_cast<size_t>(rows));
    for (int64_t i = 0; i < rows; ++i) ready.push_back(w2_row(i));
    crawl::storage::RunConfig config;
    config.mode = "fiber";
    auto writer = crawl::storage::ResultWriter::open({.path = path}, config);
    const double before = process_cpu_seconds();
    state.ResumeTiming();
    for (auto& r : ready) writer->submit(std::move(r));
    writer->finish({});
    cpu += process_cpu_seconds() - before;
  }
  std::filesystem::remove_all(dir);
  state.counters["cpu_us_per_row"] =
      benchmark::Counter(cpu * 1e6 / static_cast<double>(rows), benchmark::Counter::kAvgIterations);
  state.counters["rows_per_s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(WriterRows)->Arg(20'000)->Unit(benchmark::kMillisecond)->UseRealTime();

// What durability adds to a link-following crawl: for each URL, the frontier entry written when it
// is taken in and removed by its row's insert, plus each page's links to follow (37 of them, as on
// the real documentation pages of the parsing benchmark) stored with its row and removed once the
// frontier has dealt with them. frontier_changes_per_s counts entries written and removed.
void WriterFrontierChanges(benchmark::State& state) {
  const auto rows = state.range(0);
  const auto dir = std::filesystem::temp_directory_path() / "crawl-writer-bench";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "bench.db").string();
  double cpu = 0;
  std::vector<std::string> links;
  for (int i = 0; i < 37; ++i) links.push_back("http://h1.localhost:41234/page/" + std::to_string(i * 13));
  for (auto _ : state) {
    state.PauseTiming();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    std::vector<crawl::storage::PageRecord> ready;
    std::vector<crawl::storage::PendingUrl> entries;
    for (int64_t i = 0; i < rows; ++i) {
      auto r = w2_row(i);
      r.depth = 1;
      r.parent_url = "http://h1.localhost:41234/page/0";
      r.follow = links;
      r.seed_host = "h1.localhost";
      entries.push_back({.seq = i,
                         .source = r.source,
                         .line = 1,
                         .input = r.url,
                         .url = r.url,
                         .depth = 1,
                         .parent_url = r.parent_url,
                         .seed_host = r.seed_host});
      ready.push_back(std::move(r));
    }
    crawl::storage::RunConfig config;
    config.mode = "fiber";
    auto writer = crawl::storage::ResultWriter::open({.path = path}, config);
    const double before = process_cpu_seconds();
    state.ResumeTiming();
    // Entries run ahead of rows by a few hundred, as they do while the frontier admits a level.
    constexpr int64_t kAhead = 512;
    for (int64_t i = 0; i < rows + kAhead; ++i) {
      if (i < rows) writer->submit(std::move(entries[static_cast<size_t>(i)]));
      if (i >= kAhead) {
        const auto k = static_cast<size_t>(i - kAhead);
        writer->submit(std::move(ready[k]));
        writer->submit(crawl::storage::LinksTaken{static_cast<int64_t>(k)});
      }
    }
    writer->finish({});
    cpu += process_cpu_seconds() - before;
  }
  std::filesystem::remove_all(dir);
  state.counters["cpu_us_per_row"] =
      benchmark::Counter(cpu * 1e6 / static_cast<double>(rows), benchmark::Counter::kAvgIterations);
  state.counters["rows_per_s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["frontier_changes_per_s"] =
      benchmark::Counter(static_cast<double>(rows * 4), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(WriterFrontierChanges)->Arg(20'000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
