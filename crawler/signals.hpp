// Stop requests: a dedicated thread waits for SIGINT, SIGTERM and SIGHUP (blocked everywhere else),
// so the stop flag is set from ordinary code, not from a signal handler. The first request asks the
// run to stop cleanly; a second one exits at once. Signals that arrive together are one request:
// `timeout`, systemd and a terminal's Ctrl-C signal the whole process group, and a group signal
// may reach the process more than once (once for itself, once through its group).
#pragma once

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace crawl {

class SignalWatcher {
 public:
  // Signals this close after the first request count as part of it.
  static constexpr std::chrono::milliseconds kSameRequest{1000};

  // Blocks the signals: must be constructed before any other thread starts (and before worker
  // processes are forked), so that every thread inherits the mask. A signal that comes before
  // watch() waits for it rather than killing the process. SIGPIPE is ignored from then on (for
  // good): a closed output is an error of the write that meets it, which the run handles, not a
  // reason to die.
  explicit SignalWatcher(std::atomic<bool>& stop);
  ~SignalWatcher();
  // Starts the thread that answers the signals, a waiting one first.
  void watch();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;
  // The signal of the first stop request, 0 when none came.
  int first_signal() const { return first_signal_.load(); }

 private:
  std::atomic<bool>& stop_;
  std::atomic<int> first_signal_{0};
  sigset_t old_mask_;
  std::thread thread_;
};

// For a forked worker process, which leaves the signals to its parent: undoes the blocking it
// inherited from a SignalWatcher.
void unblock_watched_signals();

}  // namespace crawl
