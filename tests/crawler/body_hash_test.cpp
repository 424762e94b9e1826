// The body's hash is the same however the body arrives in pieces, and the same as libxxhash's plain
// one-shot XXH3-128 (its SSE2 code), while BodyHash runs the vector code picked for this CPU; its
// hex is xxh128sum's (the empty body's, below).
#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstddef>
#include <random>
#include <string>

#include "crawler/body_hash.hpp"

namespace crawl {
namespace {

TEST(BodyHash, MatchesTheOneShotHashForEveryLengthAndEverySplit) {
  std::mt19937 random(7);
  // Lengths at XXH3's internal edges (16, 128 and 240 bytes; 64-byte stripes; 1,024-byte blocks)
  // and a page's size.
  for (size_t length : {0, 1, 16, 17, 128, 129, 240, 241, 1023, 1024, 1025, 18432, 100'003}) {
    std::string body(length, '\0');
    for (auto& c : body) c = static_cast<char>(random());
    const std::string expected = xxh128_hex(XXH3_128bits(body.data(), body.size()));
    for (int split = 0; split < 4; ++split) {
      BodyHash hash;
      size_t at = 0;
      while (at < body.size()) {
        const size_t piece =
            split == 0 ? body.size() : std::min(body.size() - at, 1 + random() % (300 * split));
        hash.update(body.data() + at, piece);
        at += piece;
      }
      EXPECT_EQ(hash.hex(), expected) << "length " << length << ", split " << split;
    }
  }
}

TEST(BodyHash, ResetStartsAnewAndAnEmptyBodyHasTheEmptyHash) {
  BodyHash hash;
  EXPECT_EQ(hash.hex(), "99aa06d3014798d86001c324468d497f");  // xxh128sum of an empty file
  hash.update("some bytes", 10);
  EXPECT_NE(hash.hex(), "99aa06d3014798d86001c324468d497f");
  hash.reset();
  EXPECT_EQ(hash.hex(), "99aa06d3014798d86001c324468d497f");
}

#if defined(__x86_64__)
TEST(BodyHash, UsesTheVectorCodeChosenForThisCpu) {
  // Debian's libxxhash exports it on x86-64; without it every fetched byte is hashed about 3 times slower.
  EXPECT_TRUE(BodyHash::dispatched());
}
#endif

}  // namespace
}  // namespace crawl
