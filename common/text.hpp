// Small text helpers shared by the modules that read protocol text (robots.txt, HTTP headers).
#pragma once

#include <algorithm>
#include <string_view>

namespace crawl {

// ASCII-only, so a protocol's case-insensitive names compare the same in every locale.
inline char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

}  // namespace crawl
