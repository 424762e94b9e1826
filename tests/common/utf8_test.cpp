#include "common/utf8.hpp"

#include <gtest/gtest.h>

namespace crawl {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// One U+FFFD per maximal subpart of an ill-formed sequence (Unicode 3.9, "U+FFFD Substitution of
// Maximal Subparts"), as the WHATWG decoder does.
TEST(ValidUtf8, ReplacesEachMaximalSubpartOnce) {
  EXPECT_EQ(valid_utf8("abc"), "abc");
  EXPECT_EQ(valid_utf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(valid_utf8("\xFF"), kReplacement);
  EXPECT_EQ(valid_utf8("\xE6\x97"), kReplacement);  // a three-byte sequence cut short
  EXPECT_EQ(valid_utf8("\xE6\x97"
                       "a"),
            std::string(kReplacement) + "a");
  EXPECT_EQ(valid_utf8("\xED\xA0\x80"), std::string(kReplacement) + std::string(kReplacement) +
                                            std::string(kReplacement));  // a surrogate: three subparts
  EXPECT_EQ(valid_utf8("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
}

TEST(ValidUtf8, TellsWellFormedTextApartPastTheAsciiFastPath) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii text longer than eight bytes"));
  EXPECT_TRUE(is_valid_utf8("0123456789abcdef\xF0\x9F\x98\x80 and on"));
  EXPECT_FALSE(is_valid_utf8("0123456789abcdef\xC0\xAF"));  // an overlong '/'
  EXPECT_FALSE(is_valid_utf8("0123456\xE9"));               // the last byte, after a full word
  EXPECT_FALSE(is_valid_utf8("01234567\xE6\x97"));
}

TEST(Utf8Sequence, DecodesTheCodePoint) {
  EXPECT_EQ(utf8_sequence_at("\xE3\x83\x84", 0).code_point, U'\u30C4');
  EXPECT_EQ(utf8_sequence_at("a\xC2\x9B", 1).code_point, U'\u009B');
  EXPECT_TRUE(is_terminal_control(U'\u009B'));
  EXPECT_TRUE(is_terminal_control(U'\u202E'));
  EXPECT_FALSE(is_terminal_control(U'\u00E9'));
  EXPECT_EQ(terminal_width(U'\u30C4'), 2);
  EXPECT_EQ(terminal_width(U'\u0301'), 0);
  EXPECT_EQ(terminal_width(U'a'), 1);
}

}  // namespace
}  // namespace crawl
