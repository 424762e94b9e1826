#include "bench/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>

#include "common/exit_status.hpp"

namespace crawl::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Owns the posix_spawn attribute objects for the length of one spawn.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  SpawnSetup setup;
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&setup.actions, err_pipe[1], 2);
  // The bench blocks SIGINT/SIGTERM to wait for them on a thread; a child inheriting that mask
  // could not be stopped.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGUSR2}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&setup.attributes, &none);
  posix_spawnattr_setsigdefault(&setup.attributes, &defaults);
  posix_spawnattr_setflags(&setup.attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  const int rc = posix_spawn(&pid_, args[0], &setup.actions, &setup.attributes, args.data(), environ);
  close(out_pipe[1]);
  close(err_pipe[1]);
  out_fd_ = out_pipe[0];
  err_fd_ = err_pipe[0];
  if (rc != 0) {
    pid_ = -1;
    close_pipes();
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      out_fd_(std::exchange(other.out_fd_, -1)),
      err_fd_(std::exchange(other.err_fd_, -1)),
      out_(std::move(other.out_)),
      err_(std::move(other.err_)),
      reaped_(other.reaped_),
      exit_code_(other.exit_code_) {}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !reaped_) terminate(std::chrono::seconds(5));
  close_pipes();
}

void ChildProcess::close_pipes() {
  for (int* fd : {&out_fd_, &err_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

void ChildProcess::read_available(int& fd, std::string& into) {
  char buffer[65536];
  const ssize_t n = read(fd, buffer, sizeof buffer);
  if (n > 0) {
    into.append(buffer, static_cast<size_t>(n));
  } else if (n == 0 || errno != EINTR) {
    close(fd);
    fd = -1;
  }
}

bool ChildProcess::read_line(std::string& line, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const size_t newline = out_.find('\n');
    if (newline != std::string::npos) {
      line = out_.substr(0, newline);
      out_.erase(0, newline + 1);
      return true;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (out_fd_ < 0 || left.count() <= 0) return false;
    pollfd ready{out_fd_, POLLIN, 0};
    if (poll(&ready, 1, static_cast<int>(left.count())) > 0) read_available(out_fd_, out_);
  }
}

ChildExit ChildProcess::wait(const std::atomic<bool>& stop) {
  bool asked_to_stop = false;
  while (!reaped_) {
    if (stop.load() && !asked_to_stop) {
      kill(pid_, SIGTERM);
      asked_to_stop = true;
    }
    pollfd fds[2];
    nfds_t n = 0;
    if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
    if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
    // A short timeout: the stop flag is set by another thread, and a grandchild that inherited the
    // pipes could keep them open after the child itself has gone.
    if (n > 0 && poll(fds, n, 100) > 0) {
      for (nfds_t i = 0; i < n; ++i) {
        if (fds[i].revents == 0) continue;
        if (fds[i].fd == out_fd_)
          read_available(out_fd_, out_);
        else
          read_available(err_fd_, err_);
      }
    } else if (n == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      exit_code_ = exit_code_of(status);
    } else if (r < 0 && errno != EINTR) {
      reaped_ = true;
    }
  }
  // What the child wrote just before exiting.
  for (int* fd : {&out_fd_, &err_fd_}) {
    if (*fd < 0) continue;
    fcntl(*fd, F_SETFL, O_NONBLOCK);
    std::string& into = fd == &out_fd_ ? out_ : err_;
    while (*fd >= 0) {
      char buffer[65536];
      const ssize_t got = read(*fd, buffer, sizeof buffer);
      if (got <= 0) break;
      into.append(buffer, static_cast<size_t>(got));
    }
  }
  close_pipes();
  return {.code = exit_code_, .out = std::exchange(out_, {}), .err = std::exchange(err_, {})};
}

int ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (pid_ <= 0 || reaped_) return exit_code_;
  // Not yet reaped, so the pid is still ours even if the process has already exited.
  kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + grace;
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (r < 0 && errno != EINTR) {
      reaped_ = true;
      return exit_code_;
    }
    if (Clock::now() >= deadline) {
      kill(pid_, SIGKILL);
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  reaped_ = true;
  exit_code_ = exit_code_of(status);
  return exit_code_;
}

}  // namespace crawl::bench
