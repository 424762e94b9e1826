#include "tests/support/db.hpp"

#include <sqlite3.h>

#include <stdexcept>

namespace crawl::test {

std::vector<Row> query_rows(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + path + ": " + msg);
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    std::string msg = sqlite3_errmsg(db);
    sqlite3_close(db);
    throw std::runtime_error("bad query: " + msg + ": " + sql);
  }
  std::vector<Row> rows;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    Row row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const char* name = sqlite3_column_name(stmt, i);
      if (sqlite3_column_type(stmt, i) == SQLITE_NULL)
        row[name] = std::nullopt;
      else
        row[name] = std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, i)));
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

long long query_int(const std::string& path, const std::string& sql) {
  auto rows = query_rows(path, sql);
  if (rows.size() != 1 || rows[0].size() != 1 || !rows[0].begin()->second)
    throw std::runtime_error("expected one integer from: " + sql);
  return std::stoll(*rows[0].begin()->second);
}

}  // namespace crawl::test
