// What storage needs of SQLite beyond Connection: the raw handle, for the few things only SQLite
// has (user functions, the file-moved check, statement tails). Only storage's .cpp files include it.
#pragma once

#include "storage/connection.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace crawl::storage {

// The SQLite handle behind a connection; nullptr for another engine.
sqlite3* sqlite_handle(Connection& connection);
// A statement prepared with sqlite3_prepare_* on that handle, owned from now on by the Statement.
Statement adopt_sqlite_statement(sqlite3* db, sqlite3_stmt* statement);

}  // namespace crawl::storage
