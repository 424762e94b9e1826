// UTF-8 as the web sends it: possibly ill-formed. Shared by the charset decoder, which sizes its
// output, and the query output, which must print valid text in every format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace crawl {

// The sequence starting at bytes[i]: how many bytes it takes, and its code point when it is
// well-formed (Unicode table 3-7). An ill-formed one is its maximal subpart, which a decoder
// replaces with one U+FFFD.
struct Utf8Sequence {
  size_t bytes;
  bool valid;
  char32_t code_point;
};
Utf8Sequence utf8_sequence_at(std::string_view bytes, size_t i);

// Whether `bytes` is well-formed UTF-8 throughout (ASCII is checked eight bytes at a time).
bool is_valid_utf8(std::string_view bytes);

// `bytes` with each ill-formed subpart replaced by U+FFFD.
std::string valid_utf8(std::string_view bytes);

// Columns a terminal gives the code point: 0 for combining marks and zero-width characters, 2 for
// East Asian wide and fullwidth ones and emoji, 1 for the rest.
int terminal_width(char32_t code_point);

// Controls a terminal acts on rather than shows: C0, DEL, C1, and the bidirectional formatting
// characters that reorder the rest of the line.
bool is_terminal_control(char32_t code_point);

}  // namespace crawl
