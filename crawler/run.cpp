#include "crawler/run.hpp"

#include <curl/curl.h>
#include <sys/resource.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.hpp"
#include "common/process_identity.hpp"
#include "common/thread_name.hpp"
#include "common/usage_error.hpp"
#include "crawler/channel.hpp"
#include "crawler/consumer.hpp"
#include "crawler/errors.hpp"
#include "crawler/frontier/writer_store.hpp"
#include "crawler/producers.hpp"
#include "crawler/progress.hpp"
#include "crawler/signals.hpp"
#include "crawler/sources.hpp"
#include "crawler/tls.hpp"
#include "parsers/html.hpp"
#include "storage/connection.hpp"
#include "storage/source_ledger.hpp"
#include "storage/writer.hpp"
#include "urls/url.hpp"

namespace crawl {
namespace {

using Clock = std::chrono::steady_clock;

// libcurl's global state is set up once per process, before any handle exists.
void init_curl_once() {
  static const bool done = [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("curl_global_init failed");
    return true;
  }();
  (void)done;
}

void check_run_options(const RunOptions& options) {
  if (options.follow.max_depth < 0) throw UsageError("--depth must be 0 or more");
  if (options.follow.max_depth > 0 && !options.parse)
    throw UsageError("following links (--depth) needs the pages parsed: drop --no-parse");
  if (options.follow.max_pages < 0) throw UsageError("--max-pages must be 0 (no limit) or more");
  if (options.politeness.retries < 0) throw UsageError("--retries must be 0 or more");
}

FetchOptions fetch_options_for(const RunOptions& options) {
  FetchOptions fetch = options.fetch;
  fetch.keep_body = options.parse || options.callbacks.needs_bodies;
  fetch.follow_depth = options.follow.max_depth;
  // libcurl gives every handle a 16 KiB receive buffer; with thousands in flight those buffers are
  // most of the memory, and small pages fit in a smaller one.
  if (fetch.buffer_size == 0 && options.layout.concurrency() > 1000) fetch.buffer_size = 2048;
  return fetch;
}

// The run's row as it starts (its lists are added by the caller).
storage::RunConfig run_config_for(const RunOptions& options, size_t queue_pages, const ProcessIdentity& me) {
  const Layout& layout = options.layout;
  storage::RunConfig config;
  config.mode = std::string(mode_name(layout.mode));
  config.processes = layout.processes;
  config.threads = layout.threads;
  config.fibers = layout.fibers;
  config.concurrency = layout.concurrency();
  config.queue_capacity = static_cast<int>(queue_pages);
  // Without parsing a consumer only counts and hands rows to the writer, a few microseconds a page:
  // one keeps up with any crawl, and a second would only add wake-ups that take cores from the
  // fetching threads.
  config.consumers = options.consumers > 0 ? options.consumers
                     : options.parse ? std::max(1, static_cast<int>(std::thread::hardware_concurrency()))
                                     : 1;
  config.callback_threads = options.callbacks.empty() ? 0 : std::max(1, options.callback_threads);
  config.parse = options.parse;
  if (options.parse) config.parser = std::string(parsers::parser_name(options.parser));
  config.version = CRAWL_VERSION;
  config.command_line = options.command_line;
  config.bench_id = options.bench_id;
  config.started_at = unix_now();
  config.host = me.host;
  config.pid = me.pid;
  config.process_start = me.start;
  config.settings = options.settings;
  return config;
}

// The run's counts, from the tally (which covers every session of the run).
void count_into(storage::RunStats& st, const TallySnapshot& t) {
  st.urls = t.urls;
  st.pages_ok = t.ok;
  st.pages_failed = t.failed;
  st.bytes_wire = t.bytes_wire;
  st.bytes_body = t.bytes_body;
  st.connections = t.connections;
  st.tls_full = t.tls_full;
  st.tls_resumed = t.tls_resumed;
  st.connected_hosts = t.connected_hosts;
  st.max_host_connections = t.max_host_connections;
  st.pages_per_s = st.crawl_s > 0 ? t.fetched / st.crawl_s : 0;
  st.p50_ms = t.p50_ms;
  st.p90_ms = t.p90_ms;
  st.p99_ms = t.p99_ms;
}

// This session's CPU, memory and context switches: this process's, and its worker processes'.
void add_process_usage(storage::RunStats& st, WorkerPool* workers, RunSummary& summary) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  st.user_s = static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6;
  st.sys_s = static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
  st.peak_rss_kb = ru.ru_maxrss;
  st.voluntary_ctx = ru.ru_nvcsw;
  st.involuntary_ctx = ru.ru_nivcsw;
  if (!workers) return;
  // The run's cost includes its workers': their CPU and context switches (from wait4 as each was
  // reaped), and the largest sum of resident memory over all processes that was sampled.
  const WorkerUsage u = workers->usage();
  st.user_s += u.user_s;
  st.sys_s += u.sys_s;
  st.voluntary_ctx += u.voluntary_ctx;
  st.involuntary_ctx += u.involuntary_ctx;
  st.peak_rss_kb = std::max<int64_t>(st.peak_rss_kb, u.peak_rss_sum_kb);
  summary.workers_lost = u.workers_lost;
  summary.workers_unresponsive = u.workers_unresponsive;
}

}  // namespace

RunSummary run_crawl(const RunOptions& options) {
  const Layout& layout = options.layout;
  check_run_options(options);
  const LinkFilter link_filter(options.follow);  // a bad --include/--exclude is refused up front
  // A list that cannot be read is refused before anything starts; a resumed run's lists must be the
  // files it read before, unchanged (it goes on from a line number and a byte offset in each).
  std::optional<urls::UrlReader> reader;
  std::vector<storage::SourceRecord> resumed_sources;
  if (options.resume_run == 0) {
    reader.emplace(options.inputs);
  } else {
    resumed_sources = storage::read_run_sources(options.db_path, options.resume_run);
    // A worker joining a shared run reads the lists only if nobody else does (known once the run is
    // taken up): it need not have them.
    if (!options.shared) check_lists_unchanged(options.inputs, options.resume_run, resumed_sources);
  }

  const FetchOptions fetch = fetch_options_for(options);

  // A guess that the lists hold https URLs: the trust store is then loaded while the database is set
  // up, not at the first verified connection (crawler/tls.hpp).
  const bool load_trust = fetch.verify_tls && lists_name_https(options.inputs);

  std::atomic<bool> stop{false};
  // Before any thread exists, so that every thread inherits the blocked signals; before the workers
  // are forked too, which takes seconds at -c 500 in process mode: a stop asked for meanwhile waits
  // for watch() below instead of killing the process before its run is recorded.
  std::optional<SignalWatcher> signals;
  if (options.handle_signals) signals.emplace(stop);

  // Before the workers are forked, so that they inherit it.
  ensure_open_files_fit(layout);
  // Workers are forked first of all: before any thread (the signal watcher's included), libcurl's
  // global state or the database exist here, so each child starts clean (design.md).
  std::optional<WorkerPool> workers;
  if (uses_worker_processes(layout))
    workers.emplace(WorkerSpec{.processes = layout.processes,
                               .threads = layout.threads,
                               .fibers = layout.fibers,
                               .blocking = layout.mode == Mode::process,
                               .load_trust = load_trust},
                    fetch);

  if (signals) signals->watch();
  init_curl_once();
  // Here only where this process fetches: worker processes load their own. After the fork, which a
  // load under way must not meet.
  std::jthread trust_loading;
  if (load_trust && !workers) trust_loading = load_trust_in_background(fetch.trust);

  RunSummary summary;
  summary.db_path = storage::redact_password(options.db_path);
  // --queue counts pages; the queue holds batches of up to `batch` pages.
  const size_t batch = layout.mode == Mode::thread ? 1 : batch_size_for(layout.fibers);
  const size_t page_capacity = std::max<size_t>(options.queue_capacity / batch, 1);
  const ProcessIdentity me = this_process();
  summary.config = run_config_for(options, page_capacity * batch, me);
  auto& config = summary.config;
  if (reader)
    for (const auto& p : reader->positions())
      config.sources.push_back({.source = p.source, .size = p.size, .mtime_ns = p.mtime_ns});

  Tally tally;
  storage::SourceLedger ledger;
  storage::ResumeState resume;
  // This process's name among the workers of a shared run.
  const std::string worker = me.host + "/" + std::to_string(me.pid);
  int64_t previous_rows = 0;
  // The writer, made before the frontier, tells it of work it committed to a shared run (while there
  // is a frontier to tell).
  struct FrontierLink {
    std::mutex mutex;
    Frontier* frontier = nullptr;
  } link;
  auto writer = storage::ResultWriter::open(
      {.path = options.db_path,
       .synchronous_full = options.synchronous_full,
       .ledger = &ledger,
       .resume_run = options.resume_run,
       .shared = options.shared,
       .worker = worker,
       .lease_ttl_s = options.lease_ttl_s,
       .host_of = [](const std::string& url) { return std::string(urls::origin_of(url)); },
       .on_work_committed =
           [&link] {
             std::lock_guard lock(link.mutex);
             if (link.frontier) link.frontier->shared_store_committed();
           },
       .link_edges = options.follow.max_depth > 0 && !options.follow.store_links},
      config, &resume,
      // The run's figures cover every session: the earlier ones' rows count as finished at the start.
      [&tally, &previous_rows](const storage::PageRecord& r) {
        tally.add(r, 0.0);
        ++previous_rows;
      });
  summary.run_id = writer->run_id();
  summary.session = resume.session;
  summary.parser = options.parser;
  const bool shared_run = resume.shared;
  const bool reads_lists = !shared_run || resume.reads_lists;
  if (shared_run && options.resume_run != 0 && reads_lists)
    check_lists_unchanged(options.inputs, options.resume_run, resumed_sources);
  std::optional<LeaseSource> lease_source;
  if (shared_run)
    lease_source.emplace(LeaseSource::Options{.db_path = options.db_path,
                                              .run_id = summary.run_id,
                                              .worker = worker,
                                              .ttl_s = options.lease_ttl_s});
  // The earlier sessions' time and CPU, which the run's figures add to this one's.
  const storage::ResumeState before{
      .wall_s = resume.wall_s, .user_s = resume.user_s, .sys_s = resume.sys_s, .crawl_s = resume.crawl_s};
  urls::ReaderInputs inputs = options.inputs;
  Rereading rereading;
  if (options.resume_run != 0) {
    // Each list goes on from its mark; one that cannot be read again is not read at all: what an
    // earlier session read of it is in the frontier entries, the rest of it is lost.
    for (size_t i = 0; i < resume.sources.size(); ++i) {
      const auto& src = resume.sources[i];
      const bool pipe = i < inputs.files.size() && src.size < 0;
      inputs.starts.push_back({.line = src.lines_done, .bytes = src.bytes_done, .skip = pipe});
    }
    reader.emplace(inputs);
    rereading = Rereading(resume, inputs);
  }
  for (const auto& cb : options.callbacks.on_run_start) cb(summary.run_id, config.started_at);

  const auto start = Clock::now();
  // The frontier hands out at most this many tasks at once, in batches of one or more.
  TaskChannel tasks(Frontier::capacity_for(layout.concurrency()) + 1);
  PageChannel pages(page_capacity);
  ByteBudget budget(options.queue_bytes);
  InFlight in_flight;
  std::atomic<double> parse_cpu{0};
  std::optional<CallbackPool> callbacks;
  if (!options.callbacks.empty()) callbacks.emplace(config.callback_threads, 100'000);
  RowSink rows({.tally = tally,
                .callbacks = callbacks ? &*callbacks : nullptr,
                .page_callbacks = options.callbacks,
                .writer = *writer,
                .durable_links = options.follow.max_depth > 0,
                .shared = shared_run});

  // Worker processes take their tasks from the pool, thread mode's from a router that hands each to
  // one thread; fibers share a channel.
  std::optional<TaskRouter> router;
  std::optional<ChannelSink> channel_sink;
  TaskSink* sink = nullptr;
  if (workers)
    sink = &*workers;
  else if (layout.mode == Mode::thread)
    sink = &router.emplace(layout.threads);
  else
    sink = &channel_sink.emplace(tasks);

  std::atomic<int64_t> next_seq{resume.next_seq};
  WriterFrontierStore store(*writer, std::move(resume));
  Frontier frontier(options.follow, options.politeness, fetch, layout.concurrency(), batch, *sink, rows, stop,
                    next_seq, &store, lease_source ? &*lease_source : nullptr);
  if (options.resume_run != 0 && !shared_run) frontier.restore(store.load(), !rereading.empty_window());
  {
    std::lock_guard lock(link.mutex);
    link.frontier = &frontier;
    rows.attach(&frontier);
  }
  struct Unlink {
    FrontierLink& link;
    ~Unlink() {
      std::lock_guard lock(link.mutex);
      link.frontier = nullptr;
    }
  } unlink{link};
  Wakers wakers;
  wakers.add([&frontier] { frontier.wake(); });
  wakers.add([&reader] { reader->interrupt(); });
  if (workers) wakers.add([&workers] { workers->stop_workers(); });
  // The lists' URL lines, counted ahead for the progress line's total. Not for a shared run (other
  // workers crawl part of it) nor with a list on standard input (it can be read only once).
  std::atomic<int64_t> listed{-1};
  std::jthread counting;
  if (options.progress != ProgressStyle::none && !shared_run)
    counting = std::jthread([&](std::stop_token token) {
      name_this_thread("crawl-count");
      int64_t lines = static_cast<int64_t>(inputs.urls.size());
      for (size_t i = 0; i < inputs.files.size(); ++i) {
        const int64_t n = urls::count_url_lines(
            i < inputs.paths.size() && !inputs.paths[i].empty() ? inputs.paths[i] : inputs.files[i], token);
        if (n < 0) return;
        lines += n;
      }
      listed.store(lines);
    });
  const ProgressSources progress_sources{.tally = tally,
                                         .in_flight = in_flight,
                                         .total = [&]() -> int64_t {
                                           const int64_t lines = listed.load();
                                           if (lines < 0) return -1;
                                           // Seqs number every URL taken in, earlier sessions' too.
                                           return std::max(lines + frontier.stats().discovered,
                                                           next_seq.load());
                                         },
                                         .follows_links = options.follow.max_depth > 0};
  ProgressLine progress(options.progress, progress_sources, [&] {
    // A database that stopped taking rows ends the run: there is nowhere to record the rest.
    if (writer->failure()) stop.store(true);
    // Nor does output that can no longer be written (--jsonl, --save-bodies).
    if (callbacks && callbacks->output_failed()) stop.store(true);
    // A closed standard output (`--jsonl - | head`) is a request to stop, like Ctrl-C.
    if (callbacks && callbacks->output_closed()) stop.store(true);
    if (stop.load()) wakers.wake_all();
    if (workers) workers->sample_memory();
  });

  std::thread reader_thread([&] {
    name_this_thread("crawl-reader");
    if (reads_lists)
      read_sources({.reader = *reader,
                    .frontier = frontier,
                    .rows = rows,
                    .filter = link_filter,
                    .stop = stop,
                    .batch = batch,
                    .next_seq = next_seq,
                    .ledger = ledger,
                    .store = store,
                    .rereading = rereading,
                    .shared = shared_run ? writer.get() : nullptr});
    else
      frontier.seeds_done();
  });
  std::thread frontier_thread([&] {
    name_this_thread("crawl-frontier");
    frontier.run();
  });
  std::string producer_failure;
  std::thread producer_thread([&] {
    ProducerContext ctx{.tasks = tasks,
                        .pages = pages,
                        .fetch = fetch,
                        .stop = stop,
                        .in_flight = in_flight,
                        .wakers = wakers,
                        .page_batch = batch,
                        .frontier = &frontier,
                        .starts = &frontier,
                        .budget = &budget,
                        .rows = &rows,
                        .finish_unparsed_here = router.has_value() && !options.parse};
    try {
      if (workers)
        workers->run(ctx);
      else if (router)
        run_thread_producers(ctx, *router, layout.threads);
      else
        run_fiber_producers(ctx, layout.threads, layout.fibers);
    } catch (const std::exception& e) {
      producer_failure = e.what();
      stop.store(true);
      // Nothing fetches any more: turn what is left into rows so the run still ends whole.
      auto record = [&](const TaskBatch& left) {
        PageBatch unfetched;
        for (const auto& task : left)
          unfetched.push_back(
              unfetched_page(task, ErrorCategory::interrupted, "no producer could be started"));
        ctx.finish_unfetched(std::move(unfetched));
      };
      TaskBatch left;
      if (router) {
        while (auto task = router->take(0)) record(TaskBatch{std::move(*task)});
      } else {
        while (tasks.pop(left) == TaskChannel::Popped::item) record(left);
      }
    }
  });
  std::vector<std::thread> consumers;
  const ConsumerContext consumer_context{.pages = pages,
                                         .frontier = frontier,
                                         .links = link_filter,
                                         .options = options,
                                         .rows = rows,
                                         .parse_cpu_seconds = parse_cpu,
                                         .budget = budget};
  for (int i = 0; i < config.consumers; ++i)
    consumers.emplace_back([&consumer_context, i] {
      name_this_thread("crawl-consume" + std::to_string(i));
      consume(consumer_context);
    });

  reader_thread.join();
  frontier_thread.join();
  producer_thread.join();
  pages.close();  // reader and producers are done: nothing else will be pushed
  for (auto& c : consumers) c.join();
  const auto crawl_end = Clock::now();
  progress.stop();

  summary.tally = tally.snapshot();
  summary.frontier = frontier.stats();
  summary.stats.politeness_waits = frontier.politeness_waits();
  summary.interrupted = stop.load() && producer_failure.empty() && !writer->failure();
  if (!producer_failure.empty()) summary.failure = producer_failure;
  if (shared_run && !stop.load() && !frontier.shared_run_done() && summary.failure.empty()) {
    summary.failure = lease_source->failure().value_or(
        "the worker reading the run's lists stopped before their end: `crawl resume " +
        std::to_string(summary.run_id) + "` reads on from where it stopped");
  }
  if (auto f = writer->failure()) summary.failure = *f;

  auto& st = summary.stats;
  st.crawl_s = before.crawl_s + seconds_between(start, crawl_end);
  count_into(st, summary.tally);
  summary.session_urls = summary.tally.urls - previous_rows;
  // The tail is a session's story: rows of earlier sessions have no finishing times here.
  if (summary.session == 1) summary.tail = tally.tail(st.crawl_s);
  st.parse_cpu_s = parse_cpu.load();
  st.status = !summary.failure.empty() ? "failed" : summary.interrupted ? "interrupted" : "completed";

  if (callbacks) {
    for (const auto& cb : options.callbacks.on_run_done) callbacks->submit([&cb, &summary] { cb(summary); });
    callbacks->drain();
    summary.callback_failures = callbacks->failures();
    summary.output_closed = callbacks->output_closed();
    summary.first_callback_failure = callbacks->first_failure();
    // The output the user asked for is incomplete: the run failed, even when the failure came after
    // the last page was fetched, and even though the stop it caused looks like an interruption.
    if (callbacks->output_failed() && summary.failure.empty()) {
      summary.failure = callbacks->output_failure() + " (the run stopped: its output cannot be written)";
      summary.interrupted = false;
      st.status = "failed";
    }
  }
  st.wall_s = seconds_between(start, Clock::now());
  add_process_usage(st, workers ? &*workers : nullptr, summary);
  for (const auto& p : reader->positions())
    st.sources.push_back({.source = p.source,
                          .lines_read = p.lines,
                          .bytes_read = p.bytes,
                          .size = p.size,
                          .mtime_ns = p.mtime_ns,
                          .finished = p.finished});
  st.session_wall_s = st.wall_s;
  st.session_user_s = st.user_s;
  st.session_sys_s = st.sys_s;
  summary.session_wall_s = st.wall_s;
  st.wall_s += before.wall_s;
  st.user_s += before.user_s;
  st.sys_s += before.sys_s;
  st.ended_at = unix_now();
  writer->finish(st);
  if (auto f = writer->failure(); f && summary.failure.empty()) {
    summary.failure = *f;
    st.status = "failed";
  }
  return summary;
}

}  // namespace crawl
