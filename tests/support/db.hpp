// Reading a crawl database from tests with plain SQLite or libpq, independent of storage/.
#pragma once

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

}  // namespace crawl::test
