#include "crawler/signals.hpp"

#include <unistd.h>

#include <cstring>

#include "common/thread_name.hpp"

namespace crawl {
namespace {

// SIGUSR2 only wakes the watcher when the run ends on its own.
sigset_t watched_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR2);
  return set;
}

void say(const char* text) {
  // write(2) rather than stdio: the message must appear even while other threads hold stderr.
  [[maybe_unused]] auto n = ::write(2, text, std::strlen(text));
}

}  // namespace

SignalWatcher::SignalWatcher(std::atomic<bool>& stop) : stop_(stop) {
  sigset_t set = watched_signals();
  pthread_sigmask(SIG_BLOCK, &set, &old_mask_);
  thread_ = std::thread([this, set] {
    name_this_thread("crawl-signals");
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGUSR2) return;
      if (received_.fetch_add(1) == 0) {
        stop_.store(true);
        say("\ncrawl: stopping: recording what is in flight (press Ctrl-C again to quit at once)\n");
      } else {
        say("\ncrawl: second interrupt: quitting without recording the rest\n");
        _exit(130);
      }
    }
  });
}

SignalWatcher::~SignalWatcher() {
  pthread_kill(thread_.native_handle(), SIGUSR2);
  thread_.join();
  // Signals that arrived after the run ended are discarded with the mask restored as it was.
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

}  // namespace crawl
