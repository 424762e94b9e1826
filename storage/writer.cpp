#include "storage/writer.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <exception>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.hpp"
#include "common/thread_name.hpp"
#include "common/usage_error.hpp"
#include "storage/rows.hpp"
#include "urls/url.hpp"

namespace crawl::storage {
namespace {

constexpr std::string_view kInsertRun = R"sql(
INSERT INTO runs (status, started_at, mode, processes, threads, fibers, concurrency, queue_capacity,
                  consumers, callback_threads, parse, parser, version, command_line, bench_id, host, pid,
                  process_start, settings)
VALUES ('running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id
)sql";

constexpr std::string_view kTakeUpRun = R"sql(
UPDATE runs SET status = 'running', ended_at = NULL, mode = ?, processes = ?, threads = ?, fibers = ?,
                concurrency = ?, queue_capacity = ?, consumers = ?, callback_threads = ?, version = ?,
                host = ?, pid = ?, process_start = ?, sessions = ?
WHERE id = ?
)sql";

constexpr std::string_view kInsertSource = R"sql(
INSERT INTO run_sources (run_id, position, source, lines_read, bytes_read, size, mtime_ns, finished)
VALUES (?, ?, ?, 0, 0, ?, ?, 0)
)sql";

// A resumed run's reader starts at the mark and reports from there; a list it does not read again
// (stdin) reports nothing: what an earlier session read stays.
constexpr std::string_view kEndSource = R"sql(
UPDATE run_sources SET lines_read = CASE WHEN lines_read > ?1 THEN lines_read ELSE ?1 END,
                       bytes_read = CASE WHEN bytes_read > ?2 THEN bytes_read ELSE ?2 END,
                       finished = CASE WHEN finished > ?3 THEN finished ELSE ?3 END
WHERE run_id = ?4 AND position = ?5
)sql";

constexpr std::string_view kInsertSession = R"sql(
INSERT INTO run_sessions (run_id, session, status, started_at, mode, concurrency, host, pid, process_start,
                          command_line)
VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)
)sql";

constexpr std::string_view kEndSession = R"sql(
UPDATE run_sessions SET status = ?, ended_at = ?, rows = ?, wall_s = ?, user_s = ?, sys_s = ?
WHERE run_id = ? AND session = ?
)sql";

constexpr std::string_view kInsertPending = R"sql(
INSERT INTO frontier (run_id, seq, source, line, input, url, depth, parent_url, seed_host, attempts, not_before)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, seq) DO UPDATE SET
  source = excluded.source, line = excluded.line, input = excluded.input, url = excluded.url,
  depth = excluded.depth, parent_url = excluded.parent_url, seed_host = excluded.seed_host,
  attempts = excluded.attempts, not_before = excluded.not_before
)sql";

constexpr std::string_view kInsertPage = R"sql(
INSERT INTO pages (run_id, seq, source, line, input, url, final_url, status, error, error_message,
                   content_type, charset, wire_bytes, body_bytes, text_bytes, title, link_count, depth,
                   parent_url, attempts, redirects, dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, queue_ms,
                   worker, fetched_at, host, http_version, server_ip, etag, last_modified, body_hash, not_modified)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
)sql";

constexpr std::string_view kEndRun = R"sql(
UPDATE runs SET status = ?, ended_at = ?, wall_s = ?, crawl_s = ?, user_s = ?, sys_s = ?, parse_cpu_s = ?,
                peak_rss_kb = ?, voluntary_ctx = ?, involuntary_ctx = ?, urls = ?, pages_ok = ?,
                pages_failed = ?, bytes_wire = ?, bytes_body = ?, pages_per_s = ?, p50_ms = ?, p90_ms = ?,
                p99_ms = ?, connections = ?, tls_full = ?, tls_resumed = ?, connected_hosts = ?,
                max_host_connections = ?
WHERE id = ?
)sql";

constexpr std::string_view kAbandonRun = "UPDATE runs SET status = ?, ended_at = ? WHERE id = ?";

// Categories of rows whose URL the run did not take in: a later line or link with the same URL is
// not a duplicate of them.
bool took_url_in(ErrorCategory error) {
  return error != ErrorCategory::bad_url && error != ErrorCategory::excluded &&
         error != ErrorCategory::duplicate && error != ErrorCategory::max_pages;
}

double cpu_seconds_of_this_process() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double steady_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs still marked running whose process is gone (killed, crashed, the machine restarted) are
// marked crashed, so that every reader of the database sees the truth, not only `crawl runs`.
void mark_crashed_runs(const Database& database) {
  for (int64_t id : runs_whose_process_is_gone(database)) {
    Statement update =
        database.prepare("UPDATE runs SET status = 'crashed' WHERE id = ? AND status = 'running'");
    Binder(update).integer(id);
    update.run();
  }
}

// The run_sessions row of this process's session of the run.
void open_session(const Database& database, int64_t run_id, int session, const RunConfig& config,
                  const std::string& started_at) {
  Statement insert = database.prepare(kInsertSession);
  Binder(insert)
      .integer(run_id)
      .integer(session)
      .text(started_at)
      .text(config.mode)
      .integer(config.concurrency)
      .text_or_null(config.host)
      .integer_or_null(config.pid)
      .text_or_null(config.process_start)
      .text(config.command_line);
  insert.run();
}

// Resuming a run that another process is crawling is refused unless the run was made to be shared.
UsageError running_unshared(int64_t run_id, int64_t pid, const std::string& host) {
  return UsageError(
      "run " + std::to_string(run_id) + " is running (process " + std::to_string(pid) + " on " + host +
      "), and it was not made with --shared, so no other worker can join it: wait for it or stop it before "
      "resuming it (to crawl one run on several machines, start it with `crawl run ... --shared`)");
}

// In the transaction that takes up a run: checks that it may be resumed, makes it this process's,
// turns its `interrupted` rows back into frontier entries and opens a session. Returns the session.
int take_up_run(const Database& database, int64_t run_id, const RunConfig& config,
                const std::string& started_at, bool* shared) {
  Statement find = database.prepare(
      "SELECT status, sessions, host, pid, CASE WHEN next_seq IS NULL THEN 0 ELSE 1 END FROM runs WHERE id = "
      "?");
  Binder(find).integer(run_id);
  if (!find.step())
    throw UsageError("there is no run " + std::to_string(run_id) + " in " + database.path() +
                     ": `crawl runs --db " + database.path() + "` lists its runs");
  const std::string status = find.text(0);
  const int session = static_cast<int>(find.integer(1)) + 1;
  *shared = find.integer(4) != 0;
  if (status == "completed")
    throw UsageError("run " + std::to_string(run_id) +
                     " is completed: there is nothing to resume (start another with crawl run)");
  if (status == "running" && !*shared) throw running_unshared(run_id, find.integer(3), find.text(2));
  find.reset();
  if (*shared) release_leases_of_gone_workers(database, run_id, config.host);
  if (status == "running") {
    // Joining a shared run that others are crawling: the run stays theirs; this is one more session.
    Statement count = database.prepare("UPDATE runs SET sessions = ? WHERE id = ?");
    Binder(count).integer(session).integer(run_id);
    count.run();
    open_session(database, run_id, session, config, started_at);
    return session;
  }

  Statement take = database.prepare(kTakeUpRun);
  Binder(take)
      .text(config.mode)
      .integer(config.processes)
      .integer(config.threads)
      .integer(config.fibers)
      .integer(config.concurrency)
      .integer(config.queue_capacity)
      .integer(config.consumers)
      .integer(config.callback_threads)
      .text(config.version)
      .text_or_null(config.host)
      .integer_or_null(config.pid)
      .text_or_null(config.process_start)
      .integer(session)
      .integer(run_id);
  take.run();

  // The URLs a stop left unfetched are fetched now: their rows become entries again, keeping the
  // attempts already made.
  Statement requeue = database.prepare(R"sql(
INSERT INTO frontier (run_id, seq, source, line, input, url, depth, parent_url, seed_host, attempts)
SELECT run_id, seq, source, line, input, url, depth, parent_url, '', attempts
FROM pages WHERE run_id = ? AND error = 'interrupted' AND url IS NOT NULL
ON CONFLICT (run_id, seq) DO UPDATE SET
  source = excluded.source, line = excluded.line, input = excluded.input, url = excluded.url,
  depth = excluded.depth, parent_url = excluded.parent_url, seed_host = excluded.seed_host,
  attempts = excluded.attempts, not_before = NULL
)sql");
  Binder(requeue).integer(run_id);
  requeue.run();
  Statement drop = database.prepare("DELETE FROM pages WHERE run_id = ? AND error = 'interrupted'");
  Binder(drop).integer(run_id);
  drop.run();

  Statement ended =
      database.prepare("UPDATE run_sessions SET status = 'crashed' WHERE run_id = ? AND status = 'running'");
  Binder(ended).integer(run_id);
  ended.run();
  open_session(database, run_id, session, config, started_at);
  return session;
}

// Reads what a run taken up goes on from (after take_up_run has committed).
void load_resume_state(const Database& database, int64_t run_id, ResumeState& state,
                       const PreviousRowVisitor& previous, std::unordered_set<int64_t>& pending_seqs) {
  state.run_id = run_id;
  Statement totals = database.prepare(
      "SELECT coalesce(sum(wall_s), 0), coalesce(sum(user_s), 0), coalesce(sum(sys_s), 0) FROM run_sessions "
      "WHERE run_id = ? AND session < ?");
  Binder(totals).integer(run_id).integer(state.session);
  if (totals.step()) {
    state.wall_s = totals.real(0);
    state.user_s = totals.real(1);
    state.sys_s = totals.real(2);
    state.crawl_s = state.wall_s;
  }

  std::map<std::string, int64_t> mark_of;  // list name: lines done
  Statement sources = database.prepare(
      "SELECT source, lines_done, bytes_done, coalesce(size, -1), coalesce(mtime_ns, 0) FROM run_sources "
      "WHERE run_id = ? ORDER BY position");
  Binder(sources).integer(run_id);
  while (sources.step()) {
    ResumeState::Source src{.source = sources.text(0),
                            .lines_done = sources.integer(1),
                            .bytes_done = sources.integer(2),
                            .size = sources.integer(3),
                            .mtime_ns = sources.integer(4)};
    mark_of.emplace(src.source, src.lines_done);
    state.sources.push_back(std::move(src));
  }
  // --url values have no line numbers: every row of one may be past the mark (the caller counts).
  auto past_mark = [&](const std::string& source, int64_t line) {
    if (source == "--url") return true;
    auto it = mark_of.find(source);
    return it == mark_of.end() || line > it->second;
  };

  // A shared run's frontier stays in the database, leased per host: only its rows are read here.
  int64_t max_seq = -1;
  if (!state.shared) {
    Statement pending = database.prepare(
        "SELECT seq, source, line, input, url, depth, parent_url, seed_host, attempts, "
        "coalesce(not_before, 0) FROM frontier WHERE run_id = ? ORDER BY seq");
    Binder(pending).integer(run_id);
    while (pending.step()) {
      PendingUrl p = read_pending_url(pending, 0);
      pending_seqs.insert(p.seq);
      max_seq = std::max(max_seq, p.seq);
      state.seen.push_back(p.url);
      if (p.depth == 0 && past_mark(p.source, p.line))
        state.done_lines.push_back({p.source, p.line, p.input});
      state.pending.push_back(std::move(p));
    }

    Statement waiting = database.prepare(R"sql(
SELECT l.parent_seq, l.depth, l.seed_host, l.links, p.url, p.source, p.line
FROM frontier_links l JOIN pages p ON p.run_id = l.run_id AND p.seq = l.parent_seq
WHERE l.run_id = ? ORDER BY l.parent_seq
)sql");
    Binder(waiting).integer(run_id);
    while (waiting.step()) {
      Statement& q = waiting;
      ResumeState::Waiting w{.parent_seq = q.integer(0),
                             .depth = static_cast<int>(q.integer(1)),
                             .parent_url = q.text(4),
                             .source = q.text(5),
                             .line = q.integer(6),
                             .seed_host = q.text(2)};
      const std::string links = q.text(3);
      for (size_t start = 0; start < links.size();) {
        size_t end = links.find('\n', start);
        if (end == std::string::npos) end = links.size();
        if (end > start) w.links.emplace_back(links, start, end - start);
        start = end + 1;
      }
      state.waiting.push_back(std::move(w));
    }
  }

  Statement rows = database.prepare(R"sql(
SELECT seq, source, line, input, url, error, status, depth, wire_bytes, body_bytes, total_ms,
       CASE WHEN fetched_at IS NULL THEN 0 ELSE 1 END, attempts
FROM pages WHERE run_id = ?
)sql");
  Binder(rows).integer(run_id);
  PageRecord r;
  while (rows.step()) {
    Statement& q = rows;
    r.seq = q.integer(0);
    r.source = q.text(1);
    r.line = q.integer(2);
    r.input = q.text(3);
    r.url = q.text(4);
    // A name this build does not know (a newer build's) is a failure of some other kind.
    r.error = category_named(q.text(5)).value_or(ErrorCategory::other);
    r.status = static_cast<long>(q.integer(6));
    r.depth = static_cast<int>(q.integer(7));
    r.wire_bytes = q.integer(8);
    r.body_bytes = q.integer(9);
    r.timings.total_ms = q.real(10);
    r.fetched_at = q.integer(11) ? 1 : 0;
    r.attempts = static_cast<int>(q.integer(12));
    if (previous) previous(r);
    if (state.shared) continue;
    max_seq = std::max(max_seq, r.seq);
    if (!r.url.empty() && took_url_in(r.error)) state.seen.push_back(r.url);
    if (r.depth == 0 && past_mark(r.source, r.line)) state.done_lines.push_back({r.source, r.line, r.input});
  }
  state.next_seq = max_seq + 1;
}

}  // namespace

std::unique_ptr<ResultWriter> ResultWriter::open(const WriterOptions& options, const RunConfig& config,
                                                 ResumeState* resume, const PreviousRowVisitor& previous) {
  if (options.batch_rows == 0 || options.queue_capacity == 0)
    throw StorageError("internal error: the writer needs batch_rows and queue_capacity of at least 1");
  if (options.resume_run != 0 && !resume) throw StorageError("internal error: resuming needs a ResumeState");
  Database database = Database::open(
      options.path,
      {.access = Access::read_write, .busy_timeout_ms = static_cast<int>(options.busy_timeout.count())});
  int64_t run_id = options.resume_run;
  int session = 1;
  bool shared = false;
  std::unordered_set<int64_t> pending_seqs;
  try {
    // --sync full: each commit waits for the disk (Database::open sets the engines' normal).
    if (options.synchronous_full)
      database.exec(database.engine() == Engine::sqlite ? "PRAGMA synchronous = FULL"
                                                        : "SET synchronous_commit = on");
    const std::string started_at = iso8601_utc(config.started_at != 0 ? config.started_at : unix_now());
    // IMMEDIATE: two processes taking up the same run one after the other, not together.
    database.begin_exclusive();
    mark_crashed_runs(database);
    if (run_id == 0) {
      Statement insert_run = database.prepare(kInsertRun);
      Binder(insert_run)
          .text(started_at)
          .text(config.mode)
          .integer(config.processes)
          .integer(config.threads)
          .integer(config.fibers)
          .integer(config.concurrency)
          .integer(config.queue_capacity)
          .integer(config.consumers)
          .integer(config.callback_threads)
          .integer(config.parse ? 1 : 0)
          .text_or_null(config.parser)
          .text(config.version)
          .text(config.command_line)
          .text_or_null(config.bench_id)
          .text_or_null(config.host)
          .integer_or_null(config.pid)
          .text_or_null(config.process_start)
          .text_or_null(config.settings);
      if (!insert_run.step()) throw StorageError("the new run row has no id");
      run_id = insert_run.integer(0);
      insert_run.reset();
      Statement insert_source = database.prepare(kInsertSource);
      int64_t position = 0;
      for (const SourceRecord& source : config.sources) {
        Binder b(insert_source);
        b.integer(run_id).integer(position++).text(source.source);
        if (source.size >= 0)
          b.integer(source.size).integer(source.mtime_ns);
        else
          b.null().null();
        insert_source.run();
      }
      open_session(database, run_id, session, config, started_at);
      shared = options.shared;
      if (shared) {
        Statement share = database.prepare("UPDATE runs SET next_seq = 0 WHERE id = ?");
        Binder(share).integer(run_id);
        share.run();
      }
    } else {
      session = take_up_run(database, run_id, config, started_at, &shared);
    }
    bool reads_lists = true;
    if (shared) {
      if (options.worker.empty() || !options.host_of)
        throw StorageError("internal error: a shared run needs a worker name and a host key");
      reads_lists = take_lists_lease(database, run_id, options.worker, options.lease_ttl_s, unix_now());
    }
    database.exec("COMMIT");
    if (resume) {
      *resume = ResumeState{};
      resume->session = session;
      resume->shared = shared;
      resume->reads_lists = reads_lists;
      if (options.resume_run != 0) load_resume_state(database, run_id, *resume, previous, pending_seqs);
      resume->run_id = run_id;
    }
  } catch (const UsageError&) {
    database.rollback_quietly();
    throw;
  } catch (const StorageError& e) {
    database.rollback_quietly();
    throw StorageError(
        "cannot write to the database " + options.path + ": " + e.what() +
        ": check that the file is writable and the disk has space, or pass --db with another path");
  }
  return std::unique_ptr<ResultWriter>(
      new ResultWriter(options, std::move(database), run_id, session, std::move(pending_seqs), shared));
}

ResultWriter::ResultWriter(const WriterOptions& options, Database database, int64_t run_id, int session,
                           std::unordered_set<int64_t> pending_seqs, bool shared)
    : options_(options),
      database_(std::move(database)),
      insert_page_(database_->prepare(kInsertPage)),
      insert_link_(database_->prepare(
          "INSERT INTO links (run_id, from_seq, from_url, to_url) VALUES (?1, ?2, ?3, ?4)")),
      begin_(database_->prepare("BEGIN")),
      commit_(database_->prepare("COMMIT")),
      insert_pending_(database_->prepare(kInsertPending)),
      delete_pending_(database_->prepare("DELETE FROM frontier WHERE run_id = ? AND seq = ?")),
      insert_links_(database_->prepare(
          "INSERT INTO frontier_links (run_id, parent_seq, depth, seed_host, links) VALUES (?, ?, ?, ?, ?) "
          "ON CONFLICT (run_id, parent_seq) DO UPDATE SET depth = excluded.depth, seed_host = "
          "excluded.seed_host, "
          "links = excluded.links")),
      delete_links_(database_->prepare("DELETE FROM frontier_links WHERE run_id = ? AND parent_seq = ?")),
      update_mark_(database_->prepare(
          "UPDATE run_sources SET lines_done = ?, bytes_done = ? WHERE run_id = ? AND position = ?")),
      update_session_(database_->prepare("UPDATE run_sessions SET rows = ?, wall_s = ?, user_s = ?, ended_at "
                                         "= ? WHERE run_id = ? AND session = ?")),
      run_id_(run_id),
      session_(session),
      pending_seqs_(std::move(pending_seqs)),
      session_started_(std::chrono::steady_clock::now()),
      progress_recorded_(session_started_),
      leases_(shared ? std::make_unique<HostLeases>(*database_, LeaseOptions{.run_id = run_id,
                                                                             .worker = options.worker,
                                                                             .ttl_s = options.lease_ttl_s})
                     : nullptr),
      thread_([this] { write_until_closed(); }) {}

ResultWriter::~ResultWriter() {
  bool finished = false;
  {
    std::lock_guard lock(mutex_);
    finished = finished_;
    finished_ = true;
  }
  if (finished) return;
  stop_thread();
  update_run_row(nullptr);
  close_database();
}

void ResultWriter::submit(PageRecord&& record) {
  enqueue(Item(std::move(record)));
}

void ResultWriter::submit(PendingUrl&& pending) {
  enqueue(Item(std::move(pending)));
}

void ResultWriter::submit(LinksTaken taken) {
  enqueue(Item(taken));
}

void ResultWriter::submit(ListedUrl&& listed) {
  enqueue(Item(std::move(listed)));
}

void ResultWriter::submit(ListedRow&& listed) {
  enqueue(Item(std::move(listed)));
}

void ResultWriter::submit(HostDone&& done) {
  enqueue(Item(std::move(done)));
}

void ResultWriter::submit(ListsRead read) {
  enqueue(Item(read));
}

void ResultWriter::enqueue(Item&& item) {
  std::unique_lock lock(mutex_);
  has_room_.wait(lock, [&] { return queue_.size() < options_.queue_capacity || refusing_; });
  if (refusing_) return;
  queue_.push_back(std::move(item));
  // An idle writer wakes for the first row; one in a transaction once wake_rows rows wait (or at its
  // deadline). Waking it for each row would have it take a core from the crawl thousands of times
  // a second to write a row or two each time.
  const bool wake = queue_.size() == wake_at_;
  lock.unlock();
  if (wake) has_rows_.notify_one();
}

void ResultWriter::commit_soon() {
  {
    std::lock_guard lock(mutex_);
    commit_soon_ = true;
  }
  has_rows_.notify_all();
}

void ResultWriter::finish(const RunStats& stats) {
  {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    finished_ = true;
  }
  stop_thread();
  update_run_row(&stats);
  close_database();
}

std::optional<std::string> ResultWriter::failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}

void ResultWriter::stop_thread() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  has_rows_.notify_one();
  thread_.join();
  {
    // Nothing drains the queue any more: later rows must not wait for room that never comes.
    std::lock_guard lock(mutex_);
    refusing_ = true;
  }
  has_room_.notify_all();
}

// What a user can look at when the database stopped taking rows.
std::string ResultWriter::what_to_check() const {
  if (database_->engine() == Engine::postgres)
    return "check that the server is up and reachable, and its log for the statement's cause";
  return "check free disk space and that the file is still there and writable";
}

void ResultWriter::write_until_closed() {
  name_this_thread("crawl-writer");
  try {
    while (write_one_batch()) {
    }
  } catch (const std::exception& e) {
    database_->rollback_quietly();
    fail("writing pages to " + redact_password(options_.path) + " failed after " +
         std::to_string(rows_written()) + " rows: " + e.what() + ": " + what_to_check());
  }
}

// One transaction: waits for a first row, then takes rows until batch_rows or batch_interval,
// wake_rows or more at a time. Returns false when finish() has been called and everything is
// written.
bool ResultWriter::write_one_batch() {
  {
    std::unique_lock lock(mutex_);
    wake_at_ = 1;
    if (!has_rows_.wait_for(lock, options_.heartbeat, [&] { return !queue_.empty() || closing_; })) {
      lock.unlock();
      begin_.queue();
      record_progress(true);
      commit_.queue();
      database_->flush();
      return true;
    }
    if (queue_.empty()) return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.batch_interval;
  begin_.queue();
  size_t in_batch = 0;
  bool soon = false;  // commit_soon(): take what waits, then commit
  rows_inserted_ = 0;
  std::vector<Item> taken;
  while (in_batch < options_.batch_rows) {
    taken.clear();
    {
      std::unique_lock lock(mutex_);
      wake_at_ = std::min({options_.wake_rows, options_.batch_rows - in_batch, options_.queue_capacity});
      has_rows_.wait_until(lock, soon ? std::chrono::steady_clock::now() : deadline,
                           [&] { return queue_.size() >= wake_at_ || closing_ || commit_soon_; });
      soon = std::exchange(commit_soon_, false) || soon;
      if (queue_.empty()) break;  // the deadline, or closing: commit, and the next call ends the loop
      size_t count = std::min(queue_.size(), options_.batch_rows - in_batch);
      auto end = queue_.begin() + static_cast<std::ptrdiff_t>(count);
      taken.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(end));
      queue_.erase(queue_.begin(), end);
    }
    has_room_.notify_all();
    // The database is written outside the lock: submitters only ever wait for the queue, never for the disk.
    for (const Item& item : taken) write(item);
    in_batch += taken.size();
    if (std::chrono::steady_clock::now() >= deadline) break;
  }
  if (leases_) end_shared_batch();
  // How far the lists are done moves with the rows that make it so, in their transaction.
  if (options_.ledger) {
    for (const SourceMark& mark : options_.ledger->advance()) {
      Binder(update_mark_)
          .integer(mark.lines_done)
          .integer(mark.bytes_done)
          .integer(run_id_)
          .integer(mark.position);
      update_mark_.queue();
    }
  }
  // The rows stored (in a shared run, a row another worker stored first is not).
  const int64_t rows_in_batch = rows_inserted_;
  session_rows_ += rows_in_batch;
  record_progress();
  commit_.queue();
  if (leases_) give_back_shared_hosts();
  // Every statement of the batch was queued: one round trip to a PostgreSQL server for all of them.
  database_->flush();
  // On Linux a deleted file stays writable through the open descriptor, so SQLite reports success
  // while every row goes to an inode nobody can reach: check after each commit.
  if (database_->file_moved()) throw StorageError("the database file was deleted or moved during the run");
  rows_written_.fetch_add(rows_in_batch, std::memory_order_relaxed);
  last_commit_time_.store(steady_now(), std::memory_order_relaxed);
  if (leases_ && (std::exchange(work_in_batch_, false) || rows_in_batch > 0) && options_.on_work_committed)
    options_.on_work_committed();
  return true;
}

void ResultWriter::write(const Item& item) {
  if (leases_) {
    write_shared(item);
    return;
  }
  if (const auto* row = std::get_if<PageRecord>(&item)) {
    insert(*row);
  } else if (const auto* pending = std::get_if<PendingUrl>(&item)) {
    insert(*pending);
  } else if (const auto* taken = std::get_if<LinksTaken>(&item)) {
    Binder(delete_links_).integer(run_id_).integer(taken->parent_seq);
    delete_links_.queue();
  }
}

// A shared run's items. Rows of leased URLs wait for the end of the batch, where their entries are
// removed first: a row whose entry another worker removed (it finished the URL while this worker's
// lease had lapsed) is not stored twice. Rows the reader made of lines it could not take in are
// stored at once, numbered as the run's; an `interrupted` row is not stored at all: its URL keeps
// its entry, for another worker or a resumed run.
void ResultWriter::write_shared(const Item& item) {
  if (const auto* row = std::get_if<PageRecord>(&item)) {
    if (row->error != ErrorCategory::interrupted) fenced_.push_back(*row);
  } else if (const auto* line = std::get_if<ListedRow>(&item)) {
    if (options_.ledger) options_.ledger->done(line->row.seq);
    PageRecord r = line->row;
    r.seq = shared_seq();
    insert_row(r);
  } else if (const auto* listed = std::get_if<ListedUrl>(&item)) {
    if (options_.ledger) options_.ledger->done(listed->url.seq);
    // Numbered now, so that the run's seqs follow the lists' lines.
    listed_.push_back(listed->url);
    listed_.back().seq = shared_seq();
  } else if (const auto* retry = std::get_if<PendingUrl>(&item)) {
    leases_->postpone(retry->seq, retry->attempts, retry->not_before);
  } else if (const auto* done = std::get_if<HostDone>(&item)) {
    hosts_done_.push_back(*done);
  } else if (std::holds_alternative<ListsRead>(item)) {
    lists_read_ = true;
  }
}

int64_t ResultWriter::shared_seq() {
  if (seq_next_ == seq_end_) {
    constexpr int64_t kBlock = 4096;
    seq_next_ = leases_->reserve_seqs(kBlock);
    seq_end_ = seq_next_ + kBlock;
  }
  return seq_next_++;
}

void ResultWriter::end_shared_batch() {
  std::vector<PendingUrl> admit;
  std::vector<bool> listed;  // admit[i] is a line of a list (else a link)
  if (!fenced_.empty()) {
    std::vector<int64_t> seqs;
    seqs.reserve(fenced_.size());
    for (const auto& r : fenced_) seqs.push_back(r.seq);
    const std::vector<bool> ours = leases_->complete(seqs);
    for (size_t i = 0; i < fenced_.size(); ++i) {
      if (!ours[i]) continue;
      const PageRecord& r = fenced_[i];
      insert_row(r);
      for (const auto& link : r.follow) {
        admit.push_back({.seq = 0,
                         .source = r.source,
                         .line = r.line,
                         .input = link,
                         .url = link,
                         .depth = r.depth + 1,
                         .parent_url = r.url,
                         .seed_host = r.seed_host});
        listed.push_back(false);
      }
    }
  }
  for (auto& u : admit) u.seq = shared_seq();  // the links'
  for (auto& l : listed_) {
    admit.push_back(std::move(l));
    listed.push_back(true);
  }
  if (!admit.empty()) {
    std::vector<std::string> hosts;
    hosts.reserve(admit.size());
    for (const auto& u : admit) hosts.push_back(options_.host_of(u.url));
    const std::vector<bool> admitted = leases_->admit(admit, hosts);
    if (std::find(admitted.begin(), admitted.end(), true) != admitted.end()) work_in_batch_ = true;
    for (size_t i = 0; i < admit.size(); ++i) {
      if (admitted[i] || !listed[i]) continue;
      const PendingUrl& u = admit[i];
      insert_row(PageRecord{.seq = u.seq,
                            .source = u.source,
                            .line = u.line,
                            .input = u.input,
                            .url = u.url,
                            .error = ErrorCategory::duplicate,
                            .error_message = "the same URL appears earlier in the input"});
    }
  }
  fenced_.clear();
  listed_.clear();
}

// The hosts this worker is done with, given back in a transaction of their own after the batch's:
// in it, a host's lease would be locked after the hosts of the links the batch admitted, and a
// batch of another worker admitting links to it could hold one of those while waiting for it
// (see HostLeases::admit). Here nothing else is held, and the hosts are taken in their order.
void ResultWriter::give_back_shared_hosts() {
  if (hosts_done_.empty() && !lists_read_) return;
  std::sort(hosts_done_.begin(), hosts_done_.end(),
            [](const HostDone& a, const HostDone& b) { return a.host < b.host; });
  begin_.queue();
  for (const auto& done : hosts_done_) leases_->release(done.host, done.next_fetch_at);
  if (lists_read_) leases_->lists_read();
  commit_.queue();
  work_in_batch_ = work_in_batch_ || !hosts_done_.empty();
  hosts_done_.clear();
  lists_read_ = false;
}

void ResultWriter::insert(const PendingUrl& p) {
  Binder b(insert_pending_);
  b.integer(run_id_)
      .integer(p.seq)
      .text(p.source)
      .integer(p.line)
      .text(p.input)
      .text(p.url)
      .integer(p.depth)
      .text_or_null(p.parent_url)
      .text(p.seed_host)
      .integer(p.attempts);
  if (p.not_before > 0)
    b.real(p.not_before);
  else
    b.null();
  insert_pending_.queue();
  pending_seqs_.insert(p.seq);
  if (p.depth == 0 && options_.ledger) options_.ledger->done(p.seq);
}

// The session's progress, at most once a second (`at_once`: now, as the idle writer's heartbeat):
// what a crashed session did is then known to within a second (its rows, time and CPU), and a
// session on another machine is known to be alive (storage::live_sessions).
void ResultWriter::record_progress(bool at_once) {
  const auto now = std::chrono::steady_clock::now();
  if (!at_once && now - progress_recorded_ < std::chrono::seconds(1)) return;
  progress_recorded_ = now;
  std::string ended_at;
  Binder(update_session_)
      .integer(session_rows_)
      .real(std::chrono::duration<double>(now - session_started_).count())
      .real(cpu_seconds_of_this_process())
      .time_or_null(unix_now(), ended_at)
      .integer(run_id_)
      .integer(session_);
  update_session_.queue();
}

void ResultWriter::insert(const PageRecord& r) {
  insert_row(r);
  if (pending_seqs_.erase(r.seq) > 0) {
    Binder(delete_pending_).integer(run_id_).integer(r.seq);
    delete_pending_.queue();
  }
  if (!r.follow.empty()) {
    std::string joined;
    for (const auto& link : r.follow) {
      if (!joined.empty()) joined += '\n';
      joined += link;
    }
    Binder(insert_links_).integer(run_id_).integer(r.seq).integer(r.depth + 1).text(r.seed_host).text(joined);
    insert_links_.queue();
  }
  if (r.depth == 0 && options_.ledger) options_.ledger->done(r.seq);
}

// The row and its links (--store-links), or the links it follows (WriterOptions::link_edges).
void ResultWriter::insert_row(const PageRecord& r) {
  ++rows_inserted_;
  std::string fetched_at;
  const std::string host = urls::host_of(r.url);
  const Timings& t = r.timings;
  const bool fetched = r.fetched_at > 0;  // a row never fetched has no timings: NULL, not 0
  std::string_view title = r.title ? std::string_view(*r.title) : std::string_view();
  Binder(insert_page_)
      .integer(run_id_)
      .integer(r.seq)
      .text(r.source)
      .integer(r.line)
      .text(r.input)
      .text_or_null(r.url)
      .text_or_null(r.final_url)
      .integer_or_null(r.status)
      .text_or_null(name_of(r.error))
      .text_or_null(r.error_message)
      .text_or_null(r.content_type)
      .text_or_null(r.charset)
      .integer(r.wire_bytes)
      .integer(r.body_bytes)
      .integer_or_null(r.text_bytes)
      .text_or_null(title)
      .integer_or_null(r.link_count)
      .integer(r.depth)
      .text_or_null(r.parent_url)
      .integer(r.attempts)
      .integer(r.redirects)
      .real_or_null(t.dns_ms, fetched)
      .real_or_null(t.connect_ms, fetched)
      .real_or_null(t.tls_ms, fetched)
      .real_or_null(t.ttfb_ms, fetched)
      .real_or_null(t.total_ms, fetched)
      .real_or_null(t.queue_ms, fetched)
      .text_or_null(r.worker)
      .time_or_null(r.fetched_at, fetched_at)
      .text_or_null(host)
      .text_or_null(r.http_version)
      .text_or_null(r.server_ip)
      .text_or_null(r.etag)
      .text_or_null(r.last_modified)
      .text_or_null(r.body_hash)
      .integer(r.not_modified ? 1 : 0);
  insert_page_.queue();
  const bool edges = options_.link_edges;
  // A row without an error is its URL's last (a URL has one row; a duplicate's row has an error).
  if (edges && r.error == ErrorCategory::none && !r.url.empty()) fetched_without_error_.insert(r.url);
  for (const auto& link : edges ? r.follow : r.links) {
    if (edges && fetched_without_error_.contains(link)) continue;  // the run's end would prune it
    Binder(insert_link_).integer(run_id_).integer(r.seq).text(r.url).text(link);
    insert_link_.queue();
  }
}

void ResultWriter::fail(const std::string& why) {
  {
    std::lock_guard lock(mutex_);
    if (!failure_) failure_ = why;
    refusing_ = true;
    queue_.clear();
  }
  has_room_.notify_all();
}

// With stats: the normal end of a run. Without: the writer is destroyed before finish(), so all that
// is known is that the run did not complete.
void ResultWriter::update_run_row(const RunStats* stats) {
  const bool failed = failure().has_value();
  try {
    std::string ended_at;
    auto end_session = [&](std::string_view status, const RunStats* s) {
      std::string session_end;
      Statement end = database_->prepare(kEndSession);
      Binder b(end);
      b.text(status).time_or_null(unix_now(), session_end).integer(session_rows_);
      if (s)
        b.real(s->session_wall_s).real(s->session_user_s).real(s->session_sys_s);
      else
        b.real(std::chrono::duration<double>(std::chrono::steady_clock::now() - session_started_).count())
            .real(cpu_seconds_of_this_process())
            .null();
      b.integer(run_id_).integer(session_);
      end.run();
    };
    // A shared run that other workers still crawl stays theirs: this worker ends its session only.
    bool others_crawl = false;
    if (leases_) {
      leases_->release_all();
      Statement others = database_->prepare(
          "SELECT count(*) FROM run_sessions WHERE run_id = ? AND session <> ? AND status = 'running'");
      Binder(others).integer(run_id_).integer(session_);
      others_crawl = others.step() && others.integer(0) > 0;
      others.reset();
      if (others_crawl && (!stats || stats->status != "completed")) {
        end_session(failed || !stats ? std::string_view("failed") : std::string_view(stats->status), stats);
        return;
      }
    }
    // The run's end and its session's are one transaction: a process killed between the two would
    // leave a completed run whose session still says running.
    database_->begin_exclusive();
    if (!stats) {
      Statement abandon = database_->prepare(kAbandonRun);
      Binder(abandon).text("failed").time_or_null(unix_now(), ended_at).integer(run_id_);
      abandon.run();
      end_session("failed", nullptr);
      database_->exec("COMMIT");
      return;
    }
    const RunStats& s = *stats;
    Statement end_run = database_->prepare(kEndRun);
    Binder(end_run)
        .text(failed ? std::string_view("failed") : std::string_view(s.status))
        .time_or_null(s.ended_at != 0 ? s.ended_at : unix_now(), ended_at)
        .real(s.wall_s)
        .real(s.crawl_s)
        .real(s.user_s)
        .real(s.sys_s)
        .real(s.parse_cpu_s)
        .integer(s.peak_rss_kb)
        .integer(s.voluntary_ctx)
        .integer(s.involuntary_ctx)
        .integer(s.urls)
        .integer(s.pages_ok)
        .integer(s.pages_failed)
        .integer(s.bytes_wire)
        .integer(s.bytes_body)
        .real(s.pages_per_s)
        .real(s.p50_ms)
        .real(s.p90_ms)
        .real(s.p99_ms)
        .integer(s.connections)
        .integer(s.tls_full)
        .integer(s.tls_resumed)
        .integer(s.connected_hosts)
        .integer(s.max_host_connections)
        .integer(run_id_);
    end_run.run();
    if (options_.link_edges && !failed && s.status == "completed") {
      // Edges into URLs that were fetched, or not fetched for a reason of the crawl's own, answer
      // no question the broken-links report asks. Until the run completes any URL may still fail.
      Statement prune = database_->prepare(R"sql(
DELETE FROM links WHERE run_id = ?1 AND to_url NOT IN (
  SELECT url FROM failed_pages WHERE run_id = ?1 AND url IS NOT NULL)
)sql");
      Binder(prune).integer(run_id_);
      prune.run();
    }
    if (leases_) {
      // Every worker's rows, not only this one's.
      Statement totals = database_->prepare(R"sql(
UPDATE runs SET
  urls = (SELECT count(*) FROM pages WHERE run_id = ?1),
  pages_ok = (SELECT count(*) FROM pages WHERE run_id = ?1 AND error IS NULL),
  pages_failed = (SELECT count(*) FROM pages WHERE run_id = ?1 AND error IS NOT NULL
                  AND error NOT IN ('duplicate', 'interrupted', 'robots', 'excluded', 'max_pages'))
WHERE id = ?1
)sql");
      Binder(totals).integer(run_id_);
      totals.run();
    }
    end_session(failed ? std::string_view("failed") : std::string_view(s.status), &s);
    if (!s.politeness_waits.empty()) {
      // Added to what earlier sessions, and the other workers of a shared run, stored.
      Statement held = database_->prepare(
          "INSERT INTO run_hosts (run_id, host, held_s) VALUES (?, ?, ?) "
          "ON CONFLICT (run_id, host) DO UPDATE SET held_s = run_hosts.held_s + excluded.held_s");
      for (const HostWait& wait : s.politeness_waits) {
        Binder(held).integer(run_id_).text(wait.host).real(wait.held_s);
        held.run();
      }
    }
    Statement end_source = database_->prepare(kEndSource);
    int64_t position = 0;
    for (const SourceRecord& source : s.sources) {
      Binder(end_source)
          .integer(source.lines_read)
          .integer(source.bytes_read)
          .integer(source.finished ? 1 : 0)
          .integer(run_id_)
          .integer(position++);
      end_source.run();
    }
    database_->exec("COMMIT");
  } catch (const StorageError& e) {
    database_->rollback_quietly();
    fail("cannot record the end of run " + std::to_string(run_id_) + " in " + redact_password(options_.path) +
         ": " + e.what() + ": " + what_to_check());
  }
}

void ResultWriter::close_database() {
  for (Statement* statement :
       {&insert_page_, &insert_link_, &begin_, &commit_, &insert_pending_, &delete_pending_, &insert_links_,
        &delete_links_, &update_mark_, &update_session_})
    *statement = Statement();
  leases_.reset();
  database_.reset();
}

bool holds_no_run(const Database& database) {
  Statement q = database.prepare("SELECT count(*) FROM runs");
  return q.step() && q.integer(0) == 0;
}

RunToResume find_run_to_resume(const std::string& path, std::optional<int64_t> run_id) {
  // Opened to write, a missing file would be created only to be found empty.
  if (!path.empty() && !Database::may_exist(path))
    throw UsageError("no database at " + path +
                     ": there is nothing to resume (pass --db with the database of the run to resume)");
  Database database = Database::open(path, {.access = Access::read_write});
  mark_crashed_runs(database);
  Statement q = database.prepare(run_id ? "SELECT id, status, coalesce(settings, ''), host, pid, CASE WHEN "
                                          "next_seq IS NULL THEN 0 ELSE 1 END FROM runs WHERE id = ?"
                                        : "SELECT id, status, coalesce(settings, ''), host, pid, CASE WHEN "
                                          "next_seq IS NULL THEN 0 ELSE 1 END FROM runs WHERE status "
                                          "<> 'completed' AND bench_id IS NULL ORDER BY id DESC LIMIT 1");
  if (run_id) Binder(q).integer(*run_id);
  if (!q.step()) {
    if (run_id)
      throw UsageError("there is no run " + std::to_string(*run_id) + " in " + path + ": `crawl runs --db " +
                       path + "` lists its runs");
    throw UsageError(holds_no_run(database)
                         ? path + " holds no run: there is nothing to resume"
                         : "every run in " + path + " is completed: there is nothing to resume");
  }
  RunToResume r{.id = q.integer(0), .status = q.text(1), .settings = q.text(2)};
  const std::string run = "run " + std::to_string(r.id);
  if (r.status == "completed")
    throw UsageError(run + " is completed: there is nothing to resume (start another with crawl run)");
  // A shared run is joined while it runs.
  r.shared = q.integer(5) != 0;
  if (r.status == "running" && !r.shared) throw running_unshared(r.id, q.integer(4), q.text(3));
  if (r.settings.empty())
    throw UsageError(run +
                     " was made by an older crawl, which did not record what it crawls: it cannot be "
                     "resumed; start a new run");
  return r;
}

std::vector<SourceRecord> read_run_sources(const std::string& path, int64_t run_id) {
  Database database = Database::open(path, {.access = Access::read_only});
  Statement q = database.prepare(
      "SELECT source, coalesce(size, -1), coalesce(mtime_ns, 0), lines_done, bytes_done FROM run_sources "
      "WHERE run_id = ? ORDER BY position");
  Binder(q).integer(run_id);
  std::vector<SourceRecord> out;
  while (q.step())
    out.push_back({.source = q.text(0),
                   .lines_read = q.integer(3),
                   .bytes_read = q.integer(4),
                   .size = q.integer(1),
                   .mtime_ns = q.integer(2)});
  return out;
}

}  // namespace crawl::storage
