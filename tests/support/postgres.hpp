// A real PostgreSQL 15 server for tests, started by the test itself (never as a service): a fresh
// cluster in a temporary directory, listening on 127.0.0.1 and a free port, tuned for speed rather
// than durability, with a `crawl` database owned by the `crawl` superuser (trust authentication).
// As root (CI) initdb and postgres refuse to run, so they run as `nobody` instead.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace crawl::test {

class PostgresServer {
 public:
  // Runs initdb and starts postgres from $CRAWL_PG_BIN (default /usr/lib/postgresql/15/bin), waits
  // up to 30 s for it to accept connections and creates the `crawl` database. Throws
  // std::runtime_error when the binaries are missing (scripts/setup installs them) or the server
  // does not come up (the message carries the tail of its log). The server dies with the thread
  // that started it, so start it from one that outlives its use (the test's own thread).
  PostgresServer();
  // Fast shutdown (SIGINT), SIGKILL if that takes over 10 s, then the directory is removed.
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // The temporary directory: data/ (the cluster), postgres.log, initdb.log and the unix socket.
  const std::string& dir() const { return dir_; }
  // postgresql://crawl@127.0.0.1:PORT/crawl
  std::string uri() const { return uri("crawl"); }
  // postgresql://crawl@127.0.0.1:PORT/DATABASE
  std::string uri(const std::string& database) const;
  // Creates the empty database `name` (lower-case letters, digits and '_', as an unquoted SQL
  // identifier would be) and returns its URI, so a test can work apart from others on the same
  // server. Throws if it exists already.
  std::string create_database(const std::string& name);
  // Everything the server has logged so far.
  std::string log() const;

 private:
  void stop();

  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  // Only the process that started the server stops it: a forked child that runs exit handlers must
  // not take the server down under its parent.
  pid_t owner_ = -1;
};

// One server for the whole test binary, started on first use and stopped at exit. Tests that share
// it should each work in a database of their own (create_database).
PostgresServer& shared_postgres();

// A new empty database on shared_postgres(), named `prefix`, this process's id and a count, so
// that no two tests, in this process or another, share one. Returns its URI.
std::string fresh_postgres_database(const std::string& prefix);

// Whether, within `within`, a statement of some connection to the database at `uri` waits for a
// lock held by another (pg_stat_activity): how a test knows that the step it set up is blocked.
bool a_statement_waits_for_a_lock(const std::string& uri, std::chrono::seconds within);

}  // namespace crawl::test
