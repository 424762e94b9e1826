#include "common/units.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/usage_error.hpp"

namespace crawl {
namespace {

constexpr double kMaxDurationMs = 30.0 * 24 * 3600 * 1000;

// A plain decimal number and its unit: "1.5M", "30s". strtod alone would also take " 5", "0x10",
// "1e17" and "inf", which no one means as a size or duration.
bool split_number(std::string_view text, double& value, std::string& unit) {
  const size_t digits = text.find_first_not_of("0123456789.");
  const std::string_view number = text.substr(0, digits);
  if (number.empty() || number.find_first_of("0123456789") == std::string_view::npos ||
      number.find('.') != number.rfind('.'))
    return false;
  value = std::strtod(std::string(number).c_str(), nullptr);
  if (!std::isfinite(value)) return false;
  unit.assign(text.substr(number.size()));
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
    // Longer than anything a crawl waits for, and far from overflowing the clocks' nanoseconds.
    if (ms > kMaxDurationMs)
      throw UsageError(std::string(flag) + ": '" + std::string(text) + "' is too long (at most 30 days)");
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

int64_t parse_positive_size(std::string_view text, std::string_view flag) {
  const int64_t bytes = parse_size(text, flag);
  if (bytes < 1)
    throw UsageError(std::string(flag) + ": '" + std::string(text) +
                     "' is less than a byte, which no body fits (write e.g. 512k or 10M)");
  return bytes;
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
