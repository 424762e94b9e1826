// A child process that `crawl bench` starts (a `crawl run`, the testbed), owned like a file handle:
// whatever path leaves its scope (an exception, a signal, an early return), the child is asked to
// stop, killed if it does not, and reaped. No zombie outlives the owner.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

namespace crawl::bench {

struct ChildExit {
  int code = -1;  // exit status, or 128 + signal when a signal ended it
  std::string out;
  std::string err;
};

class ChildProcess {
 public:
  // Starts argv[0] (a path) with its stdout and stderr on pipes and stdin on /dev/null. Signals
  // the parent blocks or catches are reset, so the child reacts to Ctrl-C and SIGTERM as usual.
  // Throws std::runtime_error when it cannot start.
  explicit ChildProcess(const std::vector<std::string>& argv);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  // Still running: SIGTERM, up to 5 s to finish, then SIGKILL; always reaped.
  ~ChildProcess();

  pid_t pid() const { return pid_; }

  // One line of stdout without its newline; false at end of output or after `timeout`.
  bool read_line(std::string& line, std::chrono::milliseconds timeout);

  // Collects stdout and stderr until the child exits. When `stop` becomes true, sends the child
  // SIGTERM once (a `crawl run` then stops cleanly) and goes on waiting.
  ChildExit wait(const std::atomic<bool>& stop);

  // SIGTERM, then SIGKILL after `grace`; reaps. Returns the exit code.
  int terminate(std::chrono::milliseconds grace);

 private:
  void read_available(int& fd, std::string& into);
  void close_pipes();

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  bool reaped_ = false;
  int exit_code_ = -1;
};

}  // namespace crawl::bench
