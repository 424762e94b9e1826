#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "common/exit_status.hpp"

namespace crawl::test {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<char*> to_argv(const std::vector<std::string>& args) {
  std::vector<char*> out;
  for (const auto& a : args) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

// Waits up to `timeout` for `pid`; returns true (and sets `code`) when it has ended.
bool wait_for_exit(pid_t pid, Clock::duration timeout, int& code) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      code = exit_code_of(status);
      return true;
    }
    if (r < 0 && errno != EINTR) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

CpuBurners::CpuBurners(int count) {
  for (int i = 0; i < count; ++i) {
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(0);
      volatile uint64_t x = 0;
      for (;;) x = x + 1;
    }
    pids_.push_back(pid);
  }
}

CpuBurners::~CpuBurners() {
  for (pid_t pid : pids_) kill(pid, SIGKILL);
  for (pid_t pid : pids_) waitpid(pid, nullptr, 0);
}

std::string crawl_binary() {
  return CRAWL_BINARY;
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input,
                          std::chrono::seconds timeout) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC))
    throw std::runtime_error("pipe failed");
  auto args = to_argv(argv);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // A test that crashes must not leave its children holding ctest's output pipe open (ctest
    // would then wait for them until its timeout).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  ProcessResult result;
  size_t written = 0;
  int in_fd = in_pipe[1];
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  } else {
    fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  const auto deadline = Clock::now() + timeout;
  int open_outputs = 2;
  bool out_open = true, err_open = true;
  while (open_outputs > 0 || in_fd >= 0) {
    pollfd fds[3];
    int n = 0;
    if (out_open) fds[n++] = {out_pipe[0], POLLIN, 0};
    if (err_open) fds[n++] = {err_pipe[0], POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (Clock::now() >= deadline) {
      kill(pid, SIGKILL);
      ADD_FAILURE() << "process timed out after " << timeout.count() << " s: " << argv[0];
      break;
    }
    if (poll(fds, n, 100) < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == in_fd) {
        ssize_t w = write(in_fd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN) written = input.size();
        if (written == input.size()) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      char buf[65536];
      ssize_t r = read(fds[i].fd, buf, sizeof buf);
      bool is_out = fds[i].fd == out_pipe[0];
      if (r > 0) {
        (is_out ? result.out : result.err).append(buf, static_cast<size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        (is_out ? out_open : err_open) = false;
        --open_outputs;
      }
    }
  }
  if (in_fd >= 0) close(in_fd);
  close(out_pipe[0]);
  close(err_pipe[0]);
  int code = -1;
  if (!wait_for_exit(pid, std::chrono::seconds(30), code)) {
    kill(pid, SIGKILL);
    wait_for_exit(pid, std::chrono::seconds(30), code);
  }
  result.exit_code = code;
  return result;
}

ProcessResult run_crawl(const std::vector<std::string>& args, const std::string& input,
                        std::chrono::seconds timeout) {
  std::vector<std::string> argv{crawl_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, input, timeout);
}

Child::Child(const std::vector<std::string>& argv) {
  int out_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC)) throw std::runtime_error("pipe failed");
  auto args = to_argv(argv);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // Its own process group, as a shell gives a job: a test can send the group a terminal's Ctrl-C.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // as in run_process
    dup2(out_pipe[1], 1);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  out_fd_ = out_pipe[0];
}

Child::Child(Child&& other) noexcept
    : pid_(other.pid_),
      out_fd_(other.out_fd_),
      buffered_(std::move(other.buffered_)),
      exited_(other.exited_),
      exit_code_(other.exit_code_) {
  other.pid_ = -1;
  other.out_fd_ = -1;
}

Child::~Child() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    int code;
    wait_for_exit(pid_, std::chrono::seconds(30), code);
  }
  if (out_fd_ >= 0) close(out_fd_);
}

bool Child::read_line(std::string& line, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto nl = buffered_.find('\n');
    if (nl != std::string::npos) {
      line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      return true;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || out_fd_ < 0) return false;
    pollfd pfd{out_fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t r = read(out_fd_, buf, sizeof buf);
    if (r <= 0) return false;
    buffered_.append(buf, static_cast<size_t>(r));
  }
}

int Child::stop(int sig, std::chrono::seconds timeout) {
  if (exited_) return exit_code_;
  kill(pid_, sig);
  return wait(timeout);
}

int Child::wait(std::chrono::seconds timeout) {
  if (exited_) return exit_code_;
  // Keep draining stdout so a chatty child never blocks on a full pipe while we wait.
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    int code;
    if (wait_for_exit(pid_, std::chrono::milliseconds(0), code)) {
      exited_ = true;
      exit_code_ = code;
      return code;
    }
    pollfd pfd{out_fd_, POLLIN, 0};
    if (out_fd_ >= 0 && poll(&pfd, 1, 10) > 0) {
      char buf[65536];
      ssize_t r = read(out_fd_, buf, sizeof buf);
      if (r > 0) buffered_.append(buf, static_cast<size_t>(r));
      if (r == 0) {
        close(out_fd_);
        out_fd_ = -1;
      }
    } else if (out_fd_ < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ADD_FAILURE() << "child " << pid_ << " did not exit within " << timeout.count() << " s";
  kill(pid_, SIGKILL);
  int code = -1;
  wait_for_exit(pid_, std::chrono::seconds(30), code);
  exited_ = true;
  exit_code_ = code;
  return code;
}

std::string Child::rest_of_output() {
  if (out_fd_ >= 0) {
    char buf[65536];
    ssize_t r;
    while ((r = read(out_fd_, buf, sizeof buf)) > 0) buffered_.append(buf, static_cast<size_t>(r));
  }
  return std::exchange(buffered_, {});
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "crawl-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary);
  f << content;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

namespace {

// The state letter and parent pid of /proc/PID/stat; false when the process does not exist. The
// command name (field 2) may hold spaces and parentheses, so fields are read after its last ')'.
bool read_stat(pid_t pid, char& state, pid_t& parent) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return false;
  const auto close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(text.substr(close + 1));
  return static_cast<bool>(rest >> state >> parent);
}

}  // namespace

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = std::stoi(name);
    char state = 0;
    pid_t ppid = 0;
    if (read_stat(pid, state, ppid) && ppid == parent) out.push_back(pid);
  }
  return out;
}

bool has_ended(pid_t pid) {
  char state = 0;
  pid_t ppid = 0;
  return !read_stat(pid, state, ppid) || state == 'Z' || state == 'X';
}

uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace crawl::test
