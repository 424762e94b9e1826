// `crawl query` and `crawl runs`: read the database a run wrote, never change it.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "bench/chart.hpp"
#include "bench/report.hpp"
#include "cli/commands.hpp"
#include "common/usage_error.hpp"
#include "storage/query.hpp"

namespace crawl::cli {
namespace {

struct QueryFlags {
  std::string sql;
  std::string db = "crawl.db";
  std::string format = "table";
  std::string report;
  std::optional<int64_t> run;
  std::optional<int64_t> against;
  bool list_reports = false;
  bool sql_given = false;
  bool report_given = false;
};

struct RunsFlags {
  std::string db = "crawl.db";
  std::string format = "table";
  int limit = 20;
  std::string bench;  // a bench id or "latest": its comparison table instead of the list of runs
  std::string chart;
};

int run_query(const QueryFlags& f) {
  const storage::Format format = storage::parse_format(f.format);
  if (f.list_reports) {
    if (!f.sql.empty() || !f.report.empty()) throw UsageError("--list-reports takes no SQL and no --report");
    storage::print_reports(format, std::cout);
    return 0;
  }
  if (!f.sql.empty() && !f.report.empty()) throw UsageError("pass either SQL or --report NAME, not both");
  // Given but empty (an unset shell variable, say) is not the same as not given.
  const auto blank = [](const std::string& text) {
    return text.find_first_not_of(" \t\r\n") == std::string::npos;
  };
  if (f.sql_given && blank(f.sql))
    throw UsageError("the SQL is empty: give one statement, or --report NAME (see --list-reports)");
  if (f.report_given && blank(f.report))
    throw UsageError("--report is empty: name a report (see --list-reports)");
  // With neither, the question is usually "how did the last run go?".
  const std::string sql =
      !f.sql.empty() ? f.sql : storage::report_sql(f.report.empty() ? "summary" : f.report);
  storage::run_query(f.db, sql, format, std::cout, f.run, f.against);
  return 0;
}

int run_runs(const RunsFlags& f) {
  const storage::Format format = storage::parse_format(f.format);
  if (!f.chart.empty() && f.bench.empty())
    throw UsageError("--chart draws a bench: add --bench ID or latest");
  if (f.bench.empty()) {
    storage::list_runs(f.db, format, std::cout, f.limit);
    return 0;
  }
  const bench::BenchReport report = bench::load_bench_report(f.db, f.bench);
  bench::print_bench_report(report, format, std::cout);
  if (!f.chart.empty()) bench::write_bench_chart(report, f.chart);
  return 0;
}

}  // namespace

void add_query_commands(CLI::App& app, Runner& runner) {
  auto query = std::make_shared<QueryFlags>();
  CLI::App* query_cmd = app.add_subcommand(
      "query",
      "Query the database read-only: SQL, a named report, or (with neither) the latest run's summary");
  query_cmd->add_option("sql", query->sql,
                        "One SQL statement; ?1 is bound to the run id (--run, default the latest)");
  query_cmd->add_option("--db", query->db, "SQLite file or postgresql:// URI")->capture_default_str();
  query_cmd->add_option("--format", query->format, "Output: table, csv, json or jsonl")
      ->capture_default_str();
  query_cmd->add_option("--report", query->report, "A named report (see --list-reports)");
  query_cmd->add_option("--run", query->run, "Run id for the report or ?1 (default: the latest run)");
  query_cmd->add_option("--against", query->against,
                        "Run the changes report (or ?2) compares with (default: the run before --run)");
  query_cmd->add_flag("--list-reports", query->list_reports, "List the named reports and exit");
  query_cmd->callback([query, query_cmd, &runner] {
    query->sql_given = query_cmd->count("sql") > 0;
    query->report_given = query_cmd->count("--report") > 0;
    runner = [query] { return run_query(*query); };
  });

  auto runs = std::make_shared<RunsFlags>();
  CLI::App* runs_cmd = app.add_subcommand("runs", "List the runs in the database, newest first");
  runs_cmd->add_option("--db", runs->db, "SQLite file or postgresql:// URI")->capture_default_str();
  runs_cmd->add_option("--format", runs->format, "Output: table, csv, json or jsonl")->capture_default_str();
  runs_cmd->add_option("--limit", runs->limit, "How many runs to show")->capture_default_str();
  runs_cmd->add_option("--bench", runs->bench,
                       "Show the comparison table of a `crawl bench` (its id, or latest) instead");
  runs_cmd->add_option("--chart", runs->chart, "With --bench: also draw its chart to FILE.svg");
  runs_cmd->callback([runs, &runner] { runner = [runs] { return run_runs(*runs); }; });
}

}  // namespace crawl::cli
