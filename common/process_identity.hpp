// Who runs a crawl: enough to tell later, from another process, whether that process is still
// alive. A pid alone is not: pids are reused, and after a reboot the same pid is someone else. The
// process's start time (in clock ticks since boot) and the boot's id tell them apart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace crawl {

struct ProcessIdentity {
  std::string host;  // gethostname()
  int64_t pid = 0;
  std::string start;  // "<boot id>/<start time in ticks since boot>"; empty when unknown
};

ProcessIdentity this_process();

// Whether the process `who` names is running now. Only a process on this host can be checked:
// for another host (or an identity with no start recorded) the answer is empty.
std::optional<bool> is_running(const ProcessIdentity& who);

}  // namespace crawl
