#include "bench/runner.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <set>
#include <stdexcept>
#include <thread>

#include "bench/child_process.hpp"
#include "bench/report.hpp"
#include "common/clock.hpp"
#include "common/usage_error.hpp"
#include "parsers/html.hpp"
#include "testbed/site.hpp"

namespace crawl::bench {
namespace {

// Forking this many workers would exhaust the machine's memory and process table long before it
// measured anything useful about process mode.
constexpr int kMaxProcesses = 2000;
// Threads and processes a `crawl run` needs beyond one per fetch: consumers, writer, callbacks, the
// signal watcher, libcurl resolver threads.
constexpr uint64_t kThreadSlack = 64;
// A list written for the testbed is a bench's own file; past this it is a disk-filling mistake.
constexpr uint64_t kMaxTestbedPages = 10'000'000;
constexpr std::string_view kListeningPrefix = "listening on ";

const std::set<std::string>& known_modes() {
  static const std::set<std::string> modes = {"fiber", "thread", "process", "hybrid"};
  return modes;
}

// A scratch directory for the testbed's URL list, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "crawl-bench-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("cannot create a temporary directory");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string file(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The testbed as a child process, stopped (SIGTERM, reaped) when this goes away.
class TestbedProcess {
 public:
  TestbedProcess(const std::string& executable, const TestbedWorkload& workload)
      : child_({executable, "testbed", "--port", "0", "--pages", std::to_string(workload.pages), "--latency",
                workload.latency, "--threads", std::to_string(workload.threads)}) {
    std::string line;
    if (child_.read_line(line, std::chrono::seconds(10)) && line.starts_with(kListeningPrefix)) {
      base_url_ = line.substr(kListeningPrefix.size());
      return;
    }
    const std::atomic<bool> stop_now{true};
    const ChildExit exit = child_.wait(stop_now);
    throw std::runtime_error(
        "the testbed did not start within 10 s" +
        (exit.err.empty() ? std::string() : ": " + exit.err.substr(0, exit.err.find('\n'))));
  }
  ~TestbedProcess() { child_.terminate(std::chrono::seconds(10)); }
  TestbedProcess(const TestbedProcess&) = delete;
  TestbedProcess& operator=(const TestbedProcess&) = delete;

  const std::string& base_url() const { return base_url_; }

 private:
  ChildProcess child_;
  std::string base_url_;
};

void write_testbed_list(const std::string& path, const std::string& base_url, uint64_t pages) {
  std::ofstream list(path);
  for (uint64_t n = 0; n < pages; ++n) list << base_url << "/page/" << n << '\n';
  list.flush();
  if (!list) throw std::runtime_error("cannot write the URL list " + path);
}

std::string describe_workload(const BenchOptions& options) {
  std::string text;
  if (options.testbed) {
    text = options.testbed->latency == "0" ? "testbed, no latency"
                                           : "testbed, " + options.testbed->latency + " latency";
  } else {
    for (const auto& list : options.lists)
      text += (text.empty() ? "" : " ") + std::filesystem::path(list).filename().string();
  }
  std::string flags;
  for (const auto& flag : options.run_flags) flags += " " + flag;
  if (!flags.empty()) text += ";" + flags;
  return text;
}

// The mean of the testbed's added latency (it picks each page's from [min, max] evenly by path);
// nothing for URL lists, whose latency only their servers know.
std::optional<double> testbed_latency_ms(const BenchOptions& options) {
  if (!options.testbed) return std::nullopt;
  const testbed::Latency latency = testbed::parse_latency(options.testbed->latency);
  return static_cast<double>(latency.min.count() + latency.max.count()) / 2;
}

// `crawl run` reports a usage problem as "crawl: what to do" on its last line of stderr.
std::string last_message(const std::string& err) {
  std::string_view text(err);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  const size_t start = text.rfind('\n');
  std::string_view line = start == std::string_view::npos ? text : text.substr(start + 1);
  if (line.starts_with("crawl: ")) line.remove_prefix(7);
  return std::string(line);
}

std::string why_it_failed(const ChildExit& exit) {
  const std::string message = last_message(exit.err);
  if (exit.code == 2) return message.empty() ? "crawl run refused it (exit 2)" : message;
  std::string reason = exit.code > 128 ? "crawl run was killed by signal " + std::to_string(exit.code - 128)
                                       : "crawl run failed (exit " + std::to_string(exit.code) + ")";
  return message.empty() ? reason : reason + ": " + message;
}

}  // namespace

void validate(const BenchOptions& options) {
  if (options.modes.empty()) throw UsageError("--modes is empty: list modes such as fiber,thread");
  std::set<std::string> seen_modes;
  for (const auto& mode : options.modes) {
    if (!known_modes().count(mode))
      throw UsageError("--modes: '" + mode + "' is not a mode: use fiber, thread, process or hybrid");
    if (!seen_modes.insert(mode).second) throw UsageError("--modes lists '" + mode + "' twice: list it once");
  }
  std::set<std::string> seen_parsers;
  for (const auto& parser : options.parsers) {
    if (!parsers::parser_named(parser))
      throw UsageError("--parsers: '" + parser + "' is not a parser: use gumbo or libxml2");
    if (!seen_parsers.insert(parser).second)
      throw UsageError("--parsers lists '" + parser + "' twice: list it once");
  }
  for (const auto& flag : options.run_flags)
    if (flag == "--no-parse" && !options.parsers.empty())
      throw UsageError("--parsers compares parsing, which --no-parse turns off: pass one of them");
  if (options.concurrencies.empty()) throw UsageError("-c is empty: give concurrencies such as 10,100");
  std::set<int> seen_concurrencies;
  for (int c : options.concurrencies) {
    if (c < 1) throw UsageError("-c " + std::to_string(c) + ": every concurrency must be at least 1");
    if (!seen_concurrencies.insert(c).second)
      throw UsageError("-c lists " + std::to_string(c) + " twice: list it once");
  }
  if (options.repeat < 1) throw UsageError("--repeat must be at least 1");
  if (options.hybrid_threads < 0)
    throw UsageError("--hybrid-threads must be at least 1 (or 0 for one per core)");
  if (options.testbed && !options.lists.empty())
    throw UsageError("pass URL list files or --testbed, not both");
  if (!options.testbed && options.lists.empty())
    throw UsageError("no URLs: pass URL list files, or --testbed to crawl a local test site");
  for (const auto& list : options.lists) {
    if (list == "-")
      throw UsageError(
          "crawl bench reads each list once per run, so it cannot read standard input: save it "
          "to a file first");
    if (access(list.c_str(), R_OK) != 0)
      throw UsageError("cannot read the URL list '" + list + "': check the path");
  }
  if (options.testbed) {
    if (options.testbed->pages < 1 || options.testbed->pages > kMaxTestbedPages)
      throw UsageError("--pages must be between 1 and " + std::to_string(kMaxTestbedPages));
    if (options.testbed->threads < 1 || options.testbed->threads > 256)
      throw UsageError("--testbed-threads must be between 1 and 256");
    testbed::parse_latency(options.testbed->latency);  // throws a UsageError naming --latency
  }
}

MachineLimits current_machine_limits() {
  MachineLimits limits;
  limits.cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  rlimit processes{};
  if (getrlimit(RLIMIT_NPROC, &processes) == 0 && processes.rlim_cur != RLIM_INFINITY)
    limits.max_user_processes = processes.rlim_cur;
  return limits;
}

std::vector<PlannedPair> plan_pairs(const std::vector<std::string>& modes,
                                    const std::vector<std::string>& parsers,
                                    const std::vector<int>& concurrencies, int hybrid_threads,
                                    const MachineLimits& limits) {
  const int threads_per_hybrid = hybrid_threads > 0 ? hybrid_threads : limits.cores;
  const std::vector<std::string> each_parser = parsers.empty() ? std::vector<std::string>{""} : parsers;
  std::vector<PlannedPair> pairs;
  for (const auto& mode : modes) {
    for (const auto& parser : each_parser) {
      for (int c : concurrencies) {
        PlannedPair pair{.mode = mode, .parser = parser, .concurrency = c};
        const std::string count = std::to_string(c);
        const bool over_process_limit = static_cast<uint64_t>(c) + kThreadSlack > limits.max_user_processes;
        const std::string limit_text = std::to_string(limits.max_user_processes);
        if (mode == "hybrid") {
          pair.layout_flags = {"--mode",    "hybrid",
                               "--threads", std::to_string(threads_per_hybrid),
                               "--fibers",  std::to_string(c / threads_per_hybrid)};
          if (c % threads_per_hybrid != 0)
            pair.skip_reason = "-c " + count + " is not a multiple of " + std::to_string(threads_per_hybrid) +
                               " threads (hybrid runs --threads " + std::to_string(threads_per_hybrid) +
                               " --fibers c/" + std::to_string(threads_per_hybrid) + ")";
        } else {
          pair.layout_flags = {"--mode", mode, "-c", count};
          if (mode == "process" && c > kMaxProcesses)
            pair.skip_reason = "too many processes for this machine (-c " + count + " is over " +
                               std::to_string(kMaxProcesses) + ")";
          else if (mode == "process" && over_process_limit)
            pair.skip_reason = "-c " + count + " needs " + count + " processes but this user may run only " +
                               limit_text + " (ulimit -u)";
          else if (mode == "thread" && over_process_limit)
            pair.skip_reason = "-c " + count + " needs " + count + " threads but this user may run only " +
                               limit_text + " (ulimit -u)";
        }
        if (!parser.empty()) pair.layout_flags.insert(pair.layout_flags.end(), {"--parser", parser});
        pairs.push_back(std::move(pair));
      }
    }
  }
  return pairs;
}

std::vector<size_t> interleaved_order(size_t pairs, int repeat) {
  std::vector<size_t> order;
  for (int round = 0; round < repeat; ++round)
    for (size_t pair = 0; pair < pairs; ++pair) order.push_back(pair);
  return order;
}

BenchOutcome run_bench(const BenchOptions& options, const std::atomic<bool>& stop, std::ostream& log) {
  validate(options);
  const MachineLimits machine = current_machine_limits();
  std::vector<PlannedPair> pairs =
      plan_pairs(options.modes, options.parsers, options.concurrencies, options.hybrid_threads, machine);

  // Declared before the testbed, so the testbed (which may hold the list open) stops first.
  std::optional<ScratchDir> scratch;
  std::optional<TestbedProcess> testbed;
  std::vector<std::string> lists = options.lists;
  if (options.testbed) {
    scratch.emplace();
    testbed.emplace(options.crawl_executable, *options.testbed);
    lists = {scratch->file("testbed-urls.txt")};
    write_testbed_list(lists.front(), testbed->base_url(), options.testbed->pages);
  }

  storage::BenchRecorder recorder = storage::BenchRecorder::create(options.db_path,
                                                                   {.workload = describe_workload(options),
                                                                    .modes = options.modes,
                                                                    .parsers = options.parsers,
                                                                    .concurrencies = options.concurrencies,
                                                                    .repeat = options.repeat,
                                                                    .version = CRAWL_VERSION,
                                                                    .command_line = options.command_line,
                                                                    .latency_ms = testbed_latency_ms(options),
                                                                    .cores = machine.cores},
                                                                   unix_now());
  BenchOutcome outcome{.bench_id = recorder.info().id};
  for (const PlannedPair& pair : pairs) {
    if (pair.skip_reason.empty()) continue;
    const std::string label = pair_label(pair.mode, pair.parser);
    recorder.record_skip({.mode = label, .concurrency = pair.concurrency, .reason = pair.skip_reason});
    if (options.progress)
      log << label << " -c " << pair.concurrency << ": skipped: " << pair.skip_reason << "\n";
  }

  const std::vector<size_t> order = interleaved_order(pairs.size(), options.repeat);
  std::vector<int> runs_done(pairs.size(), 0);
  int64_t newest_run_id = 0;
  for (size_t step = 0; step < order.size(); ++step) {
    PlannedPair& pair = pairs[order[step]];
    if (!pair.skip_reason.empty()) continue;
    if (stop.load()) {
      outcome.interrupted = true;
      break;
    }
    std::vector<std::string> argv = {options.crawl_executable, "run"};
    argv.insert(argv.end(), lists.begin(), lists.end());
    argv.insert(argv.end(), pair.layout_flags.begin(), pair.layout_flags.end());
    argv.insert(argv.end(), {"--db", options.db_path, "--bench-id", outcome.bench_id, "--no-progress"});
    argv.insert(argv.end(), options.run_flags.begin(), options.run_flags.end());
    const int repeat = ++runs_done[order[step]];
    if (options.progress)
      log << "[" << step + 1 << "/" << order.size() << "] " << pair_label(pair.mode, pair.parser) << " -c "
          << pair.concurrency << " (run " << repeat << "/" << options.repeat << ") " << std::flush;

    ChildProcess child(argv);
    const ChildExit exit = child.wait(stop);
    if (exit.code == 130 || stop.load()) {
      if (options.progress) log << "interrupted\n";
      outcome.interrupted = true;
      break;
    }
    if (exit.code != 0) {
      // A pair that fails once would fail again: report it rather than spend the remaining repeats.
      pair.skip_reason = why_it_failed(exit);
      recorder.record_skip({.mode = pair_label(pair.mode, pair.parser),
                            .concurrency = pair.concurrency,
                            .reason = pair.skip_reason});
      if (options.progress) log << "skipped: " << pair.skip_reason << "\n";
      continue;
    }
    const std::optional<storage::BenchRun> run = recorder.newest_run();
    if (!run || run->id <= newest_run_id)
      throw std::runtime_error("crawl run exited 0 but stored no run in " + options.db_path);
    newest_run_id = run->id;
    if (options.progress)
      log << std::fixed << std::setprecision(3) << run->wall_s << " s, " << std::setprecision(0)
          << run->pages_per_s << " pages/s, " << run->pages_failed << " failed\n";
  }
  recorder.finish(outcome.interrupted ? "interrupted" : "completed", unix_now());
  return outcome;
}

}  // namespace crawl::bench
