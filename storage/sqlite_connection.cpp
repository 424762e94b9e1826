#include "storage/sqlite_connection.hpp"

#include <sqlite3.h>

#include <string>

namespace crawl::storage {
namespace {

class SqliteStatement final : public Statement::Impl {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* statement) : db_(db), statement_(statement) {}
  ~SqliteStatement() override { sqlite3_finalize(statement_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  void bind_integer(int index, int64_t value) override {
    check(sqlite3_bind_int64(statement_, index, value), index);
  }
  void bind_real(int index, double value) override {
    check(sqlite3_bind_double(statement_, index, value), index);
  }
  void bind_text(int index, std::string_view value) override {
    // A null pointer would bind NULL rather than an empty string.
    const char* data = value.data() ? value.data() : "";
    check(sqlite3_bind_text(statement_, index, data, static_cast<int>(value.size()), SQLITE_STATIC), index);
  }
  void bind_null(int index) override { check(sqlite3_bind_null(statement_, index), index); }
  int parameter_count() const override { return sqlite3_bind_parameter_count(statement_); }

  bool step() override {
    const int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    const std::string message = sqlite3_errmsg(db_);
    const int code = sqlite3_extended_errcode(db_);
    sqlite3_reset(statement_);
    throw StatementError(message + " (SQLite code " + std::to_string(code) + ")", message, code, "");
  }
  void reset() override { sqlite3_reset(statement_); }
  void queue() override {
    while (step()) {
    }
    reset();
  }
  bool read_only() const override { return sqlite3_stmt_readonly(statement_) != 0; }

  int column_count() const override { return sqlite3_column_count(statement_); }
  std::string column_name(int column) const override {
    const char* name = sqlite3_column_name(statement_, column);
    return name ? name : "";
  }
  ColumnType column_type(int column) const override {
    switch (sqlite3_column_type(statement_, column)) {
      case SQLITE_INTEGER:
        return ColumnType::integer;
      case SQLITE_FLOAT:
        return ColumnType::real;
      case SQLITE_TEXT:
        return ColumnType::text;
      case SQLITE_BLOB:
        return ColumnType::blob;
      default:
        return ColumnType::null;
    }
  }
  int64_t integer(int column) const override { return sqlite3_column_int64(statement_, column); }
  double real(int column) const override { return sqlite3_column_double(statement_, column); }
  std::string text(int column) const override {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(statement_, column))) : std::string();
  }
  int64_t bytes(int column) const override { return sqlite3_column_bytes(statement_, column); }

 private:
  void check(int rc, int index) const {
    if (rc != SQLITE_OK)
      throw StorageError("cannot bind parameter " + std::to_string(index) + ": " + sqlite3_errstr(rc));
  }

  sqlite3* db_;
  sqlite3_stmt* statement_;
};

class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() override { sqlite3_close_v2(db_); }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Engine engine() const override { return Engine::sqlite; }

  void exec(std::string_view sql) override {
    const std::string text(sql);
    char* message = nullptr;
    if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      std::string why = message ? message : last_error();
      sqlite3_free(message);
      throw StorageError(why);
    }
  }

  Statement prepare(std::string_view sql) override {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(raw);
      throw StorageError("cannot prepare a statement: " + last_error());
    }
    return Statement(std::make_unique<SqliteStatement>(db_, raw));
  }

  void flush() override {}

  bool in_transaction() const override { return sqlite3_get_autocommit(db_) == 0; }

  std::string last_error() const override {
    return std::string(sqlite3_errmsg(db_)) + " (SQLite code " +
           std::to_string(sqlite3_extended_errcode(db_)) + ")";
  }

  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_;
};

}  // namespace

std::unique_ptr<Connection> open_sqlite(const std::string& path, int flags, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = raw ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close_v2(raw);
    throw StorageError(why);
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  return std::make_unique<SqliteConnection>(raw);
}

sqlite3* sqlite_handle(Connection& connection) {
  auto* sqlite = dynamic_cast<SqliteConnection*>(&connection);
  return sqlite ? sqlite->handle() : nullptr;
}

Statement adopt_sqlite_statement(sqlite3* db, sqlite3_stmt* statement) {
  return statement ? Statement(std::make_unique<SqliteStatement>(db, statement)) : Statement();
}

}  // namespace crawl::storage
