#include "common/open_files.hpp"

#include <sys/resource.h>

namespace crawl {

std::optional<uint64_t> raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY) return kUnlimitedOpenFiles;
  return static_cast<uint64_t>(limit.rlim_cur);
}

}  // namespace crawl
