#include "crawler/signals.hpp"

#include <unistd.h>

#include <cstring>
#include <string>

#include "common/thread_name.hpp"

namespace crawl {
namespace {

// SIGUSR2 only wakes the watcher when the run ends on its own.
sigset_t watched_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR2);
  return set;
}

void say(const std::string& text) {
  // write(2) rather than stdio: the message must appear even while other threads hold stderr.
  [[maybe_unused]] auto n = ::write(2, text.data(), text.size());
}

}  // namespace

SignalWatcher::SignalWatcher(std::atomic<bool>& stop) : stop_(stop) {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, nullptr);
  sigset_t set = watched_signals();
  pthread_sigmask(SIG_BLOCK, &set, &old_mask_);
}

void SignalWatcher::watch() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this, set = watched_signals()] {
    name_this_thread("crawl-signals");
    using Clock = std::chrono::steady_clock;
    Clock::time_point first_at{};
    for (;;) {
      siginfo_t info{};
      const int sig = sigwaitinfo(&set, &info);
      if (sig < 0) continue;
      if (sig == SIGUSR2) return;
      if (first_signal_.load() == 0) {
        first_signal_.store(sig);
        first_at = Clock::now();
        stop_.store(true);
        say(std::string("\ncrawl: ") + strsignal(sig) +
            ": stopping, recording what is in flight (interrupt again to quit at once)\n");
      } else if (Clock::now() - first_at >= kSameRequest) {
        say("\ncrawl: second interrupt: quitting without recording the rest (crawl runs shows this run as "
            "crashed)\n");
        _exit(130);
      }
    }
  });
}

SignalWatcher::~SignalWatcher() {
  if (thread_.joinable()) {
    pthread_kill(thread_.native_handle(), SIGUSR2);
    thread_.join();
  }
  // Signals that arrived after the run ended are discarded with the mask restored as it was.
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  // SIGPIPE stays ignored: the summary may still be written to a pipe that was closed.
}

void unblock_watched_signals() {
  const sigset_t set = watched_signals();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace crawl
