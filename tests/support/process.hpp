// Running real child processes from tests: build/crawl subcommands, the testbed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace crawl::test {

// Path of the crawl executable under test.
std::string crawl_binary();

struct ProcessResult {
  int exit_code = -1;  // exit status, or 128+signal when killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] (a path) with the given arguments, feeds `input` on stdin, waits for it and returns
// what it printed. Fails the calling test (and kills the child) after `timeout`.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = "",
                          std::chrono::seconds timeout = std::chrono::seconds(300));

// Convenience: run_process({crawl_binary(), args...}).
ProcessResult run_crawl(const std::vector<std::string>& args, const std::string& input = "",
                        std::chrono::seconds timeout = std::chrono::seconds(300));

// A child started in the background, in a process group of its own (as a shell starts a job), with
// its stdout on a pipe (readable line by line) and its stderr passed through. Killed with SIGKILL and reaped
// on destruction if still running.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv);
  Child(Child&& other) noexcept;
  Child& operator=(Child&&) = delete;
  ~Child();

  pid_t pid() const { return pid_; }
  // Reads one line from the child's stdout (without the newline); false on EOF or timeout.
  bool read_line(std::string& line, std::chrono::milliseconds timeout);
  // Sends `sig` and waits for the child to end; returns its exit code (128+signal if killed).
  int stop(int sig, std::chrono::seconds timeout = std::chrono::seconds(30));
  // Waits for the child to exit by itself; returns its exit code.
  int wait(std::chrono::seconds timeout = std::chrono::seconds(300));
  // Everything left on stdout after the lines already read, once the child has ended.
  std::string rest_of_output();

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffered_;
  bool exited_ = false;
  int exit_code_ = -1;
};

// A TCP port on 127.0.0.1 the kernel had free a moment ago, for a server a test starts next (a clash
// with another process taking it first fails that start, which a caller may retry).
uint16_t free_loopback_port();

// The processes whose parent is `parent` right now (from /proc), zombies included.
std::vector<pid_t> children_of(pid_t parent);
// True once `pid` has ended: it no longer exists, or it is a zombie waiting to be reaped by
// whoever inherited it.
bool has_ended(pid_t pid);

// `count` child processes that each keep a core busy until the object goes away (they also die
// with the test process): the load other work puts on a shared CI machine, for tests of promises
// that must hold under it.
class CpuBurners {
 public:
  explicit CpuBurners(int count);
  ~CpuBurners();
  CpuBurners(const CpuBurners&) = delete;
  CpuBurners& operator=(const CpuBurners&) = delete;

 private:
  std::vector<pid_t> pids_;
};

// A scratch directory removed (recursively) when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);

}  // namespace crawl::test
