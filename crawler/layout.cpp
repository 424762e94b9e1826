#include "crawler/layout.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "common/open_files.hpp"
#include "common/usage_error.hpp"

namespace crawl {

std::string_view mode_name(Mode mode) {
  switch (mode) {
    case Mode::fiber:
      return "fiber";
    case Mode::thread:
      return "thread";
    case Mode::process:
      return "process";
    case Mode::hybrid:
      return "hybrid";
  }
  return "?";
}

Layout make_layout(Mode mode, std::optional<int> concurrency, int processes, int threads, int fibers) {
  Layout l{.mode = mode};
  if (concurrency && *concurrency < 1) throw UsageError("-c/--concurrency must be at least 1");
  const int c = concurrency.value_or(64);
  switch (mode) {
    case Mode::fiber:
      l.fibers = c;
      break;
    case Mode::thread:
      l.threads = c;
      break;
    case Mode::process:
      l.processes = c;
      break;
    case Mode::hybrid:
      if (processes < 1 || threads < 1 || fibers < 1)
        throw UsageError("--processes, --threads and --fibers must each be at least 1 in hybrid mode");
      l.processes = processes;
      l.threads = threads;
      l.fibers = fibers;
      if (concurrency && *concurrency != l.concurrency())
        throw UsageError("-c " + std::to_string(*concurrency) + " disagrees with --processes " +
                         std::to_string(processes) + " × --threads " + std::to_string(threads) +
                         " × --fibers " + std::to_string(fibers) + " = " + std::to_string(l.concurrency()) +
                         " in hybrid mode: drop -c or make them agree");
      break;
  }
  return l;
}

bool uses_worker_processes(const Layout& layout) {
  return layout.mode == Mode::process || layout.processes > 1;
}

namespace {

// Thousands of sockets in flight need more than the usual soft limit of 1,024 descriptors: the
// soft limit is raised to the hard one, and a layout that still cannot fit is refused up front
// rather than failing transfers one by one with "too many open files". What a fetch holds: its
// connection; in thread and process mode also the socket pair libcurl's multi handle (one per
// blocking easy handle) keeps for wake-ups; a fiber thread one multi handle (two), an epoll fd and
// an eventfd. This process holds one socket per worker process; each worker, with the same limit,
// its own fetches'.
rlim_t descriptors_needed(const Layout& layout) {
  constexpr rlim_t kBase = 64;  // stdio, the database and its WAL, lists, resolver pipes, slack
  const auto c = static_cast<rlim_t>(layout.concurrency());
  switch (layout.mode) {
    case Mode::thread:
      return kBase + 3 * c;
    case Mode::process:
      return kBase + c;  // each worker needs 3 of its own, far below any limit
    case Mode::fiber:
    case Mode::hybrid:
      break;
  }
  const auto threads = static_cast<rlim_t>(layout.threads);
  const rlim_t fetching = static_cast<rlim_t>(layout.fibers) * threads + 4 * threads;
  if (layout.processes <= 1) return kBase + fetching;
  // Each worker process has the limit this one has (it is forked from it) and needs what a fiber
  // process of T threads × F fibers needs; this one, a socket per worker.
  return kBase + std::max(static_cast<rlim_t>(layout.processes), fetching);
}

}  // namespace

void ensure_open_files_fit(const Layout& layout) {
  const std::optional<uint64_t> limit = raise_open_files_limit();
  if (!limit) return;
  const rlim_t needed = descriptors_needed(layout);
  if (*limit < needed)
    throw UsageError("-c " + std::to_string(layout.concurrency()) + " in " +
                     std::string(mode_name(layout.mode)) + " mode needs about " + std::to_string(needed) +
                     " open files but this process may open only " + std::to_string(*limit) +
                     ": lower -c or raise the hard limit (ulimit -Hn)");
}

}  // namespace crawl
