// Reading a crawl database from tests with plain SQLite or libpq, independent of storage/.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace crawl::test {

using Row = std::map<std::string, std::optional<std::string>>;

// All rows of `sql` on the database at `path` (opened read-only), or at a postgresql:// URI, values
// as text (NULL as nullopt).
std::vector<Row> query_rows(const std::string& path, const std::string& sql);
// The single integer `sql` returns.
long long query_int(const std::string& path, const std::string& sql);
// Runs `sql` on the SQLite database at `path`, read-write; a failure fails the calling test.
void exec_sql(const std::string& path, const std::string& sql);
// Whether `sql` on the database at `path` (or a postgresql:// URI) counts `at_least` or more within
// `within`, asked every 20 ms; until a crawl started in the background has made them, the file and
// its tables may not be there. For tests that act on a crawl only once it has got that far, however
// slowly a loaded machine runs it.
bool wait_for_count(const std::string& path, const std::string& sql, long long at_least,
                    std::chrono::seconds within = std::chrono::seconds(60));

}  // namespace crawl::test
