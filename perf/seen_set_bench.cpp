// The seen-set's memory per URL (README: "Where the memory goes") and its insert speed, at sizes up
// to 1,000,000 URLs: build/crawl_microbench --benchmark_filter=SeenSet
#include <benchmark/benchmark.h>

#include <string>

#include "urls/url.hpp"

namespace {

void SeenSetInsert(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  double bytes_per_url = 0;
  for (auto _ : state) {
    crawl::urls::SeenSet seen;
    std::string url = "http://h17.localhost:8080/page/";
    const size_t prefix = url.size();
    for (size_t i = 0; i < n; ++i) {
      url.resize(prefix);
      url += std::to_string(i);
      benchmark::DoNotOptimize(seen.insert(url));
    }
    bytes_per_url = static_cast<double>(seen.memory_bytes()) / static_cast<double>(seen.size());
  }
  state.counters["bytes_per_url"] = bytes_per_url;
  state.counters["urls_per_s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(SeenSetInsert)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
