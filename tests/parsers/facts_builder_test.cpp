#include "parsers/facts_builder.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace crawl::parsers::detail {
namespace {

// What the text comes to once every run of whitespace is one space and the ends are trimmed.
std::string collapsed(const std::string& text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (is_space(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// The counting path reads 16 bytes at a time: pieces of every length across that width, runs of
// spaces crossing block edges, text that starts with spaces, and space() between pieces (a block
// element's edge in the gumbo walk) must count what the collapsed text holds, byte for byte.
TEST(Collapser, CountsWhatTheCollapsedTextWouldHold) {
  std::mt19937 random(20261206);
  const std::string alphabet = "ab  \t\n\r\f\xC3\xA9<.";
  for (int round = 0; round < 4000; ++round) {
    Collapser counting(nullptr);
    std::string kept;
    Collapser keeping(&kept);
    std::string whole;
    const int pieces = 1 + static_cast<int>(random() % 6);
    for (int p = 0; p < pieces; ++p) {
      if (random() % 4 == 0) {
        counting.space();
        keeping.space();
        whole += ' ';
      }
      // Mostly spaces in some rounds, mostly text in others.
      const unsigned space_share = random() % 8;
      std::string piece(random() % 70, 'x');
      for (char& c : piece) c = random() % 8 < space_share ? ' ' : alphabet[random() % alphabet.size()];
      counting.add(piece.data(), piece.size());
      keeping.add(piece.data(), piece.size());
      whole += piece;
    }
    const std::string expected = collapsed(whole);
    ASSERT_EQ(kept, expected) << "round " << round;
    ASSERT_EQ(counting.count(), static_cast<int64_t>(expected.size()))
        << "round " << round << ": '" << whole << "'";
  }
}

TEST(Collapser, LongRunsAcrossBlocks) {
  const std::string text = std::string(40, ' ') + "one" + std::string(33, '\n') + "two" +
                           std::string(16, '\t') + std::string(32, 'w') + std::string(17, ' ');
  const std::string words = "one two " + std::string(32, 'w');
  Collapser counting(nullptr);
  counting.add(text.data(), text.size());
  EXPECT_EQ(counting.count(), static_cast<int64_t>(words.size()));
  counting.add("x", 1);  // the trailing run becomes one space once more text follows
  EXPECT_EQ(counting.count(), static_cast<int64_t>(words.size() + 2));
}

}  // namespace
}  // namespace crawl::parsers::detail
