// Parsing of human-friendly durations ("250ms", "30s", "2m", plain numbers are seconds) and sizes
// ("10M", "512k", "1G", plain numbers are bytes) for command-line flags.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace crawl {

// Throws crawl::UsageError naming `flag` when `text` is not a duration.
std::chrono::milliseconds parse_duration(std::string_view text, std::string_view flag);
// Throws crawl::UsageError naming `flag` when `text` is not a size.
int64_t parse_size(std::string_view text, std::string_view flag);
// The same for a limit that must be at least one byte (--max-size: 0 would refuse every body).
int64_t parse_positive_size(std::string_view text, std::string_view flag);
// "512 B", "18.2 kB", "3.4 MB", "1.2 GB" (powers of 1000, as the summary and --print-urls show sizes).
std::string format_bytes(int64_t bytes);

}  // namespace crawl
