#include "tests/support/postgres.hpp"

#include "tests/support/db.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/exit_status.hpp"
#include "tests/support/process.hpp"

namespace crawl::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kDefaultBin = "/usr/lib/postgresql/15/bin";
constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr auto kInitdbTimeout = std::chrono::seconds(60);
constexpr auto kStopTimeout = std::chrono::seconds(10);
// Copying the template's few files is quicker than WAL-logging each of its blocks, and the checkpoints
// a file copy forces are cheap with fsync off.
constexpr const char* kCreateOptions = " STRATEGY FILE_COPY";
// Durability is worthless to a cluster thrown away after the test; speed is not. The log goes to
// stderr, which is postgres.log in the server's directory.
constexpr const char* kServerSettings[] = {
    "listen_addresses=127.0.0.1", "fsync=off",           "synchronous_commit=off", "full_page_writes=off",
    "max_connections=100",        "shared_buffers=32MB", "log_destination=stderr", "logging_collector=off"};
// A free port can be taken by someone else between our probe and postgres binding it.
constexpr int kStartAttempts = 5;

std::string bin_dir() {
  const char* env = std::getenv("CRAWL_PG_BIN");
  return env && *env ? env : kDefaultBin;
}

// Who initdb and postgres run as: ourselves, or `nobody` when we are root (both refuse root).
struct RunAs {
  bool drop = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

RunAs run_as() {
  RunAs r;
  if (geteuid() != 0) return r;
  const passwd* pw = getpwnam("nobody");
  if (!pw)
    throw std::runtime_error(
        "PostgresServer: running as root and there is no user 'nobody' to run postgres as");
  r.drop = true;
  r.uid = pw->pw_uid;
  r.gid = pw->pw_gid;
  return r;
}

// True when any user may traverse every directory from / down to `dir`.
bool traversable_by_all(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::canonical(dir, ec);
  if (ec) return false;
  for (;;) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0 || !(st.st_mode & S_IXOTH)) return false;
    if (p == p.root_path()) return true;
    p = p.parent_path();
  }
}

std::string make_dir(const RunAs& as) {
  std::filesystem::path base = std::filesystem::temp_directory_path();
  // `nobody` must reach the directory; a private TMPDIR (under /root, say) would stop it.
  if (as.drop && !traversable_by_all(base)) base = "/tmp";
  std::string tmpl = (base / "crawl-pg-XXXXXX").string();
  if (!mkdtemp(tmpl.data()))
    throw std::runtime_error("PostgresServer: mkdtemp failed: " + std::string(std::strerror(errno)));
  if (as.drop && ::chown(tmpl.c_str(), as.uid, as.gid) != 0) {
    const std::string why = std::strerror(errno);
    std::filesystem::remove_all(tmpl);
    throw std::runtime_error("PostgresServer: cannot chown " + tmpl + " to nobody: " + why);
  }
  return tmpl;
}

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The last `lines` lines of a log file, for error messages.
std::string tail(const std::string& path, int lines = 30) {
  const std::string text = read_whole(path);
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int n = 0; n < lines && pos != std::string::npos && pos > 0; ++n) pos = text.rfind('\n', pos - 1);
  const size_t from = pos == std::string::npos ? 0 : pos + (pos > 0 ? 1 : 0);
  return text.empty() ? "(" + path + " is empty)" : text.substr(from);
}

// Reports a failure in the forked child on its stderr (the log) and exits. Only async-signal-safe
// calls here, so the errno goes out as digits rather than through strerror.
void child_fail(const char* what) {
  char digits[16];
  char* end = digits + sizeof digits;
  char* p = end;
  for (int e = errno; p == end || e > 0; e /= 10) *--p = static_cast<char>('0' + e % 10);
  [[maybe_unused]] ssize_t w = ::write(2, what, std::strlen(what));
  w = ::write(2, " failed, errno ", 15);
  w = ::write(2, p, static_cast<size_t>(end - p));
  w = ::write(2, "\n", 1);
  _exit(126);
}

// Starts argv[0] with stdout and stderr appended to `log_path`, as `as`, in a process group of its
// own (so a SIGKILL reaches every process it forked) and killed if this thread goes away.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path, const RunAs& as) {
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    if (log_fd >= 0) ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    throw std::runtime_error("PostgresServer: cannot open " + log_path);
  }
  // Everything the child needs is built before fork: after it only async-signal-safe calls are safe
  // in a process that may have other threads.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    ::close(null_fd);
    throw std::runtime_error("PostgresServer: fork failed: " + std::string(std::strerror(errno)));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    if (as.drop) {
      if (::setgroups(0, nullptr) != 0) child_fail("setgroups");
      if (::setgid(as.gid) != 0) child_fail("setgid");
      if (::setuid(as.uid) != 0) child_fail("setuid");
    }
    // After setuid, which clears the parent-death signal. A test that crashes must not leave a
    // server behind (nor ctest waiting on it).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(1);
    ::execv(args[0], args.data());
    child_fail(args[0]);
  }
  ::close(log_fd);
  ::close(null_fd);
  return pid;
}

// Reaps `pid` if it has ended by now; sets `code` then.
bool reaped(pid_t pid, int& code) {
  int status = 0;
  const pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r == pid) code = exit_code_of(status);
  if (r < 0 && errno == ECHILD) code = -1;
  return r == pid || (r < 0 && errno == ECHILD);
}

bool wait_until_reaped(pid_t pid, Clock::duration timeout, int& code) {
  const auto deadline = Clock::now() + timeout;
  while (!reaped(pid, code)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void kill_and_reap(pid_t pid) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

void execute(const std::string& uri, const std::string& sql) {
  Connection conn(PQconnectdb(uri.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK)
    throw std::runtime_error("PostgresServer: cannot connect to " + uri + ": " + PQerrorMessage(conn.get()));
  Result result(PQexec(conn.get(), sql.c_str()), &PQclear);
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    throw std::runtime_error("PostgresServer: " + sql + ": " + PQerrorMessage(conn.get()));
}

}  // namespace

PostgresServer::PostgresServer() {
  const std::string bin = bin_dir();
  const std::string initdb = bin + "/initdb";
  const std::string postgres = bin + "/postgres";
  if (::access(initdb.c_str(), X_OK) != 0 || ::access(postgres.c_str(), X_OK) != 0)
    throw std::runtime_error(
        "PostgresServer: no initdb and postgres in " + bin +
        " (PostgreSQL 15 is not installed: run scripts/setup, or point CRAWL_PG_BIN at its "
        "bin directory)");
  const RunAs as = run_as();
  owner_ = ::getpid();
  dir_ = make_dir(as);
  try {
    const std::string data = dir_ + "/data";
    const std::string initdb_log = dir_ + "/initdb.log";
    const pid_t init = spawn({initdb, "-D", data, "-A", "trust", "-U", "crawl", "--no-sync", "-E", "UTF8",
                              "--locale=C", "--no-instructions"},
                             initdb_log, as);
    int code = -1;
    if (!wait_until_reaped(init, kInitdbTimeout, code)) {
      kill_and_reap(init);
      throw std::runtime_error("PostgresServer: initdb did not finish within " +
                               std::to_string(kInitdbTimeout.count()) + " s:\n" + tail(initdb_log));
    }
    if (code != 0)
      throw std::runtime_error("PostgresServer: initdb exited with " + std::to_string(code) + ":\n" +
                               tail(initdb_log));

    const std::string log_path = dir_ + "/postgres.log";
    for (int attempt = 1;; ++attempt) {
      port_ = free_loopback_port();
      const size_t log_before = read_whole(log_path).size();
      std::vector<std::string> argv{
          postgres, "-D", data, "-p", std::to_string(port_), "-c", "unix_socket_directories=" + dir_};
      for (const char* setting : kServerSettings) argv.insert(argv.end(), {"-c", setting});
      pid_ = spawn(argv, log_path, as);
      const std::string ping = uri("postgres") + "?connect_timeout=2";
      const auto deadline = Clock::now() + kStartTimeout;
      bool ready = false, exited = false;
      while (Clock::now() < deadline) {
        if (PQping(ping.c_str()) == PQPING_OK) {
          ready = true;
          break;
        }
        if (reaped(pid_, code)) {
          exited = true;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (ready) break;
      if (exited) {
        pid_ = -1;
        const std::string this_attempt = read_whole(log_path).substr(log_before);
        if (attempt < kStartAttempts && this_attempt.find("could not bind") != std::string::npos) continue;
        throw std::runtime_error("PostgresServer: postgres exited with " + std::to_string(code) +
                                 " before accepting connections:\n" + tail(log_path));
      }
      kill_and_reap(pid_);
      pid_ = -1;
      throw std::runtime_error("PostgresServer: postgres did not accept connections within " +
                               std::to_string(kStartTimeout.count()) + " s:\n" + tail(log_path));
    }
    execute(uri("postgres"), "CREATE DATABASE crawl" + std::string(kCreateOptions));
  } catch (...) {
    stop();
    throw;
  }
}

PostgresServer::~PostgresServer() {
  stop();
}

void PostgresServer::stop() {
  if (::getpid() != owner_) return;
  if (pid_ > 0) {
    ::kill(pid_, SIGINT);  // fast shutdown: roll back open transactions, disconnect, exit
    int code = -1;
    if (!wait_until_reaped(pid_, kStopTimeout, code)) kill_and_reap(pid_);
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

std::string PostgresServer::uri(const std::string& database) const {
  return "postgresql://crawl@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string PostgresServer::create_database(const std::string& name) {
  const bool valid = !name.empty() && name.size() <= 63 && !(name[0] >= '0' && name[0] <= '9') &&
                     name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
  if (!valid)
    throw std::invalid_argument("PostgresServer::create_database: not a plain identifier: '" + name + "'");
  execute(uri("postgres"), "CREATE DATABASE " + name + kCreateOptions);
  return uri(name);
}

std::string PostgresServer::log() const {
  return read_whole(dir_ + "/postgres.log");
}

PostgresServer& shared_postgres() {
  // A function-local static: started by the first caller (a failed start throws to that caller and
  // is retried by the next), destroyed, and so stopped, at exit.
  static PostgresServer server;
  return server;
}

std::string fresh_postgres_database(const std::string& prefix) {
  static std::atomic<int> databases{0};
  return shared_postgres().create_database(prefix + "_" + std::to_string(getpid()) + "_" +
                                           std::to_string(++databases));
}

bool a_statement_waits_for_a_lock(const std::string& uri, std::chrono::seconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  for (;;) {
    if (query_int(uri,
                  "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                  "wait_event_type = 'Lock'") > 0)
      return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace crawl::test
