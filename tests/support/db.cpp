#include "tests/support/db.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <filesystem>
#include <stdexcept>
#include <thread>

namespace crawl::test {
namespace {

std::vector<Row> query_postgres(const std::string& uri, const std::string& sql) {
  PGconn* conn = PQconnectdb(uri.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot connect to " + uri + ": " + msg);
  }
  PGresult* result = PQexec(conn, sql.c_str());
  if (PQresultStatus(result) != PGRES_TUPLES_OK) {
    std::string msg = PQresultErrorMessage(result);
    PQclear(result);
    PQfinish(conn);
    throw std::runtime_error("bad query: " + msg + ": " + sql);
  }
  std::vector<Row> rows;
  for (int r = 0; r < PQntuples(result); ++r) {
    Row row;
    for (int c = 0; c < PQnfields(result); ++c) {
      if (PQgetisnull(result, r, c))
        row[PQfname(result, c)] = std::nullopt;
      else
        row[PQfname(result, c)] = std::string(PQgetvalue(result, r, c));
    }
    rows.push_back(std::move(row));
  }
  PQclear(result);
  PQfinish(conn);
  return rows;
}

}  // namespace

std::vector<Row> query_rows(const std::string& path, const std::string& sql) {
  if (path.starts_with("postgresql://")) return query_postgres(path, sql);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + path + ": " + msg);
  }
  // A crawl writing the file may hold it for a moment (recovering its WAL as it opens, a
  // checkpoint): a reader waits, as `crawl query` does, instead of failing with "database is locked".
  sqlite3_busy_timeout(db, 10'000);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    std::string msg = sqlite3_errmsg(db);
    sqlite3_close(db);
    throw std::runtime_error("bad query: " + msg + ": " + sql);
  }
  std::vector<Row> rows;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
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
  if (rc != SQLITE_DONE) {  // not a shorter answer: an error
    std::string msg = sqlite3_errmsg(db);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    throw std::runtime_error("query failed: " + msg + ": " + sql);
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

void exec_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 10'000);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

bool wait_for_count(const std::string& path, const std::string& sql, long long at_least,
                    std::chrono::seconds within) {
  const bool file = !path.starts_with("postgresql://");
  const auto deadline = std::chrono::steady_clock::now() + within;
  for (;;) {
    try {
      if ((!file || std::filesystem::exists(path)) && query_int(path, sql) >= at_least) return true;
    } catch (const std::exception&) {
      // Not made yet: the file, its schema or the row asked for.
    }
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace crawl::test
