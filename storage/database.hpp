// The crawl database, an SQLite file or a PostgreSQL database: opening it (read-write with the schema
// created and migrated, or read-only for queries). Only storage's own .cpp files use it; the rest of
// the program sees ResultWriter and the query functions.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/connection.hpp"

namespace crawl::storage {

// PRAGMA application_id of every crawl database: the ASCII of "CRWL" (0x4352574C), which `file`
// and other programs can read from bytes 68-71 of the header. A database without it is a crawl
// database only if it is empty or was written by a crawl from before the mark (it then has the runs
// and pages tables and a schema version); any other SQLite file is refused, never written to.
constexpr int kApplicationId = 0x4352574C;

// The schema version this program writes (SQLite: PRAGMA user_version; PostgreSQL: the crawl_schema
// table); older databases are migrated up to it.
int latest_schema_version();

enum class Access { read_write, read_only };

struct OpenOptions {
  Access access = Access::read_write;
  // How long a statement waits for another connection's lock before failing with "busy".
  int busy_timeout_ms = 5000;
};

class Database {
 public:
  // `where` is an SQLite path or a PostgreSQL URI (postgresql://...).
  // read_write: creates the SQLite file if needed, switches to WAL, migrates the schema to the
  // latest version and marks it with kApplicationId (PostgreSQL: creates and migrates the tables).
  // read_only: the database must exist and must not be newer than this program; on PostgreSQL every
  // transaction of the connection is read-only. Both throw crawl::UsageError for a database that is
  // not a crawl database (and read_only for an empty one), before anything is written to it.
  static Database open(const std::string& where, const OpenOptions& options = {});
  // False only for an SQLite path with no file there (a PostgreSQL database is found by connecting).
  static bool may_exist(const std::string& where);

  Engine engine() const { return connection_->engine(); }
  Connection& connection() const { return *connection_; }
  // The path, or the URI without its password: for messages.
  const std::string& path() const { return path_; }

  // Runs SQL that takes no parameters and returns no rows worth reading (pragmas, BEGIN, scripts).
  void exec(std::string_view sql) const;
  Statement prepare(std::string_view sql) const;
  // Waits for the statements queued with Statement::queue(); throws the first failure among them.
  void flush() const { connection_->flush(); }
  int schema_version() const;
  // The engine's message for the last failure on this connection.
  std::string last_error() const { return connection_->last_error(); }

  // A write transaction that others wait for rather than interleave with (SQLite: BEGIN IMMEDIATE;
  // PostgreSQL: BEGIN, then an advisory lock held to the end of it).
  void begin_exclusive() const;
  bool in_transaction() const { return connection_->in_transaction(); }
  // Rolls back an open transaction, if any; for error paths, so it never throws.
  void rollback_quietly() const noexcept;
  // SQLite only: whether the database file was deleted or moved while open (Linux keeps writing to
  // the unreachable inode).
  bool file_moved() const;

 private:
  Database(std::string path, std::unique_ptr<Connection> connection)
      : path_(std::move(path)), connection_(std::move(connection)) {}
  static Database open_sqlite_file(const std::string& path, const OpenOptions& options);
  static Database open_postgres_database(const std::string& uri, const OpenOptions& options);
  void migrate();
  void migrate_postgres();
  void relax_page_timings();

  std::string path_;
  std::unique_ptr<Connection> connection_;
};

// Runs stored as running whose process is gone from this machine (killed, crashed, the machine
// restarted), by id; a run of another machine is not judged.
std::vector<int64_t> runs_whose_process_is_gone(const Database& database);
// For each run, its sessions stored as running whose process is not known to be gone (a session of
// another machine counts): a shared run's workers at work.
std::map<int64_t, int> live_sessions(const Database& database);

// "2024-05-01T12:34:56.789Z" for a unix time in seconds: the form the runs and pages tables store.
std::string iso8601_utc(double unix_seconds);

}  // namespace crawl::storage
