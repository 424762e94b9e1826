// `crawl bench`: runs every (mode, concurrency) pair `repeat` times on the same URLs, each run a fresh
// `crawl run` process tagged with the bench id, in interleaved order; optionally against a testbed it
// starts itself. The runs land in the database; bench/report.hpp reads them back.
#pragma once

#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace crawl::bench {

// A testbed the bench starts, and the list of its pages /page/0 .. /page/pages-1.
struct TestbedWorkload {
  uint64_t pages = 1000;
  std::string latency = "0";  // as `crawl testbed --latency` takes it: 100ms, 50ms-150ms
  int threads = 1;            // server threads
};

struct BenchOptions {
  std::vector<std::string> lists;  // URL list files; empty with a testbed
  std::optional<TestbedWorkload> testbed;
  std::vector<std::string> modes;    // fiber, thread, process, hybrid; order kept
  std::vector<std::string> parsers;  // gumbo, libxml2; order kept; empty: crawl run's default, not compared
  std::vector<int> concurrencies;    // order kept
  int repeat = 3;
  std::string db_path = "crawl.db";
  std::vector<std::string> run_flags;  // handed to every `crawl run` as they are
  int hybrid_threads = 0;              // hybrid: --threads T --fibers c/T; 0: one per core
  std::string crawl_executable = "/proc/self/exe";
  std::string command_line;
  bool progress = false;  // one line per run on the log stream
};

// Throws crawl::UsageError for options that cannot be used (no modes, -c 0, a list and --testbed...).
void validate(const BenchOptions& options);

// What the machine allows, for skipping pairs before starting them.
struct MachineLimits {
  int cores = 1;
  uint64_t max_user_processes = UINT64_MAX;  // RLIMIT_NPROC: threads count against it too
};
MachineLimits current_machine_limits();

// One (mode, concurrency) pair, or (mode, parser, concurrency) when parsers are compared, and how
// `crawl run` is asked for it.
struct PlannedPair {
  std::string mode;
  std::string parser;  // empty when parsers are not compared
  int concurrency = 0;
  std::vector<std::string> layout_flags;  // e.g. {"--mode", "hybrid", "--threads", "2", "--fibers", "50"}
  std::string skip_reason;                // set when it is known in advance that it cannot run
};

// modes × parsers × concurrencies in the order given (no parsers: modes × concurrencies), with each
// pair's flags and any reason to skip it: process mode over 2,000 processes, thread or process
// counts over the process limit, hybrid with a concurrency that is not a multiple of its thread count.
std::vector<PlannedPair> plan_pairs(const std::vector<std::string>& modes,
                                    const std::vector<std::string>& parsers,
                                    const std::vector<int>& concurrencies, int hybrid_threads,
                                    const MachineLimits& limits);

// The order of the runs as indices into the pairs: every pair once, then every pair again, `repeat`
// times (A B C A B C), so a shared machine's drift touches every pair alike.
std::vector<size_t> interleaved_order(size_t pairs, int repeat);

struct BenchOutcome {
  std::string bench_id;
  bool interrupted = false;  // SIGINT/SIGTERM stopped it; the runs so far are stored
};

// Runs the bench to the end. `stop` may be set from another thread (a signal watcher); the running
// child is then asked to stop and no further run starts. Progress lines go to `log`. Throws
// crawl::UsageError for unusable options (and when the testbed cannot start), StorageError when the
// database cannot be written.
BenchOutcome run_bench(const BenchOptions& options, const std::atomic<bool>& stop, std::ostream& log);

}  // namespace crawl::bench
