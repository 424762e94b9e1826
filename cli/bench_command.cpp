// `crawl bench`: compare the execution modes on the same URLs, print the table, draw the chart.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "bench/chart.hpp"
#include "bench/report.hpp"
#include "bench/runner.hpp"
#include "cli/commands.hpp"
#include "common/units.hpp"
#include "common/usage_error.hpp"
#include "crawler/signals.hpp"
#include "crawler/tls.hpp"
#include "storage/connection.hpp"
#include "storage/query.hpp"

namespace crawl::cli {
namespace {

struct BenchFlags {
  std::vector<std::string> lists;
  bool testbed = false;
  uint64_t pages = 1000;
  std::string latency = "0";
  int testbed_threads = 1;
  std::vector<std::string> modes = {"fiber", "thread"};
  std::vector<std::string> parsers;
  std::vector<int> concurrencies = {10, 100};
  int repeat = 3;
  int hybrid_threads = 0;
  std::string db = "crawl.db";
  std::string chart;
  std::string format = "table";
  std::optional<bool> progress;
  // Handed to every `crawl run` unchanged when given.
  bool no_parse = false;
  bool insecure = false;
  std::optional<std::string> cacert, capath;
  std::optional<std::string> timeout, connect_timeout, max_size, user_agent;
  std::optional<int> queue, consumers, callback_threads, max_redirects;
};

// Checked here so a typo fails at once instead of as the same skip reason on every pair.
std::vector<std::string> run_flags(const BenchFlags& f) {
  std::vector<std::string> flags;
  if (f.no_parse) flags.push_back("--no-parse");
  if (f.insecure) flags.push_back("--insecure");
  if (f.cacert) {
    if (std::string problem = check_ca_file(*f.cacert); !problem.empty()) throw UsageError(problem);
    flags.insert(flags.end(), {"--cacert", *f.cacert});
  }
  if (f.capath) {
    if (std::string problem = check_ca_path(*f.capath); !problem.empty()) throw UsageError(problem);
    flags.insert(flags.end(), {"--capath", *f.capath});
  }
  if (f.timeout) {
    if (parse_duration(*f.timeout, "--timeout").count() <= 0)
      throw UsageError("--timeout must be more than 0");
    flags.insert(flags.end(), {"--timeout", *f.timeout});
  }
  if (f.connect_timeout) {
    parse_duration(*f.connect_timeout, "--connect-timeout");
    flags.insert(flags.end(), {"--connect-timeout", *f.connect_timeout});
  }
  if (f.max_size) {
    parse_positive_size(*f.max_size, "--max-size");
    flags.insert(flags.end(), {"--max-size", *f.max_size});
  }
  if (f.user_agent) flags.insert(flags.end(), {"--user-agent", *f.user_agent});
  auto number = [&flags](const std::optional<int>& value, const char* name, int lowest) {
    if (!value) return;
    if (*value < lowest) throw UsageError(std::string(name) + " must be at least " + std::to_string(lowest));
    flags.insert(flags.end(), {name, std::to_string(*value)});
  };
  number(f.queue, "--queue", 1);
  number(f.consumers, "--consumers", 0);
  number(f.callback_threads, "--callback-threads", 1);
  number(f.max_redirects, "--max-redirects", 0);
  return flags;
}

void check_chart_path(const std::string& path) {
  if (path.empty()) return;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent))
    throw UsageError("--chart " + path + ": the directory " + parent.string() + " does not exist");
}

int run_bench(const BenchFlags& f, const std::string& command_line) {
  const storage::Format format = storage::parse_format(f.format);
  check_chart_path(f.chart);
  bench::BenchOptions options{
      .lists = f.lists,
      .testbed = std::nullopt,
      .modes = f.modes,
      .parsers = f.parsers,
      .concurrencies = f.concurrencies,
      .repeat = f.repeat,
      .db_path = f.db,
      .run_flags = run_flags(f),
      .hybrid_threads = f.hybrid_threads,
      .command_line = command_line,
      .progress = f.progress.value_or(isatty(STDERR_FILENO) == 1),
  };
  if (f.testbed)
    options.testbed =
        bench::TestbedWorkload{.pages = f.pages, .latency = f.latency, .threads = f.testbed_threads};
  bench::validate(options);

  // Before any thread or child exists, so that all of them inherit the blocked signals (children
  // get them unblocked again when they start).
  std::atomic<bool> stop{false};
  SignalWatcher signals(stop);
  signals.watch();
  const bench::BenchOutcome outcome = bench::run_bench(options, stop, std::cerr);

  const bench::BenchReport report = bench::load_bench_report(f.db, outcome.bench_id);
  bench::print_bench_report(report, format, std::cout);
  if (!f.chart.empty()) bench::write_bench_chart(report, f.chart);
  // Where it all went, on stderr: stdout may be csv or json for a program.
  std::cerr << "bench " << outcome.bench_id << " stored in " << storage::redact_password(f.db)
            << " (crawl runs --db " << storage::redact_password(f.db) << " --bench " << outcome.bench_id
            << " shows it again)";
  if (!f.chart.empty()) std::cerr << "; chart written to " << f.chart;
  std::cerr << '\n';
  return outcome.interrupted ? 130 : 0;
}

}  // namespace

void add_bench_command(CLI::App& app, Runner& runner, const std::string& command_line) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Compare the execution modes on the same URLs: every (mode, concurrency) pair --repeat times, each a "
      "fresh `crawl run` in interleaved order; prints medians and ranges, stores every run");
  cmd->add_option("lists", flags->lists, "URL list files (or use --testbed)");
  // One value per occurrence for the list-valued options, so that they do not swallow the lists
  // that follow them (see run_command.cpp).
  cmd->add_flag("--testbed", flags->testbed,
                "Start a local testbed and crawl its pages /page/0 .. /page/N-1 (no list, no network)");
  cmd->add_option("--pages", flags->pages, "With --testbed: number of pages")->capture_default_str();
  cmd->add_option("--latency", flags->latency,
                  "With --testbed: latency per request, e.g. 100ms or 50ms-150ms")
      ->capture_default_str();
  cmd->add_option("--testbed-threads", flags->testbed_threads, "With --testbed: server threads")
      ->capture_default_str();
  cmd->add_option("--modes", flags->modes,
                  "Comma-separated modes: fiber, thread, process, hybrid (hybrid runs --threads <cores> "
                  "--fibers c/<cores>; a c that does not divide is skipped)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->capture_default_str();
  cmd->add_option(
         "--parsers", flags->parsers,
         "Comma-separated HTML parsers to compare in each mode: gumbo, libxml2 (default: crawl run's "
         "parser only, not compared)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("-c,--concurrency", flags->concurrencies,
                  "Comma-separated concurrencies (fetches in flight)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->capture_default_str();
  cmd->add_option("--repeat", flags->repeat, "Runs of each pair (interleaved)")->capture_default_str();
  cmd->add_option("--hybrid-threads", flags->hybrid_threads,
                  "Hybrid: producer threads (default: one per core)");
  cmd->add_option("--db", flags->db, "SQLite file, or postgresql:// URI, for the runs")
      ->capture_default_str();
  cmd->add_option(
      "--chart", flags->chart,
      "Also draw throughput, peak memory, CPU and context switches per page of each mode to FILE.svg");
  cmd->add_option("--format", flags->format, "Output: table, csv, json or jsonl")->capture_default_str();
  cmd->add_flag(
      "--progress", [flags](int64_t) { flags->progress = true; },
      "One line per run on stderr [when stderr is a terminal]");
  cmd->add_flag(
      "--no-progress", [flags](int64_t) { flags->progress = false; }, "No line per run");
  const std::string passed = "Passed to crawl run";
  cmd->add_flag("--no-parse", flags->no_parse, "Fetch only: no parsing")->group(passed);
  cmd->add_flag("-k,--insecure", flags->insecure, "Do not verify TLS certificates")->group(passed);
  cmd->add_option("--cacert", flags->cacert, "Trust the CA certificates in this PEM file")->group(passed);
  cmd->add_option("--capath", flags->capath, "Trust the CA certificates in this hashed directory")
      ->group(passed);
  cmd->add_option("--timeout", flags->timeout, "Whole-transfer timeout (e.g. 30s)")->group(passed);
  cmd->add_option("--connect-timeout", flags->connect_timeout, "Connect timeout")->group(passed);
  cmd->add_option("--max-size", flags->max_size, "Largest body (e.g. 10M)")->group(passed);
  cmd->add_option("--user-agent", flags->user_agent, "User-Agent header")->group(passed);
  cmd->add_option("--queue", flags->queue, "Pages that may wait for a consumer")->group(passed);
  cmd->add_option("--consumers", flags->consumers, "Parsing threads")->group(passed);
  cmd->add_option("--callback-threads", flags->callback_threads, "Callback threads")->group(passed);
  cmd->add_option("--max-redirects", flags->max_redirects, "Redirects followed")->group(passed);
  cmd->callback([flags, &runner, command_line] {
    runner = [flags, command_line] { return run_bench(*flags, command_line); };
  });
}

}  // namespace crawl::cli
