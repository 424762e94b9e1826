// The per-process limit on open files, which bounds how many connections a process can hold.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>

namespace crawl {

constexpr uint64_t kUnlimitedOpenFiles = std::numeric_limits<uint64_t>::max();

// Raises the soft limit to the hard one (a process may, and the default soft limit of 1,024 is too
// low for a crawl of many connections). Returns the soft limit now in force (kUnlimitedOpenFiles
// when there is none), or nullopt when it cannot be read.
std::optional<uint64_t> raise_open_files_limit();

}  // namespace crawl
