#include "crawler/body_hash.hpp"

#include <new>

// Debian's libxxhash exports two builds of XXH3: the plain names run its SSE2 code, the _dispatch
// names pick AVX2 or AVX-512 when the CPU has them. On an 18 KB body the dispatched one is about
// 3 times faster (crawl_microbench --benchmark_filter=BodyHash), and every fetched byte goes
// through it on the fetching thread. The hashes are the same.
#if defined(__x86_64__) && __has_include(<xxh_x86dispatch.h>)
#define XXH_DISPATCH_DISABLE_REPLACE  // the names are spelled out below
#include <xxh_x86dispatch.h>
#define CRAWL_XXH3_DISPATCH 1
#endif

namespace crawl {

BodyHash::BodyHash() : state_(XXH3_createState(), &XXH3_freeState) {
  if (!state_) throw std::bad_alloc();
  reset();
}

void BodyHash::reset() {
  XXH3_128bits_reset(state_.get());
}

void BodyHash::update(const char* data, size_t n) {
#ifdef CRAWL_XXH3_DISPATCH
  XXH3_128bits_update_dispatch(state_.get(), data, n);
#else
  XXH3_128bits_update(state_.get(), data, n);
#endif
}

std::string BodyHash::hex() const {
  return xxh128_hex(XXH3_128bits_digest(state_.get()));
}

bool BodyHash::dispatched() {
#ifdef CRAWL_XXH3_DISPATCH
  return true;
#else
  return false;
#endif
}

std::string xxh128_hex(XXH128_hash_t hash) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, hash);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(2 * sizeof(canonical.digest), '0');
  for (size_t i = 0; i < sizeof(canonical.digest); ++i) {
    hex[2 * i] = kDigits[canonical.digest[i] >> 4];
    hex[2 * i + 1] = kDigits[canonical.digest[i] & 0xf];
  }
  return hex;
}

}  // namespace crawl
