// The crawl database file: opening it (read-write with the schema created and migrated, or read-only
// for queries), the RAII handles for SQLite's C objects, and the error storage throws. Only storage's
// own .cpp files use these; the rest of the program sees ResultWriter and the query functions.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

// Declared rather than included, so sqlite3.h stays inside storage/*.cpp.
struct sqlite3;
struct sqlite3_stmt;

namespace crawl::storage {

// Anything that stops the database from being opened, read or written. The message says what went
// wrong and what the user can do about it; main() prints it and exits with status 1.
struct StorageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CloseConnection {
  void operator()(sqlite3* db) const noexcept;
};
struct FinalizeStatement {
  void operator()(sqlite3_stmt* stmt) const noexcept;
};
using Connection = std::unique_ptr<sqlite3, CloseConnection>;
using Statement = std::unique_ptr<sqlite3_stmt, FinalizeStatement>;

// PRAGMA application_id of every crawl database: the ASCII of "CRWL" (0x4352574C), which `file`
// and other programs can read from bytes 68-71 of the header. A database without it is a crawl
// database only if it is empty or was written by a crawl from before the mark (it then has the runs
// and pages tables and a schema version); any other SQLite file is refused, never written to.
constexpr int kApplicationId = 0x4352574C;

// The schema version this program writes (PRAGMA user_version); older files are migrated up to it.
int latest_schema_version();

enum class Access { read_write, read_only };

struct OpenOptions {
  Access access = Access::read_write;
  // How long a statement waits for another connection's lock before failing with "busy".
  int busy_timeout_ms = 5000;
};

class Database {
 public:
  // read_write: creates the file if needed, switches to WAL, migrates the schema to the latest
  // version and marks it with kApplicationId. read_only: the file must exist and must not be newer
  // than this program. Both throw crawl::UsageError for a SQLite file that is not a crawl database
  // (and read_only for an empty one), before anything is written to it.
  static Database open(const std::string& path, const OpenOptions& options = {});

  sqlite3* handle() const { return connection_.get(); }
  const std::string& path() const { return path_; }

  // Runs SQL that takes no parameters and returns no rows worth reading (pragmas, BEGIN, scripts).
  void exec(const char* sql) const;
  Statement prepare(std::string_view sql) const;
  int schema_version() const;
  // SQLite's message for the last failure on this connection, with its extended error code.
  std::string last_error() const;

 private:
  Database(std::string path, Connection connection)
      : path_(std::move(path)), connection_(std::move(connection)) {}
  void migrate();

  std::string path_;
  Connection connection_;
};

// "2024-05-01T12:34:56.789Z" for a unix time in seconds: the form the runs and pages tables store.
std::string iso8601_utc(double unix_seconds);

}  // namespace crawl::storage
