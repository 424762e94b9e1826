// `crawl bench` in the database: the `benches` row, the pairs a bench skipped and the measures of
// its runs, written while it runs (BenchRecorder) and read back whole (load_bench). bench/report.hpp
// turns them into medians per pair.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
  // The testbed's mean added latency per request; unknown (nullopt) for URL lists and for benches
  // stored before schema version 10.
  std::optional<double> latency_ms;
  int cores = 0;  // hardware threads of the machine it ran on; 0: not recorded (before version 10)
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

// A bench as stored: its row, its runs in the order they ran, its skips in the order recorded.
struct StoredBench {
  BenchInfo info;
  std::vector<BenchRun> runs;
  std::vector<BenchSkip> skips;
};

// Reads bench `id` ("latest": the newest) from the database, read-only. Throws crawl::UsageError when
// there is no such bench and StorageError when the file cannot be read.
StoredBench load_bench(const std::string& db_path, std::string_view id);

}  // namespace crawl::storage
