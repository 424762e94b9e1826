#include "common/error_category.hpp"

#include <array>
#include <ostream>

namespace crawl {
namespace {

// In the enum's order; a test checks that every name reads back as its category.
constexpr std::array<std::string_view, kErrorCategories> kNames = {
    "",          "bad_url",  "duplicate", "dns",      "connect",     "timeout",
    "reset",     "tls",      "http_4xx",  "http_5xx", "http_other",  "too_many_redirects",
    "too_large", "decode",   "protocol",  "charset",  "interrupted", "worker_crash",
    "robots",    "excluded", "max_pages", "other"};

}  // namespace

std::string_view name_of(ErrorCategory category) {
  const auto index = static_cast<size_t>(category);
  return index < kNames.size() ? kNames[index] : kNames.back();
}

std::optional<ErrorCategory> category_named(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == name) return static_cast<ErrorCategory>(i);
  return std::nullopt;
}

std::ostream& operator<<(std::ostream& out, ErrorCategory category) {
  return out << (category == ErrorCategory::none ? std::string_view("none") : name_of(category));
}

}  // namespace crawl
