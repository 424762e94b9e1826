// The XXH3-128 of a body as it streams through (storage::PageRecord::body_hash), in hex as
// xxh128sum prints it.
#pragma once

#include <xxhash.h>

#include <cstddef>
#include <memory>
#include <string>

namespace crawl {

class BodyHash {
 public:
  BodyHash();
  void reset();
  void update(const char* data, size_t n);
  std::string hex() const;  // of what update() was given since reset()
  // Whether the hashing runs libxxhash's vector code picked for this CPU (AVX2 or AVX-512)
  // rather than its baseline SSE2 build.
  static bool dispatched();

 private:
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state_;
};

// As xxh128sum prints a hash: the high 64 bits, then the low, each as 16 hex digits.
std::string xxh128_hex(XXH128_hash_t hash);

}  // namespace crawl
