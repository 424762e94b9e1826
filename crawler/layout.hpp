// The execution layout: how many processes, threads and fibers fetch, as each mode presets them.
#pragma once

#include <optional>
#include <string_view>

namespace crawl {

enum class Mode { fiber, thread, process, hybrid };
std::string_view mode_name(Mode mode);

// P processes × T threads × F fibers; `concurrency` (fetches in flight) is their product.
struct Layout {
  Mode mode = Mode::thread;
  int processes = 1;
  int threads = 1;
  int fibers = 1;
  int concurrency() const { return processes * threads * fibers; }
};

// Fills in the layout a mode implies for `concurrency` (default 64; design.md: modes are presets).
// Hybrid takes explicit --processes/--threads/--fibers; a -c that disagrees with their product is
// a UsageError.
Layout make_layout(Mode mode, std::optional<int> concurrency, int processes, int threads, int fibers);

// Process mode, and hybrid with more than one process, fork worker processes; the rest run in this
// process.
bool uses_worker_processes(const Layout& layout);

// Raises this process's open-file limit as far as it goes, and throws UsageError when the layout
// still needs more descriptors than it may open.
void ensure_open_files_fit(const Layout& layout);

}  // namespace crawl
