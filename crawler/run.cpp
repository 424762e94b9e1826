#include "crawler/run.hpp"

#include <curl/curl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <iomanip>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/clock.hpp"
#include "common/open_files.hpp"
#include "common/process_identity.hpp"
#include "common/thread_name.hpp"
#include "common/usage_error.hpp"
#include "crawler/channel.hpp"
#include "crawler/errors.hpp"
#include "crawler/producers.hpp"
#include "crawler/signals.hpp"
#include "parsers/html.hpp"
#include "storage/connection.hpp"
#include "storage/source_ledger.hpp"
#include "storage/writer.hpp"
#include "urls/url.hpp"

namespace crawl {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Thousands of sockets in flight need more than the usual soft limit of 1,024 descriptors: the
// soft limit is raised to the hard one, and a layout that still cannot fit is refused up front
// rather than failing transfers one by one with "too many open files". What a fetch holds: its
// connection; in thread and process mode also the socket pair libcurl's multi handle (one per
// blocking easy handle) keeps for wake-ups; a fiber thread one multi handle (two), an epoll fd and
// an eventfd. This process holds one socket per worker process, each worker its own fetches'.
rlim_t descriptors_needed(const Layout& layout) {
  constexpr rlim_t kBase = 64;  // stdio, the database and its WAL, lists, resolver pipes, slack
  const auto c = static_cast<rlim_t>(layout.concurrency());
  switch (layout.mode) {
    case Mode::thread:
      return kBase + 3 * c;
    case Mode::process:
      return kBase + c;  // each worker needs 3 of its own, far below any limit
    case Mode::fiber:
    case Mode::hybrid:
      break;
  }
  const auto threads = static_cast<rlim_t>(layout.threads);
  const auto in_this_process = layout.processes > 1
                                   ? static_cast<rlim_t>(layout.processes)
                                   : static_cast<rlim_t>(layout.fibers) * threads + 4 * threads;
  return kBase + in_this_process;
}

void ensure_open_files_fit(const Layout& layout) {
  const std::optional<uint64_t> limit = raise_open_files_limit();
  if (!limit) return;
  const rlim_t needed = descriptors_needed(layout);
  if (*limit < needed)
    throw UsageError("-c " + std::to_string(layout.concurrency()) + " in " +
                     std::string(mode_name(layout.mode)) + " mode needs about " + std::to_string(needed) +
                     " open files but this process may open only " + std::to_string(*limit) +
                     ": lower -c or raise the hard limit (ulimit -Hn)");
}

// libcurl's global state is set up once per process, before any handle exists.
void init_curl_once() {
  static const bool done = [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("curl_global_init failed");
    return true;
  }();
  (void)done;
}

UrlTask task_from(urls::UrlLine&& line) {
  UrlTask t;
  t.seq = line.seq;
  t.source = std::move(line.source);
  t.line = line.line;
  t.input = std::move(line.input);
  t.url = std::move(line.url);
  return t;
}

// The frontier's state in the crawl database: entries go through the writer, in order with the
// rows (so each commits with the rows before it); what an earlier session left was read when the
// writer opened the run, in the same transaction that took the run up.
class SqliteFrontierStore final : public FrontierStore {
 public:
  SqliteFrontierStore(storage::ResultWriter& writer, storage::ResumeState&& saved)
      : writer_(writer), saved_(std::move(saved)) {}
  storage::ResumeState load() override { return std::exchange(saved_, {}); }
  void pending(const UrlTask& t, int attempts_made, double not_before) override {
    writer_.submit(storage::PendingUrl{.seq = t.seq,
                                       .source = t.source,
                                       .line = t.line,
                                       .input = t.input,
                                       .url = t.url,
                                       .depth = t.depth,
                                       .parent_url = t.parent_url,
                                       .seed_host = t.seed_host,
                                       .attempts = attempts_made,
                                       .not_before = not_before});
  }
  void links_taken(int64_t parent_seq) override { writer_.submit(storage::LinksTaken{parent_seq}); }
  void host_done(const std::string& origin, double next_fetch_at) override {
    writer_.submit(storage::HostDone{.host = origin, .next_fetch_at = next_fetch_at});
  }
  void store_now() override { writer_.commit_soon(); }

 private:
  storage::ResultWriter& writer_;
  storage::ResumeState saved_;
};

std::string_view trimmed(std::string_view s) {
  const char* ws = " \t\r\n\v\f";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// A resumed run reads each list on from its mark; the lines past it that an earlier session had
// finished (a row, or a frontier entry) are passed over, the rest crawled as they would have been.
class Rereading {
 public:
  Rereading() = default;
  Rereading(const storage::ResumeState& state, const urls::ReaderInputs& inputs) {
    std::unordered_map<std::string, int> position_of;
    for (size_t i = 0; i < inputs.files.size(); ++i)
      position_of.emplace(inputs.files[i], static_cast<int>(i));
    const int url_position = static_cast<int>(inputs.files.size());
    // --url values have no line: a value is done as many times as its rows say, less the times it
    // comes before the mark (those are behind the mark, done for sure).
    const int64_t urls_done =
        static_cast<size_t>(url_position) < state.sources.size() ? state.sources[url_position].lines_done : 0;
    for (int64_t i = 0; i < urls_done && i < static_cast<int64_t>(inputs.urls.size()); ++i)
      if (auto v = trimmed(inputs.urls[static_cast<size_t>(i)]); !v.empty()) --url_counts_[std::string(v)];
    for (const auto& d : state.done_lines) {
      if (d.source == "--url") {
        ++url_counts_[d.input];
        continue;
      }
      auto it = position_of.find(d.source);
      if (it == position_of.end()) continue;
      lines_.insert(key(it->second, d.line));
      window_end_ = std::max(window_end_, std::pair<int, int64_t>(it->second, d.line));
    }
    for (const auto& [input, n] : url_counts_)
      if (n > 0) window_end_ = std::max(window_end_, std::pair<int, int64_t>(url_position, 0));
  }
  // Whether the line was finished by an earlier session.
  bool done(const urls::UrlLine& line) {
    if (line.source == "--url") {
      auto it = url_counts_.find(line.input);
      if (it == url_counts_.end() || it->second <= 0) return false;
      --it->second;
      return true;
    }
    return lines_.erase(key(line.position, line.line)) > 0;
  }
  // Whether every line an earlier session is known to have read has been read again.
  bool window_read(const urls::UrlLine& line) const {
    return std::pair<int, int64_t>(line.position, line.source == "--url" ? 0 : line.line) >= window_end_;
  }
  bool empty_window() const { return window_end_.first < 0; }

 private:
  static std::string key(int position, int64_t line) {
    return std::to_string(position) + ":" + std::to_string(line);
  }
  std::unordered_set<std::string> lines_;
  std::unordered_map<std::string, int64_t> url_counts_;
  std::pair<int, int64_t> window_end_{-1, 0};
};

// Hands a row to the --jsonl writer, --save-bodies and library callbacks, on their threads.
void to_page_callbacks(CallbackPool* pool, const Callbacks& callbacks, const storage::PageRecord& record,
                       std::string body) {
  if (!pool || callbacks.on_page.empty()) return;
  struct Item {
    storage::PageRecord record;
    std::string body;
  };
  auto item = std::make_shared<Item>(Item{record, std::move(body)});
  pool->submit([item, &cbs = callbacks.on_page] {
    for (const auto& cb : cbs) cb(item->record, item->body);
  });
}

// Reads every source and hands each line to the frontier, or turns it straight into a row when it
// cannot be fetched (bad line, left out by --include/--exclude). Once the run is stopped nothing
// more is read (the reader is interrupted, and returns at once even from a pipe that is silent or
// a line that never ends): the lines read so far have their rows, the rest none, and
// UrlReader::positions() says where each list stopped. Rows go out in batches of `batch`, URLs to
// the frontier in batches that double from `batch` to kSeedBatch (each batch may wake it, and the
// first URLs should start fetching at once).
// Each line of a list that can be read again is noted in `ledger` (the writer then records how far
// the list is done); a line of one that cannot (stdin) goes to the frontier's store as a frontier entry in
// `store` before the frontier sees it.
// In a shared run (`shared`), the lines go to the run's database instead (the writer admits each
// URL into the shared frontier, once), and the rows of lines that cannot be fetched straight to the
// writer, in reading order, so that the lists' marks move with them exactly: a line behind a mark
// is in the database, a line past it is not, whichever worker reads on. Those rows go to the page
// callbacks (--jsonl among them) from here, as every other row goes from the consumers.
void read_sources(urls::UrlReader& reader, Frontier& frontier, PageChannel& pages, const LinkFilter& filter,
                  const std::atomic<bool>& stop, size_t batch, std::atomic<int64_t>& next_seq,
                  storage::SourceLedger& ledger, FrontierStore& store, Rereading& rereading,
                  storage::ResultWriter* shared, Tally& tally, CallbackPool* callbacks,
                  const Callbacks& page_callbacks) {
  constexpr size_t kSeedBatch = 256;
  // Lines read whose list mark cannot move yet, because a line before them is still under way
  // (about 40 bytes each): a URL that waits long (a slow host, a --delay) holds reading back
  // rather than memory growing with the list.
  constexpr size_t kMaxLedgerLines = 1'000'000;
  size_t seed_batch = batch;
  urls::UrlLine line;
  PageBatch page_batch;
  std::vector<UrlTask> seeds;
  auto flush_pages = [&] {
    if (!page_batch.empty()) pages.push(std::exchange(page_batch, {}));
  };
  auto flush_seeds = [&] {
    if (!seeds.empty()) frontier.add_seeds(std::exchange(seeds, {}));
    seed_batch = std::min(seed_batch * 2, kSeedBatch);
  };
  // Before the reader waits on a pipe (stdin, a FIFO), what it has read goes on: a slow pipe never
  // holds lines back, and a fast one is still read in batches.
  reader.set_before_wait([&] {
    flush_pages();
    flush_seeds();
  });
  reader.set_on_source_end(
      [&](int position, int64_t lines, int64_t bytes) { ledger.source_end(position, lines, bytes); });
  bool window_read = rereading.empty_window();
  if (window_read) frontier.window_read();
  while (!stop.load(std::memory_order_relaxed) && reader.next(line)) {
    if (!window_read && rereading.window_read(line)) {
      window_read = true;
      frontier.window_read();
    }
    if (rereading.done(line)) continue;
    if (line.rereadable && ledger.held() >= kMaxLedgerLines) {
      // What waits here may be what holds the marks back: it goes on first.
      flush_pages();
      flush_seeds();
      if (!ledger.wait_for_room(kMaxLedgerLines, [&] { return stop.load(std::memory_order_relaxed); })) break;
    }
    const bool rereadable = line.rereadable;
    const int position = line.position;
    const int64_t mark = line.mark, bytes_end = line.bytes_end;
    std::string error = std::move(line.error);
    UrlTask task = task_from(std::move(line));
    // Lines and the links the frontier takes in share one numbering.
    task.seq = next_seq.fetch_add(1, std::memory_order_relaxed);
    if (rereadable) ledger.read(task.seq, position, mark, bytes_end);
    if (shared) {
      if (!error.empty() || !filter.wanted(task.url)) {
        Page row = !error.empty()
                       ? unfetched_page(task, ErrorCategory::bad_url, std::move(error))
                       : unfetched_page(task, ErrorCategory::excluded, "left out by --include/--exclude");
        tally.add(row.record);
        to_page_callbacks(callbacks, page_callbacks, row.record, {});
        shared->submit(storage::ListedRow{std::move(row.record)});
      } else {
        shared->submit(storage::ListedUrl{.url = {.seq = task.seq,
                                                  .source = std::move(task.source),
                                                  .line = task.line,
                                                  .input = std::move(task.input),
                                                  .url = task.url,
                                                  .seed_host = urls::host_of(task.url)}});
      }
      continue;
    }
    if (!error.empty()) {
      page_batch.push_back(unfetched_page(task, ErrorCategory::bad_url, std::move(error)));
    } else if (!filter.wanted(task.url)) {
      page_batch.push_back(unfetched_page(task, ErrorCategory::excluded, "left out by --include/--exclude"));
    } else {
      if (!rereadable) {
        task.seed_host = urls::host_of(task.url);
        store.pending(task, 0, 0);
      }
      seeds.push_back(std::move(task));
    }
    if (page_batch.size() >= batch) flush_pages();
    if (seeds.size() >= seed_batch) flush_seeds();  // blocks while the frontier holds many URLs already
  }
  const bool read_to_end = !stop.load(std::memory_order_relaxed);
  reader.set_before_wait(nullptr);
  reader.set_on_source_end(nullptr);
  flush_pages();
  flush_seeds();
  if (shared && read_to_end) shared->submit(storage::ListsRead{});
  frontier.seeds_done();
}

struct ConsumerShared {
  PageChannel& pages;
  Frontier& frontier;
  const LinkFilter& links;
  // Consumers take turns at the channel (see the same gate in thread_producers.cpp): its spinlock
  // is made for fibers, and OS threads spinning on it waste the cores the crawl needs.
  std::mutex pop_gate;
  const RunOptions& options;
  storage::ResultWriter& writer;
  Tally& tally;
  CallbackPool* callbacks;
  std::atomic<double>& parse_cpu_seconds;
  ByteBudget& budget;
  bool durable_links;  // breadth-first: links wait for their level, and must survive a crash meanwhile
  bool shared;         // a shared run: links go to the database only, with the row
};

void consume(ConsumerShared& s) {
  parsers::ParseOptions parse_options;
  parse_options.parser = s.options.parser;
  parse_options.collect_links = s.options.follow.max_depth > 0 || s.options.follow.store_links;
  double parse_cpu = 0;
  PageBatch batch;
  auto next = [&] {
    std::lock_guard lock(s.pop_gate);
    return s.pages.pop(batch) == boost::fibers::channel_op_status::success;
  };
  while (next()) {
    for (Page& page : batch) {
      auto& r = page.record;
      if (r.fetched_at > 0) r.timings.queue_ms = seconds_between(page.enqueued_at, Clock::now()) * 1000.0;
      if (r.status > 0 && r.final_url.empty()) r.final_url = r.url;  // see Page::record
      std::vector<std::string> follow;
      if (s.options.parse && page.body_kept) {
        const double before = thread_cpu_seconds();
        parsers::PageFacts facts = parsers::parse_page(page.body, r.content_type, parse_options);
        r.charset = std::move(facts.charset);
        if (!facts.charset_problem.empty() && r.error == ErrorCategory::none) {
          r.error = ErrorCategory::charset;
          r.error_message = std::move(facts.charset_problem);
        }
        if (facts.is_html) {
          r.title = std::move(facts.title);
          r.link_count = facts.link_count;
          // Links are resolved against where the page ended up, after redirects.
          const std::string& at = r.final_url.empty() ? r.url : r.final_url;
          if (s.frontier.wants_links(r.depth))
            follow = s.links.follow(at, facts.base_href, facts.links, page.seed_host);
          if (s.options.follow.store_links)
            r.links = LinkFilter::resolve_all(at, facts.base_href, facts.links);
        }
        r.text_bytes = facts.text_bytes;
        parse_cpu += thread_cpu_seconds() - before;
      } else if (!r.content_type.empty()) {
        r.charset = parsers::charset_from_content_type(r.content_type);
      }
      // The links go to the store with the row, in its transaction (a crash cannot leave a page
      // stored and its links lost), and before the frontier hears of them, so that the entry it has
      // them removed by comes after it.
      const int64_t seq = r.seq;
      if (s.shared && !follow.empty()) {
        r.follow = std::move(follow);
        follow.clear();
        r.seed_host = page.seed_host;
      } else if (s.durable_links && !follow.empty()) {
        r.follow = follow;
        r.seed_host = page.seed_host;
      }
      s.tally.add(r);
      to_page_callbacks(s.callbacks, s.options.callbacks, r,
                        s.options.callbacks.needs_bodies ? std::move(page.body) : std::string());
      s.writer.submit(std::move(r));
      // Every row is reported, links or not: the frontier counts a page as finished only here.
      s.frontier.page_done(seq, std::move(follow));
      const int64_t held = page.budget_bytes;
      page = Page{};  // the body is freed here, not when the batch goes
      s.budget.release(held);
    }
    batch.clear();
  }
  s.parse_cpu_seconds.fetch_add(parse_cpu, std::memory_order_relaxed);
}

std::string format_bytes(int64_t bytes) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(1);
  if (bytes >= 1'000'000'000)
    o << bytes / 1e9 << " GB";
  else if (bytes >= 1'000'000)
    o << bytes / 1e6 << " MB";
  else if (bytes >= 1'000)
    o << bytes / 1e3 << " kB";
  else
    o << bytes << " B";
  return o.str();
}

// Prints "\r12345 done (12 failed), 64 in flight, 812 pages/s" on stderr until stopped.
class ProgressLine {
 public:
  ProgressLine(bool enabled, const Tally& tally, const std::atomic<int64_t>& in_flight,
               std::function<void()> every_tick)
      : tally_(tally), in_flight_(in_flight), every_tick_(std::move(every_tick)), enabled_(enabled) {
    thread_ = std::thread([this] { loop(); });
  }
  ~ProgressLine() { stop(); }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (done_) return;
      done_ = true;
    }
    wake_.notify_all();
    thread_.join();
    if (enabled_) std::fputs("\r\033[K", stderr);
  }

 private:
  void loop() {
    name_this_thread("crawl-progress");
    const auto start = Clock::now();
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::milliseconds(250), [&] { return done_; })) {
      every_tick_();
      if (!enabled_) continue;
      const double elapsed = seconds_between(start, Clock::now());
      const auto done = tally_.done();
      std::fprintf(stderr, "\r\033[K%lld done (%lld failed), %lld in flight, %.0f pages/s, %.1f s",
                   static_cast<long long>(done), static_cast<long long>(tally_.failed()),
                   static_cast<long long>(in_flight_.load()), elapsed > 0 ? done / elapsed : 0.0, elapsed);
      std::fflush(stderr);
    }
  }
  const Tally& tally_;
  const std::atomic<int64_t>& in_flight_;
  std::function<void()> every_tick_;
  bool enabled_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

std::string_view mode_name(Mode mode) {
  switch (mode) {
    case Mode::fiber:
      return "fiber";
    case Mode::thread:
      return "thread";
    case Mode::process:
      return "process";
    case Mode::hybrid:
      return "hybrid";
  }
  return "?";
}

Layout make_layout(Mode mode, std::optional<int> concurrency, int processes, int threads, int fibers) {
  Layout l{.mode = mode};
  if (concurrency && *concurrency < 1) throw UsageError("-c/--concurrency must be at least 1");
  const int c = concurrency.value_or(64);
  switch (mode) {
    case Mode::fiber:
      l.fibers = c;
      break;
    case Mode::thread:
      l.threads = c;
      break;
    case Mode::process:
      l.processes = c;
      break;
    case Mode::hybrid:
      if (processes < 1 || threads < 1 || fibers < 1)
        throw UsageError("--processes, --threads and --fibers must each be at least 1 in hybrid mode");
      l.processes = processes;
      l.threads = threads;
      l.fibers = fibers;
      if (concurrency && *concurrency != l.concurrency())
        throw UsageError("-c " + std::to_string(*concurrency) + " disagrees with --processes " +
                         std::to_string(processes) + " × --threads " + std::to_string(threads) +
                         " × --fibers " + std::to_string(fibers) + " = " + std::to_string(l.concurrency()) +
                         " in hybrid mode: drop -c or make them agree");
      break;
  }
  return l;
}

bool uses_worker_processes(const Layout& layout) {
  return layout.mode == Mode::process || layout.processes > 1;
}

namespace {

// A resumed run reads its lists on from byte offsets: a list that changed since would be read from
// the middle of some other line, and lines added or removed would shift every line number.
void check_lists_unchanged(const RunOptions& options, const std::vector<storage::SourceRecord>& sources) {
  const std::string run = "run " + std::to_string(options.resume_run);
  for (size_t i = 0; i < options.inputs.files.size() && i < sources.size(); ++i) {
    const auto& name = options.inputs.files[i];
    const auto& path = i < options.inputs.paths.size() ? options.inputs.paths[i] : name;
    const auto& was = sources[i];
    if (name == "-" || was.size < 0) continue;  // a pipe: not read again
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      throw UsageError("cannot resume " + run + ": its list '" + name + "' cannot be read (" +
                       std::strerror(errno) + "); put it back where it was, or start a new run");
    const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (static_cast<int64_t>(st.st_size) != was.size || mtime_ns != was.mtime_ns)
      throw UsageError("cannot resume " + run + ": its list '" + name +
                       "' has changed since the run read it (size or modification time): resuming "
                       "goes on from a line number in the file as it was; start a new run for the new list");
  }
}

}  // namespace

RunSummary run_crawl(const RunOptions& options) {
  const Layout& layout = options.layout;
  if (options.follow.max_depth < 0) throw UsageError("--depth must be 0 or more");
  if (options.follow.max_depth > 0 && !options.parse)
    throw UsageError("following links (--depth) needs the pages parsed: drop --no-parse");
  if (options.follow.max_pages < 0) throw UsageError("--max-pages must be 0 (no limit) or more");
  if (options.politeness.retries < 0) throw UsageError("--retries must be 0 or more");
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
    if (!options.shared) check_lists_unchanged(options, resumed_sources);
  }

  FetchOptions fetch = options.fetch;
  fetch.keep_body = options.parse || options.callbacks.needs_bodies;
  // libcurl gives every handle a 16 KiB receive buffer; with thousands in flight those buffers are
  // most of the memory, and small pages fit in a smaller one.
  if (fetch.buffer_size == 0 && layout.concurrency() > 1000) fetch.buffer_size = 2048;

  // Before the workers are forked, so that they inherit it.
  ensure_open_files_fit(layout);
  // Workers are forked first of all: before any thread (the signal watcher's included), libcurl's
  // global state or the database exist here, so each child starts clean (design.md).
  std::optional<WorkerPool> workers;
  if (uses_worker_processes(layout))
    workers.emplace(WorkerSpec{.processes = layout.processes,
                               .threads = layout.threads,
                               .fibers = layout.fibers,
                               .blocking = layout.mode == Mode::process},
                    fetch);

  std::atomic<bool> stop{false};
  // Before any thread exists, so that every thread inherits the blocked signals.
  std::optional<SignalWatcher> signals;
  if (options.handle_signals) signals.emplace(stop);
  init_curl_once();

  RunSummary summary;
  summary.db_path = storage::redact_password(options.db_path);
  auto& config = summary.config;
  config.mode = std::string(mode_name(layout.mode));
  config.processes = layout.processes;
  config.threads = layout.threads;
  config.fibers = layout.fibers;
  config.concurrency = layout.concurrency();
  // --queue counts pages; the channel holds batches of up to `batch` pages.
  const size_t batch = layout.mode == Mode::thread ? 1 : batch_size_for(layout.fibers);
  const size_t page_capacity = channel_capacity_for(std::max<size_t>(options.queue_capacity / batch, 1));
  config.queue_capacity = static_cast<int>((page_capacity - 1) * batch);
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
  const ProcessIdentity me = this_process();
  config.host = me.host;
  config.pid = me.pid;
  config.process_start = me.start;

  config.settings = options.settings;
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
           }},
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
  if (shared_run && options.resume_run != 0 && reads_lists) check_lists_unchanged(options, resumed_sources);
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
  TaskChannel tasks(channel_capacity_for(Frontier::capacity_for(layout.concurrency()) + 1));
  PageChannel pages(page_capacity);
  ByteBudget budget(options.queue_bytes);
  std::atomic<int64_t> in_flight{0};
  std::atomic<double> parse_cpu{0};
  std::optional<CallbackPool> callbacks;
  if (!options.callbacks.empty()) callbacks.emplace(config.callback_threads, 100'000);

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
  SqliteFrontierStore store(*writer, std::move(resume));
  Frontier frontier(options.follow, options.politeness, fetch, layout.concurrency(), batch, *sink, pages,
                    stop, next_seq, &store, lease_source ? &*lease_source : nullptr);
  if (options.resume_run != 0 && !shared_run) frontier.restore(store.load(), !rereading.empty_window());
  {
    std::lock_guard lock(link.mutex);
    link.frontier = &frontier;
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
  ProgressLine progress(options.progress, tally, in_flight, [&] {
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
      read_sources(*reader, frontier, pages, link_filter, stop, batch, next_seq, ledger, store, rereading,
                   shared_run ? writer.get() : nullptr, tally, callbacks ? &*callbacks : nullptr,
                   options.callbacks);
    else
      frontier.seeds_done();
  });
  std::thread frontier_thread([&] {
    name_this_thread("crawl-frontier");
    frontier.run();
  });
  std::string producer_failure;
  std::thread producer_thread([&] {
    ProducerContext ctx{tasks, pages, fetch,     stop,      in_flight, wakers,
                        batch, "",    &frontier, &frontier, &budget};
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
        PageBatch rows;
        for (const auto& task : left) {
          Page row = unfetched_page(task, ErrorCategory::interrupted, "no producer could be started");
          if (ctx.keep(row)) rows.push_back(std::move(row));
        }
        pages.push(std::move(rows));
      };
      TaskBatch left;
      if (router) {
        while (auto task = router->take(0)) record(TaskBatch{std::move(*task)});
      } else {
        while (tasks.pop(left) == boost::fibers::channel_op_status::success) record(left);
      }
    }
  });
  std::vector<std::thread> consumers;
  ConsumerShared shared{pages,
                        frontier,
                        link_filter,
                        {},
                        options,
                        *writer,
                        tally,
                        callbacks ? &*callbacks : nullptr,
                        parse_cpu,
                        budget,
                        options.follow.max_depth > 0,
                        shared_run};
  for (int i = 0; i < config.consumers; ++i)
    consumers.emplace_back([&shared, i] {
      name_this_thread("crawl-consume" + std::to_string(i));
      consume(shared);
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
  summary.interrupted = stop.load() && producer_failure.empty() && !writer->failure();
  if (!producer_failure.empty()) summary.failure = producer_failure;
  if (shared_run && !stop.load() && !frontier.shared_run_done() && summary.failure.empty()) {
    summary.failure = lease_source->failure().value_or(
        "the worker reading the run's lists stopped before their end: `crawl resume " +
        std::to_string(summary.run_id) + "` reads on from where it stopped");
  }
  if (auto f = writer->failure()) summary.failure = *f;

  auto& st = summary.stats;
  const double session_crawl_s = seconds_between(start, crawl_end);
  st.crawl_s = before.crawl_s + session_crawl_s;
  st.urls = summary.tally.urls;
  st.pages_ok = summary.tally.ok;
  st.pages_failed = summary.tally.failed;
  st.bytes_wire = summary.tally.bytes_wire;
  st.bytes_body = summary.tally.bytes_body;
  st.connections = summary.tally.connections;
  st.tls_full = summary.tally.tls_full;
  st.tls_resumed = summary.tally.tls_resumed;
  st.connected_hosts = summary.tally.connected_hosts;
  st.max_host_connections = summary.tally.max_host_connections;
  st.pages_per_s = st.crawl_s > 0 ? summary.tally.fetched / st.crawl_s : 0;
  summary.session_urls = summary.tally.urls - previous_rows;
  // The tail is a session's story: rows of earlier sessions have no finishing times here.
  if (summary.session == 1) summary.tail = tally.tail(st.crawl_s);
  st.p50_ms = summary.tally.p50_ms;
  st.p90_ms = summary.tally.p90_ms;
  st.p99_ms = summary.tally.p99_ms;
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
  const auto end = Clock::now();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  st.wall_s = seconds_between(start, end);
  st.user_s = static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6;
  st.sys_s = static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
  st.peak_rss_kb = ru.ru_maxrss;
  st.voluntary_ctx = ru.ru_nvcsw;
  st.involuntary_ctx = ru.ru_nivcsw;
  if (workers) {
    // The run's cost includes its workers': their CPU and context switches (from wait4 as each
    // was reaped), and the largest sum of resident memory over all processes that was sampled.
    const WorkerUsage u = workers->usage();
    st.user_s += u.user_s;
    st.sys_s += u.sys_s;
    st.voluntary_ctx += u.voluntary_ctx;
    st.involuntary_ctx += u.involuntary_ctx;
    st.peak_rss_kb = std::max<int64_t>(st.peak_rss_kb, u.peak_rss_sum_kb);
    summary.workers_lost = u.workers_lost;
    summary.workers_unresponsive = u.workers_unresponsive;
  }
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

void print_summary(const RunSummary& s, std::ostream& out) {
  const auto& t = s.tally;
  const auto& st = s.stats;
  const auto& c = s.config;
  out << "run " << s.run_id << " " << st.status << ": " << t.urls << " URLs in " << std::fixed
      << std::setprecision(2) << st.wall_s << " s (" << c.mode << ", " << c.processes << "×" << c.threads
      << "×" << c.fibers << ", " << c.concurrency << " in flight, ";
  // The layout is what was asked for; dead workers are not replaced, so say what was left of it.
  if (s.workers_lost > 0 && c.processes > 0)
    out << std::max(0, c.processes - s.workers_lost) * (c.concurrency / c.processes) << " after "
        << s.workers_lost << " worker" << (s.workers_lost > 1 ? "s" : "") << " died, ";
  out << c.consumers << " consumers";
  if (c.parse)
    out << ", " << parsers::parser_name(s.parser);
  else
    out << ", no parsing";
  out << ")\n";
  // A resumed run's figures cover all its sessions; this one's share is said apart.
  if (s.session > 1)
    out << "  session   " << s.session << " (resumed): " << s.session_urls << " URLs in "
        << std::setprecision(2) << s.session_wall_s << " s\n";
  out << "  ok        " << t.ok << "\n";
  auto list = [&](bool failures) {
    std::vector<std::pair<std::string_view, int64_t>> counts;
    for (size_t i = 0; i < kErrorCategories; ++i) {
      const auto category = static_cast<ErrorCategory>(i);
      if (t.by_category[i] > 0 && is_failure(category) == failures)
        counts.emplace_back(name_of(category), t.by_category[i]);
    }
    std::sort(counts.begin(), counts.end());  // by name, as users look them up
    std::string items;
    for (const auto& [name, n] : counts)
      items += (items.empty() ? "" : ", ") + std::string(name) + " " + std::to_string(n);
    return items;
  };
  out << "  failed    " << t.failed << (t.failed ? "  (" + list(true) + ")" : "") << "\n";
  if (t.skipped) out << "  skipped   " << t.skipped << "  (" << list(false) << ")\n";
  out << "  bytes     " << format_bytes(t.bytes_wire) << " received, " << format_bytes(t.bytes_body)
      << " decoded\n";
  out << std::setprecision(1) << "  rate      " << st.pages_per_s << " pages/s over " << std::setprecision(2)
      << st.crawl_s << " s of crawling\n";
  // A few slow or retried URLs can hold a run long after the rest were done (a timeout, three
  // attempts); the mean rate above then says nothing of how fast the others went.
  const auto& tail = s.tail;
  const int64_t others = t.fetched - tail.late;
  if (tail.late > 0 && tail.late * 10 <= t.fetched && st.crawl_s - tail.bulk_s >= 1.0 && tail.bulk_s > 0)
    out << std::setprecision(2) << "  tail      " << others << " pages took " << tail.bulk_s << " s ("
        << std::setprecision(1) << static_cast<double>(others) / tail.bulk_s << " pages/s); the last "
        << tail.late << " kept the run going " << std::setprecision(2) << st.crawl_s - tail.bulk_s
        << " s more (slow or retried)\n";
  out << std::setprecision(1) << "  latency   p50 " << st.p50_ms << " ms, p90 " << st.p90_ms << " ms, p99 "
      << st.p99_ms << " ms\n";
  if (st.connections > 0) {
    out << std::setprecision(1) << "  connect   " << st.connections << " connection"
        << (st.connections == 1 ? "" : "s") << " to " << st.connected_hosts << " host"
        << (st.connected_hosts == 1 ? "" : "s") << " ("
        << static_cast<double>(st.connections) / static_cast<double>(std::max<int64_t>(st.connected_hosts, 1))
        << " per host, at most " << st.max_host_connections << ")";
    if (st.tls_full + st.tls_resumed > 0)
      out << "; TLS handshakes " << st.tls_full << " full, " << st.tls_resumed << " resumed";
    out << "\n";
  }
  out << std::setprecision(2) << "  cpu       " << st.user_s << " s user, " << st.sys_s << " s sys; peak RSS "
      << st.peak_rss_kb / 1024 << " MB\n";
  const auto& f = s.frontier;
  if (f.discovered || f.retries || f.robots_denied)
    out << "  crawl     " << f.discovered << " links followed, " << f.retries << " retries, "
        << f.robots_denied << " URLs disallowed by robots.txt, " << f.hosts << " hosts\n";
  if (f.host_claims > 0)
    out << "  leases    " << f.host_claims << " host" << (f.host_claims == 1 ? "" : "s") << " claimed with "
        << f.claimed_urls << " URLs, " << f.taken_while_held << " more URLs taken from hosts held\n";
  if (f.per_host > 0 && f.held_by_hosts_s >= 0.05)
    out << std::setprecision(2) << "  politeness the per-host limit (" << f.per_host
        << ") held the run below -c " << c.concurrency << " for " << f.held_by_hosts_s << " of " << st.crawl_s
        << " s\n";
  if (s.workers_lost) {
    out << "  workers   " << s.workers_lost << " worker process" << (s.workers_lost > 1 ? "es" : "")
        << " died during the run";
    if (s.workers_unresponsive) out << " (" << s.workers_unresponsive << " killed for being unresponsive)";
    out << "; the URLs they held were tried once more elsewhere\n";
  }
  if (s.callback_failures)
    out << "  callbacks " << s.callback_failures << " failed, first: " << s.first_callback_failure << "\n";
  if (!s.failure.empty()) out << "  failure   " << s.failure << "\n";
  if (s.output_closed && s.interrupted) out << "  stopped   standard output was closed\n";
  out << "  stored in " << s.db_path << " as run " << s.run_id << ": crawl query --db " << s.db_path
      << " --run " << s.run_id << "\n";
}

int exit_code(const RunSummary& s) {
  if (!s.failure.empty()) return 1;
  if (s.interrupted && s.output_closed) return 141;
  if (s.interrupted) return 130;
  return 0;
}

}  // namespace crawl
