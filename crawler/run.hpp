// A whole crawl: URL sources → producers (the execution layout) → bounded queue → consumers (parse)
// → the SQLite writer, with callbacks on a thread pool. The public entry point of crawler/.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "crawler/callbacks.hpp"
#include "crawler/fetch.hpp"
#include "crawler/frontier.hpp"
#include "crawler/layout.hpp"
#include "crawler/progress.hpp"
#include "crawler/tally.hpp"
#include "parsers/html.hpp"
#include "storage/records.hpp"
#include "urls/reader.hpp"

namespace crawl {

struct RunOptions {
  urls::ReaderInputs inputs;
  Layout layout;
  size_t queue_capacity = 1000;     // pages waiting between producers and consumers
  int64_t queue_bytes = 256 << 20;  // and at most this many body bytes among them (0: no bound)
  int consumers = 0;                // 0: one per core
  int callback_threads = 2;
  bool parse = true;  // false (--no-parse): status and sizes only, bodies never kept
  parsers::HtmlParser parser = parsers::HtmlParser::gumbo;  // --parser
  FetchOptions fetch;
  FollowOptions follow;          // --depth, --scope, --include/--exclude, --max-pages, --order
  PolitenessOptions politeness;  // --per-host, --delay, --robots, --retries
  std::string db_path = "crawl.db";
  Callbacks callbacks;
  ProgressStyle progress = ProgressStyle::none;  // how far the crawl is, on stderr
  bool handle_signals = true;                    // SIGINT/SIGTERM stop the run cleanly
  std::string command_line;
  std::string bench_id;
  std::string settings;           // what the run crawls, as JSON (stored for `crawl resume`)
  int64_t resume_run = 0;         // `crawl resume`: the run to continue; 0: a new run
  bool synchronous_full = false;  // --sync full: each commit reaches the disk before the run goes on
  // --shared: other workers may join the run; for `crawl resume`, whether the run is one.
  bool shared = false;
  double lease_ttl_s = 30;  // --lease-ttl
};

struct RunSummary {
  int64_t run_id = 0;
  std::string db_path;
  storage::RunConfig config;
  storage::RunStats stats;
  TallySnapshot tally;
  CrawlTail tail;
  bool interrupted = false;
  bool output_closed = false;    // the stop came from a closed standard output
  std::string failure;           // set when the run could not be completed (e.g. the database failed)
  int workers_lost = 0;          // worker processes that died during the run
  int workers_unresponsive = 0;  // of those, killed for sending nothing too long while holding URLs
  FrontierStats frontier;
  int session = 1;           // 1 for `crawl run`, then 2, 3... for each `crawl resume`
  int64_t session_urls = 0;  // rows this session wrote (the tally covers the whole run)
  double session_wall_s = 0;
  int64_t callback_failures = 0;
  std::string first_callback_failure;
  parsers::HtmlParser parser = parsers::HtmlParser::gumbo;
};

// Runs the crawl to the end (or to a clean stop after SIGINT/SIGTERM). Throws UsageError for input
// that cannot be used, std::runtime_error when the database cannot be opened.
RunSummary run_crawl(const RunOptions& options);

}  // namespace crawl
