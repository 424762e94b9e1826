// Ctrl-C and SIGTERM handling: a dedicated thread waits for the signals (blocked everywhere else),
// so the stop flag is set from ordinary code, not from a signal handler. The first signal asks the
// run to stop cleanly; a second one exits at once.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <thread>

namespace crawl {

class SignalWatcher {
 public:
  // Must be constructed before any other thread starts, so that every thread inherits the mask.
  explicit SignalWatcher(std::atomic<bool>& stop);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;
  int received() const { return received_.load(); }

 private:
  std::atomic<bool>& stop_;
  std::atomic<int> received_{0};
  sigset_t old_mask_;
  std::thread thread_;
};

}  // namespace crawl
