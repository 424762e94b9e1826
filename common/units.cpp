#include "common/units.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/usage_error.hpp"

namespace crawl {
namespace {

bool split_number(std::string_view text, double& value, std::string& unit) {
  std::string s(text);
  char* end = nullptr;
  value = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(value) || value < 0) return false;
  unit.assign(end);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return true;
}

}  // namespace

std::chrono::milliseconds parse_duration(std::string_view text, std::string_view flag) {
  double v = 0;
  std::string unit;
  if (split_number(text, v, unit)) {
    double ms = -1;
    if (unit.empty() || unit == "s") ms = v * 1000;
    if (unit == "ms") ms = v;
    if (unit == "m" || unit == "min") ms = v * 60'000;
    if (ms >= 0) return std::chrono::milliseconds(static_cast<int64_t>(std::llround(ms)));
  }
  throw UsageError(std::string(flag) + ": '" + std::string(text) +
                   "' is not a duration (write e.g. 500ms, 30s or 2m)");
}

int64_t parse_size(std::string_view text, std::string_view flag) {
  double v = 0;
  std::string unit;
  if (split_number(text, v, unit)) {
    if (!unit.empty() && unit.back() == 'b') unit.pop_back();
    if (!unit.empty() && unit.back() == 'i') unit.pop_back();
    double mult = -1;
    if (unit.empty()) mult = 1;
    if (unit == "k") mult = 1024;
    if (unit == "m") mult = 1024.0 * 1024;
    if (unit == "g") mult = 1024.0 * 1024 * 1024;
    if (mult > 0 && v * mult < 9e18) return static_cast<int64_t>(v * mult);
  }
  throw UsageError(std::string(flag) + ": '" + std::string(text) +
                   "' is not a size (write e.g. 512k, 10M or 1G)");
}

std::string format_bytes(int64_t bytes) {
  char text[32];
  if (bytes >= 1'000'000'000)
    std::snprintf(text, sizeof text, "%.1f GB", static_cast<double>(bytes) / 1e9);
  else if (bytes >= 1'000'000)
    std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  else if (bytes >= 1'000)
    std::snprintf(text, sizeof text, "%.1f kB", static_cast<double>(bytes) / 1e3);
  else
    std::snprintf(text, sizeof text, "%lld B", static_cast<long long>(bytes));
  return text;
}

}  // namespace crawl
