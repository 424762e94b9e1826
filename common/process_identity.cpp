#include "common/process_identity.hpp"

#include <limits.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace crawl {
namespace {

std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

// Field 22 of /proc/PID/stat, after the command name in parentheses (which may hold spaces and
// parentheses of its own, hence the last ')'). Empty for a process that has ended, a zombie
// waiting to be reaped included.
std::string start_ticks(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return {};
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  // After the name: state is field 3, starttime field 22.
  for (int i = 3; i <= 22; ++i) {
    if (!(fields >> field)) return {};
    if (i == 3 && (field == "Z" || field == "X")) return {};
  }
  return field;
}

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0) return {};
  return name;
}

}  // namespace

ProcessIdentity this_process() {
  ProcessIdentity me{.host = host_name(), .pid = getpid()};
  const std::string boot = boot_id();
  const std::string ticks = start_ticks(me.pid);
  if (!boot.empty() && !ticks.empty()) me.start = boot + "/" + ticks;
  return me;
}

std::optional<bool> is_running(const ProcessIdentity& who) {
  if (who.pid <= 0 || who.start.empty() || who.host != host_name()) return std::nullopt;
  const auto slash = who.start.find('/');
  if (slash == std::string::npos) return std::nullopt;
  if (who.start.substr(0, slash) != boot_id()) return false;  // the machine has restarted since
  const std::string ticks = start_ticks(who.pid);
  // No such process, or a new process that was given the same pid.
  return !ticks.empty() && ticks == who.start.substr(slash + 1);
}

}  // namespace crawl
