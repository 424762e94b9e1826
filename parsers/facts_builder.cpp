#include "parsers/facts_builder.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/text.hpp"

namespace crawl::parsers::detail {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = ascii_lower(c);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

void count_collapsed(const char* s, size_t len, int64_t& count, bool& pending_space) {
  int64_t n = count;
  bool pending = pending_space;
  size_t i = 0;
  // Leading spaces count nothing: up to the first byte that is not a space, one at a time.
  for (; n == 0 && i < len; ++i) {
    if (!is_space(s[i])) n = 1;
  }
#if defined(__SSE2__)
  // Once something is counted, every byte that is not a space counts one, and one more when the
  // byte before it is a space (its run's one space); `pending` stands for the byte before the block.
  for (; i + 16 <= len; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    __m128i spaces = _mm_cmpeq_epi8(v, _mm_set1_epi8(' '));
    spaces = _mm_or_si128(spaces, _mm_cmpeq_epi8(v, _mm_set1_epi8('\t')));
    spaces = _mm_or_si128(spaces, _mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
    spaces = _mm_or_si128(spaces, _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')));
    spaces = _mm_or_si128(spaces, _mm_cmpeq_epi8(v, _mm_set1_epi8('\f')));
    const auto space_bits = static_cast<unsigned>(_mm_movemask_epi8(spaces));
    const unsigned text_bits = ~space_bits & 0xFFFFu;
    const unsigned after_space = ((space_bits << 1) | (pending ? 1u : 0u)) & 0xFFFFu;
    n += bits_set(text_bits | (text_bits & after_space) << 16);
    pending = (space_bits >> 15) != 0;
  }
#endif
  for (; i < len; ++i) {
    if (is_space(s[i])) {
      pending = n > 0;
      continue;
    }
    n += pending ? 2 : 1;
    pending = false;
  }
  count = n;
  pending_space = pending;
}

void cut_utf8(std::string& s, size_t limit) {
  if (s.size() <= limit) return;
  size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
}

// head, script, style, noscript, template, title; asked of every start and end tag libxml2 reports.
bool hides_text(std::string_view tag) {
  if (tag.empty()) return false;
  switch (tag[0]) {
    case 'h':
      return tag == "head";
    case 's':
      return tag == "script" || tag == "style";
    case 'n':
      return tag == "noscript";
    case 't':
      return tag == "template" || tag == "title";
    default:
      return false;
  }
}

const Encoding* meta_encoding(const char* charset, const char* http_equiv, const char* content) {
  if (charset) return encoding_for_label(charset);
  if (http_equiv && content && lower(trim(http_equiv)) == "content-type")
    return encoding_for_label(charset_from_content_type(content));
  return nullptr;
}

}  // namespace crawl::parsers::detail
