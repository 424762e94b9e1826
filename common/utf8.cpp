#include "common/utf8.hpp"

#include <cstring>

namespace crawl {

Utf8Sequence utf8_sequence_at(std::string_view bytes, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  const unsigned char b = p[i];
  if (b < 0x80) return {1, true, b};
  // The length of a well-formed sequence starting with b, and the range its second byte must be in.
  size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;
  char32_t code_point = 0;
  if (b >= 0xC2 && b <= 0xDF) {
    length = 2;
    code_point = b & 0x1F;
  } else if (b >= 0xE0 && b <= 0xEF) {
    length = 3;
    code_point = b & 0x0F;
    if (b == 0xE0) low = 0xA0;
    if (b == 0xED) high = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    length = 4;
    code_point = b & 0x07;
    if (b == 0xF0) low = 0x90;
    if (b == 0xF4) high = 0x8F;
  }
  if (length == 0) return {1, false, 0};
  size_t k = 1;
  for (; k < length && i + k < n; ++k) {
    const unsigned char next = p[i + k];
    if (next < (k == 1 ? low : 0x80) || next > (k == 1 ? high : 0xBF)) break;
    code_point = (code_point << 6) | (next & 0x3F);
  }
  return k == length ? Utf8Sequence{length, true, code_point} : Utf8Sequence{k, false, 0};
}

bool is_valid_utf8(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    if (i + 8 <= bytes.size()) {
      uint64_t word = 0;
      std::memcpy(&word, bytes.data() + i, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const Utf8Sequence sequence = utf8_sequence_at(bytes, i);
    if (!sequence.valid) return false;
    i += sequence.bytes;
  }
  return true;
}

std::string valid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const Utf8Sequence sequence = utf8_sequence_at(bytes, i);
    if (sequence.valid)
      out.append(bytes.substr(i, sequence.bytes));
    else
      out += "\xEF\xBF\xBD";
    i += sequence.bytes;
  }
  return out;
}

int terminal_width(char32_t c) {
  if (c < 0x300) return 1;
  // Combining marks, and characters that take no column.
  if ((c >= 0x300 && c <= 0x36F) || (c >= 0x1AB0 && c <= 0x1AFF) || (c >= 0x1DC0 && c <= 0x1DFF) ||
      (c >= 0x20D0 && c <= 0x20FF) || (c >= 0xFE20 && c <= 0xFE2F) || (c >= 0x200B && c <= 0x200F) ||
      c == 0x2060 || c == 0xFEFF || (c >= 0xFE00 && c <= 0xFE0F))
    return 0;
  // East Asian wide and fullwidth blocks, and the emoji blocks.
  if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) || (c >= 0x3041 && c <= 0x33FF) ||
      (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
      (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) ||
      (c >= 0xFF00 && c <= 0xFF60) || (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
      (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD))
    return 2;
  return 1;
}

bool is_terminal_control(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x061C || c == 0x200E || c == 0x200F ||
         (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

}  // namespace crawl
