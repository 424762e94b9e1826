// `crawl bench` in the database: recording a comparison (the `benches` row, the pairs it skipped) and
// reading it back as one row per (mode, concurrency) with medians and ranges over the repeats.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/query.hpp"

namespace crawl::storage {

class Database;

// One `benches` row: what was compared, on what.
struct BenchInfo {
  std::string id;
  std::string status = "running";    // running | completed | interrupted
  std::string started_at;            // ISO-8601 UTC
  std::string ended_at;              // empty while running
  std::string workload;              // e.g. "testbed, 100ms latency" or the list files
  std::vector<std::string> modes;    // in the order given
  std::vector<std::string> parsers;  // in the order given; empty when parsers were not compared
  std::vector<int> concurrencies;    // in the order given
  int repeat = 1;
  std::string version;
  std::string command_line;
};

// A pair that could not be run, or stopped being run, and why.
struct BenchSkip {
  std::string mode;  // its pair_label(): the mode, with "/parser" when the bench compares parsers
  int concurrency = 0;
  std::string reason;
};

// The measurements of one `runs` row that belongs to a bench.
struct BenchRun {
  int64_t id = 0;
  std::string status;  // only completed runs are measured
  std::string mode;
  std::string parser;  // empty for runs before schema version 9 and with --no-parse
  int concurrency = 0;
  int processes = 1, threads = 1, fibers = 1;
  int64_t urls = 0;
  double wall_s = 0, pages_per_s = 0, user_s = 0, sys_s = 0;
  int64_t peak_rss_kb = 0, voluntary_ctx = 0, involuntary_ctx = 0;
  double p50_ms = 0, p99_ms = 0;
  int64_t pages_failed = 0;
  int64_t connections = 0, connected_hosts = 0;  // 0 for runs before schema version 6
};

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
  double cpu_ms_per_page = 0;  // (user + sys) per URL, the median over the runs
  double voluntary_ctx = 0, involuntary_ctx = 0;
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

// Writes a bench's own rows while its runs (child processes) write theirs to the same file.
class BenchRecorder {
 public:
  // Inserts the `benches` row with a new id ("b" + UTC date and time, "-2"... if taken) and
  // status running; `info.id` and `info.started_at` are filled in. Throws StorageError.
  static BenchRecorder create(const std::string& db_path, BenchInfo info, double unix_now);
  BenchRecorder(BenchRecorder&&) noexcept;
  ~BenchRecorder();

  const BenchInfo& info() const { return info_; }
  void record_skip(const BenchSkip& skip);
  // The newest `runs` row tagged with this bench's id, if any.
  std::optional<BenchRun> newest_run() const;
  void finish(std::string_view status, double unix_now);

 private:
  BenchRecorder(std::unique_ptr<Database> db, BenchInfo info);
  std::unique_ptr<Database> db_;
  BenchInfo info_;
};

// Reads bench `id` ("latest": the newest) from the database, read-only. Throws crawl::UsageError when
// there is no such bench and StorageError when the file cannot be read.
BenchReport load_bench_report(const std::string& db_path, std::string_view id);

// The report as an aligned table (with a heading and the full reasons of skipped pairs below it), or
// as csv/json/jsonl rows with separate min and max columns. Numbers are rounded alike in every format.
void print_bench_report(const BenchReport& report, Format format, std::ostream& out);

}  // namespace crawl::storage
