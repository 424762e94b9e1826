// The body's hash on the fetching thread: BodyHash (libxxhash's XXH3-128 in the vector code picked
// for this CPU) against libxxhash's plain entry point (its SSE2 build), on an 18 KB body given in
// the 16 KiB pieces libcurl hands over:
//   build/crawl_microbench --benchmark_filter=BodyHash
#include <benchmark/benchmark.h>
#include <xxhash.h>

#include <cstddef>
#include <memory>
#include <string>

#include "crawler/body_hash.hpp"

namespace {

constexpr size_t kBody = 18 * 1024;
constexpr size_t kPiece = 16 * 1024;

std::string body() {
  std::string b(kBody, '\0');
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<char>(i * 131 + (i >> 7));
  return b;
}

void BodyHash_crawl(benchmark::State& state) {
  const std::string b = body();
  crawl::BodyHash hash;
  for (auto _ : state) {
    hash.reset();
    for (size_t at = 0; at < b.size(); at += kPiece)
      hash.update(b.data() + at, std::min(kPiece, b.size() - at));
    benchmark::DoNotOptimize(hash.hex());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * b.size()));
}
BENCHMARK(BodyHash_crawl);

void BodyHash_plainLibrary(benchmark::State& state) {
  const std::string b = body();
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> s(XXH3_createState(), &XXH3_freeState);
  for (auto _ : state) {
    XXH3_128bits_reset(s.get());
    for (size_t at = 0; at < b.size(); at += kPiece)
      XXH3_128bits_update(s.get(), b.data() + at, std::min(kPiece, b.size() - at));
    benchmark::DoNotOptimize(XXH3_128bits_digest(s.get()));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * b.size()));
}
BENCHMARK(BodyHash_plainLibrary);

}  // namespace
