// What `crawl bench` shows of a stored bench: one row per (mode, concurrency) with medians and ranges
// over its repeats, as a table or as csv/json/jsonl rows.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "storage/bench_records.hpp"
#include "storage/query.hpp"

namespace crawl::bench {

using storage::BenchInfo;
using storage::BenchRun;
using storage::BenchSkip;

struct Spread {
  double median = 0, min = 0, max = 0;
};

// One (mode, concurrency) pair over its completed runs (one (mode, parser, concurrency) triple when
// the bench compares parsers; "pair" names both). Everything but `runs`, `note` and the
// identity is meaningless when runs == 0 (the pair was skipped).
struct BenchPair {
  std::string mode;
  std::string parser;  // empty when the bench does not compare parsers
  int concurrency = 0;
  std::string layout;  // P×T×F of its runs, e.g. "1×2×50"
  int runs = 0;
  int64_t urls = 0;  // per run (the median)
  Spread wall_s, pages_per_s;
  double vs_best = 0;  // median wall time ÷ the best pair's; 1 for the best
  double user_s = 0, sys_s = 0, peak_rss_mb = 0;
  double cpu_ms_per_page = 0;                     // (user + sys) per URL, the median over the runs
  double voluntary_ctx = 0, involuntary_ctx = 0;  // per run, the medians
  double context_switches_per_page = 0;           // (voluntary + involuntary) per URL, the median
  double p50_ms = 0, p99_ms = 0;
  // Connections opened per host the run connected to: 1 when each host's connection was kept and
  // shared (HTTP/2 streams), about -c for one HTTP/1.1 host.
  double connections_per_host = 0;
  int64_t failed = 0;  // failed pages, summed over the runs
  std::string note;    // "skipped: why", or why some runs are missing; empty when all ran
};

struct BenchReport {
  BenchInfo info;
  // Modes in the order given, each with its parsers in the order given, each with its concurrencies
  // rising.
  std::vector<BenchPair> pairs;
};

// What a bench compares along the concurrencies: "fiber", or "fiber/libxml2" when it compares
// parsers. Each is a line in the chart and the name of its skips.
std::string pair_label(std::string_view mode, std::string_view parser);
// The labels of a report's lines, in order.
std::vector<std::string> series_labels(const BenchInfo& info);

// Medians of each measure over a pair's completed runs, ranges of wall time and throughput, and the
// ratio to the fastest pair. Pairs appear mode by mode in the order given, concurrencies rising; runs
// of any other pair are ignored.
BenchReport aggregate_bench(const BenchInfo& info, const std::vector<BenchRun>& runs,
                            const std::vector<BenchSkip>& skips);

// One line per mode and note, naming the concurrencies it applies to:
// "process -c 10, 100: skipped: worker processes are not available ...".
std::vector<std::string> bench_notes(const BenchReport& report);

// The median of `values` (the mean of the middle two for an even count); 0 for none.
double median(std::vector<double> values);

// Bench `id` ("latest": the newest) read from the database and aggregated. Throws crawl::UsageError
// when there is no such bench and storage::StorageError when the file cannot be read.
BenchReport load_bench_report(const std::string& db_path, std::string_view id);

// The report as an aligned table (with a heading and the full reasons of skipped pairs below it), or
// as csv/json/jsonl rows with separate min and max columns. Numbers are rounded alike in every format.
void print_bench_report(const BenchReport& report, storage::Format format, std::ostream& out);

}  // namespace crawl::bench
