// One connection to a crawl database, whichever engine holds it: SQLite (a file, embedded) or
// PostgreSQL (a server, shared by many machines). Storage's code is written once against these two
// classes; what differs between the engines lives in their two implementations, in the schema's
// mapping to PostgreSQL (postgres_ddl and kPostgresFunctions in database.cpp), and in the few
// statements whose SQL differs, each built in one function (leases.cpp's claim and takes).
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace crawl::storage {

// Anything that stops the database from being opened, read or written. The message says what went
// wrong and what the user can do about it; main() prints it and exits with status 1.
struct StorageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A statement that failed, with the engine's own code, so that callers can tell the SQL's fault from
// the database's: SQLite's extended result code, or PostgreSQL's SQLSTATE.
struct StatementError : StorageError {
  StatementError(const std::string& what, std::string engine_message, int sqlite_code, std::string sqlstate)
      : StorageError(what),
        engine_message(std::move(engine_message)),
        sqlite_code(sqlite_code),
        sqlstate(std::move(sqlstate)) {}
  std::string engine_message;  // the engine's message alone
  int sqlite_code = 0;
  std::string sqlstate;
};

enum class Engine { sqlite, postgres };

enum class ColumnType { null, integer, real, text, blob };

// A prepared statement. Parameters are written `?` (numbered left to right) or `?N` in the SQL of
// both engines. Text is bound without a copy: the caller keeps it alive until the statement has run.
class Statement {
 public:
  class Impl {
   public:
    virtual ~Impl() = default;
    virtual void bind_integer(int index, int64_t value) = 0;
    virtual void bind_real(int index, double value) = 0;
    virtual void bind_text(int index, std::string_view value) = 0;
    virtual void bind_null(int index) = 0;
    virtual int parameter_count() const = 0;
    virtual bool step() = 0;
    virtual void queue() = 0;
    virtual void reset() = 0;
    virtual bool read_only() const = 0;
    virtual int column_count() const = 0;
    virtual std::string column_name(int column) const = 0;
    virtual ColumnType column_type(int column) const = 0;
    virtual int64_t integer(int column) const = 0;
    virtual double real(int column) const = 0;
    virtual std::string text(int column) const = 0;
    virtual int64_t bytes(int column) const = 0;
  };

  Statement() = default;
  explicit Statement(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

  // Parameters are numbered from 1.
  Statement& bind(int index, int64_t value) {
    impl_->bind_integer(index, value);
    return *this;
  }
  Statement& bind(int index, double value) {
    impl_->bind_real(index, value);
    return *this;
  }
  Statement& bind(int index, std::string_view value) {
    impl_->bind_text(index, value);
    return *this;
  }
  Statement& bind_null(int index) {
    impl_->bind_null(index);
    return *this;
  }
  int parameter_count() const { return impl_->parameter_count(); }

  // Runs the statement on its first call; true while a row is there to read. Throws StorageError.
  bool step() { return impl_->step(); }
  // Ready to run again, with the bindings kept; rows not read are dropped.
  void reset() { impl_->reset(); }
  // Runs a statement whose rows, if any, are not needed, and resets it.
  void run() {
    while (step()) {
    }
    reset();
  }
  // Runs a statement whose rows are not needed as part of the connection's batch: PostgreSQL sends
  // it at once and reads its outcome in Connection::flush() (which throws the batch's first
  // failure), so a batch costs one round trip; SQLite runs it now. The bindings may change at once.
  void queue() { impl_->queue(); }
  // Whether the statement cannot change the database (SQLite says; PostgreSQL readers use a
  // read-only transaction instead, so it answers true).
  bool read_only() const { return impl_->read_only(); }

  // Columns of the current row, numbered from 0.
  int column_count() const { return impl_->column_count(); }
  std::string column_name(int column) const { return impl_->column_name(column); }
  ColumnType column_type(int column) const { return impl_->column_type(column); }
  bool is_null(int column) const { return column_type(column) == ColumnType::null; }
  int64_t integer(int column) const { return impl_->integer(column); }
  double real(int column) const { return impl_->real(column); }
  // "" for NULL.
  std::string text(int column) const { return impl_->text(column); }
  int64_t bytes(int column) const { return impl_->bytes(column); }

  explicit operator bool() const { return impl_ != nullptr; }

 private:
  std::unique_ptr<Impl> impl_;
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Engine engine() const = 0;
  // Runs SQL that takes no parameters and returns no rows worth reading; may hold several statements.
  virtual void exec(std::string_view sql) = 0;
  virtual Statement prepare(std::string_view sql) = 0;
  // Waits for every queued statement; throws the first failure among them.
  virtual void flush() = 0;
  // Whether a transaction is open (so that an error path knows to roll it back).
  virtual bool in_transaction() const = 0;
  // The engine's message for the last failure on this connection.
  virtual std::string last_error() const = 0;
};

// For SQLite: a path, or ":memory:". flags are sqlite3_open_v2's.
std::unique_ptr<Connection> open_sqlite(const std::string& path, int flags, int busy_timeout_ms);
// For PostgreSQL: a libpq connection URI (postgresql://...) or key=value string.
std::unique_ptr<Connection> open_postgres(const std::string& conninfo);

// Whether --db names a PostgreSQL database rather than an SQLite file.
bool is_postgres_uri(std::string_view db);

// A connection URI with its password, if any, replaced by "***": for messages and the runs table.
std::string redact_password(std::string_view db);

}  // namespace crawl::storage
