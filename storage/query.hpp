// Reading a crawl database: SQL or a named report over a read-only connection, printed as an aligned
// table, CSV, a JSON array or JSON lines.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace crawl::storage {

enum class Format { table, csv, json, jsonl };

// "table", "csv", "json" or "jsonl"; anything else throws crawl::UsageError.
Format parse_format(std::string_view name);

struct ReportInfo {
  std::string name;
  std::string description;
};

// The named reports, each a query over one run whose id is the parameter ?1 (changes: and the run
// it is compared with, ?2).
std::vector<ReportInfo> reports();
// The SQL of a report; an unknown name throws crawl::UsageError listing the known ones.
std::string report_sql(std::string_view name);
// reports() as rows of name and description.
void print_reports(Format format, std::ostream& out);

// Runs one SQL statement on a read-only connection and prints its rows. A statement with a
// parameter (?1) gets `run_id`, or the latest run's id when that is unset; one with a second (?2)
// gets `against`, or the run before ?1's (the changes report). Throws crawl::UsageError for SQL that
// cannot run (syntax, unknown column, a statement that would write, --run without ?1, no run
// before ?1's) and StorageError when the database cannot be read.
void run_query(const std::string& db_path, const std::string& sql, Format format, std::ostream& out,
               std::optional<int64_t> run_id = std::nullopt, std::optional<int64_t> against = std::nullopt);

// One value of a printed row: NULL, an integer, a real or text.
using Value = std::variant<std::monostate, int64_t, double, std::string>;

// Prints rows computed elsewhere (e.g. a bench report) exactly as query results are printed.
void print_rows(const std::vector<std::string>& columns, const std::vector<std::vector<Value>>& rows,
                Format format, std::ostream& out);

// The `limit` newest runs, newest first, one row each.
void list_runs(const std::string& db_path, Format format, std::ostream& out, int limit);

}  // namespace crawl::storage
