#include "parsers/facts_builder.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace crawl::parsers::detail {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

void cut_utf8(std::string& s, size_t limit) {
  if (s.size() <= limit) return;
  size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
}

bool hides_text(std::string_view tag) {
  static constexpr std::array<std::string_view, 6> kHiding = {"head",     "script",   "style",
                                                              "noscript", "template", "title"};
  return std::find(kHiding.begin(), kHiding.end(), tag) != kHiding.end();
}

const Encoding* meta_encoding(const char* charset, const char* http_equiv, const char* content) {
  if (charset) return encoding_for_label(charset);
  if (http_equiv && content && lower(trim(http_equiv)) == "content-type")
    return encoding_for_label(charset_from_content_type(content));
  return nullptr;
}

}  // namespace crawl::parsers::detail
