#include "storage/writer.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <exception>
#include <string_view>
#include <utility>
#include <vector>

#include "common/process_identity.hpp"
#include "common/thread_name.hpp"

namespace crawl::storage {
namespace {

constexpr std::string_view kInsertRun = R"sql(
INSERT INTO runs (status, started_at, mode, processes, threads, fibers, concurrency, queue_capacity,
                  consumers, callback_threads, parse, version, command_line, bench_id, host, pid, process_start)
VALUES ('running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
)sql";

constexpr std::string_view kInsertSource = R"sql(
INSERT INTO run_sources (run_id, position, source, lines_read, bytes_read, size, mtime_ns, finished)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
)sql";

constexpr std::string_view kInsertPage = R"sql(
INSERT INTO pages (run_id, seq, source, line, input, url, final_url, status, error, error_message,
                   content_type, charset, wire_bytes, body_bytes, text_bytes, title, link_count, depth,
                   parent_url, attempts, redirects, dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, queue_ms,
                   worker, fetched_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double steady_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Binds parameters left to right, so a column list and its values cannot drift apart by index.
// Text is bound without a copy: the caller keeps the strings alive until the statement has run.
class Binder {
 public:
  explicit Binder(sqlite3_stmt* statement) : statement_(statement) {}

  Binder& integer(int64_t value) { return check(sqlite3_bind_int64(statement_, ++index_, value)); }
  Binder& real(double value) { return check(sqlite3_bind_double(statement_, ++index_, value)); }
  Binder& null() { return check(sqlite3_bind_null(statement_, ++index_)); }
  Binder& text(std::string_view value) {
    // A null pointer would bind NULL rather than an empty string.
    const char* data = value.data() ? value.data() : "";
    return check(
        sqlite3_bind_text(statement_, ++index_, data, static_cast<int>(value.size()), SQLITE_STATIC));
  }
  // For columns where "nothing" reads better as NULL than as "" or 0.
  Binder& text_or_null(std::string_view value) { return value.empty() ? null() : text(value); }
  Binder& integer_or_null(int64_t value) { return value == 0 ? null() : integer(value); }
  Binder& integer_or_null(const std::optional<int64_t>& value) { return value ? integer(*value) : null(); }
  Binder& time_or_null(double unix_seconds, std::string& storage) {
    if (unix_seconds == 0) return null();
    storage = iso8601_utc(unix_seconds);
    return text(storage);
  }

 private:
  Binder& check(int rc) {
    if (rc != SQLITE_OK)
      throw StorageError("cannot bind parameter " + std::to_string(index_) + ": " + sqlite3_errstr(rc));
    return *this;
  }

  sqlite3_stmt* statement_;
  int index_ = 0;
};

// Runs a statement that returns no rows and leaves it ready for the next use.
void run_to_done(const Database& database, sqlite3_stmt* statement) {
  int rc = sqlite3_step(statement);
  std::string why = rc == SQLITE_DONE ? "" : database.last_error();
  sqlite3_reset(statement);
  if (rc != SQLITE_DONE) throw StorageError(why);
}

// Runs still marked running whose process is gone (killed, crashed, the machine restarted) are
// marked crashed, so that every reader of the database sees the truth, not only `crawl runs`.
void mark_crashed_runs(const Database& database) {
  Statement running =
      database.prepare("SELECT id, host, pid, process_start FROM runs WHERE status = 'running'");
  std::vector<int64_t> crashed;
  while (sqlite3_step(running.get()) == SQLITE_ROW) {
    auto text = [&](int column) {
      auto p = reinterpret_cast<const char*>(sqlite3_column_text(running.get(), column));
      return p ? std::string(p) : std::string();
    };
    ProcessIdentity who{.host = text(1), .pid = sqlite3_column_int64(running.get(), 2), .start = text(3)};
    if (is_running(who) == false) crashed.push_back(sqlite3_column_int64(running.get(), 0));
  }
  for (int64_t id : crashed) {
    Statement update =
        database.prepare("UPDATE runs SET status = 'crashed' WHERE id = ? AND status = 'running'");
    Binder(update.get()).integer(id);
    run_to_done(database, update.get());
  }
}

}  // namespace

std::unique_ptr<ResultWriter> ResultWriter::open(const WriterOptions& options, const RunConfig& config) {
  if (options.batch_rows == 0 || options.queue_capacity == 0)
    throw StorageError("internal error: the writer needs batch_rows and queue_capacity of at least 1");
  Database database = Database::open(
      options.path,
      {.access = Access::read_write, .busy_timeout_ms = static_cast<int>(options.busy_timeout.count())});
  try {
    Statement insert_run = database.prepare(kInsertRun);
    std::string started_at = iso8601_utc(config.started_at != 0 ? config.started_at : unix_now());
    Binder(insert_run.get())
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
        .text(config.version)
        .text(config.command_line)
        .text_or_null(config.bench_id)
        .text_or_null(config.host)
        .integer_or_null(config.pid)
        .text_or_null(config.process_start);
    run_to_done(database, insert_run.get());
    mark_crashed_runs(database);
  } catch (const StorageError& e) {
    throw StorageError(
        "cannot write to the database " + options.path + ": " + e.what() +
        ": check that the file is writable and the disk has space, or pass --db with another path");
  }
  int64_t run_id = sqlite3_last_insert_rowid(database.handle());
  return std::unique_ptr<ResultWriter>(new ResultWriter(options, std::move(database), run_id));
}

ResultWriter::ResultWriter(const WriterOptions& options, Database database, int64_t run_id)
    : options_(options),
      database_(std::move(database)),
      insert_page_(database_->prepare(kInsertPage)),
      insert_link_(database_->prepare(
          "INSERT INTO links (run_id, from_seq, from_url, to_url) VALUES (?1, ?2, ?3, ?4)")),
      begin_(database_->prepare("BEGIN")),
      commit_(database_->prepare("COMMIT")),
      run_id_(run_id),
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
  std::unique_lock lock(mutex_);
  has_room_.wait(lock, [&] { return queue_.size() < options_.queue_capacity || refusing_; });
  if (refusing_) return;
  queue_.push_back(std::move(record));
  // An idle writer wakes for the first row; one in a transaction once wake_rows rows wait (or at its
  // deadline). Waking it for each row would have it take a core from the crawl thousands of times
  // a second to write a row or two each time.
  const bool wake = queue_.size() == wake_at_;
  lock.unlock();
  if (wake) has_rows_.notify_one();
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

void ResultWriter::write_until_closed() {
  name_this_thread("crawl-writer");
  try {
    while (write_one_batch()) {
    }
  } catch (const std::exception& e) {
    if (!sqlite3_get_autocommit(database_->handle()))
      sqlite3_exec(database_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    fail("writing pages to " + options_.path + " failed after " + std::to_string(rows_written()) +
         " rows: " + e.what() + ": check free disk space and that the file is still there and writable");
  }
}

// One transaction: waits for a first row, then takes rows until batch_rows or batch_interval,
// wake_rows or more at a time. Returns false when finish() has been called and everything is
// written.
bool ResultWriter::write_one_batch() {
  {
    std::unique_lock lock(mutex_);
    wake_at_ = 1;
    has_rows_.wait(lock, [&] { return !queue_.empty() || closing_; });
    if (queue_.empty()) return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.batch_interval;
  run_to_done(*database_, begin_.get());
  size_t in_batch = 0;
  std::vector<PageRecord> taken;
  while (in_batch < options_.batch_rows) {
    taken.clear();
    {
      std::unique_lock lock(mutex_);
      wake_at_ = std::min({options_.wake_rows, options_.batch_rows - in_batch, options_.queue_capacity});
      has_rows_.wait_until(lock, deadline, [&] { return queue_.size() >= wake_at_ || closing_; });
      if (queue_.empty()) break;  // the deadline, or closing: commit, and the next call ends the loop
      size_t count = std::min(queue_.size(), options_.batch_rows - in_batch);
      auto end = queue_.begin() + static_cast<std::ptrdiff_t>(count);
      taken.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(end));
      queue_.erase(queue_.begin(), end);
    }
    has_room_.notify_all();
    // SQLite runs outside the lock: submitters only ever wait for the queue, never for the disk.
    for (const PageRecord& record : taken) insert(record);
    in_batch += taken.size();
    if (std::chrono::steady_clock::now() >= deadline) break;
  }
  run_to_done(*database_, commit_.get());
  // On Linux a deleted file stays writable through the open descriptor, so SQLite reports success
  // while every row goes to an inode nobody can reach: check after each commit.
  int moved = 0;
  if (sqlite3_file_control(database_->handle(), "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved)
    throw StorageError("the database file was deleted or moved during the run");
  rows_written_.fetch_add(static_cast<int64_t>(in_batch), std::memory_order_relaxed);
  last_commit_time_.store(steady_now(), std::memory_order_relaxed);
  return true;
}

void ResultWriter::insert(const PageRecord& r) {
  std::string fetched_at;
  const Timings& t = r.timings;
  std::string_view title = r.title ? std::string_view(*r.title) : std::string_view();
  Binder(insert_page_.get())
      .integer(run_id_)
      .integer(r.seq)
      .text(r.source)
      .integer(r.line)
      .text(r.input)
      .text_or_null(r.url)
      .text_or_null(r.final_url)
      .integer_or_null(r.status)
      .text_or_null(r.error)
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
      .real(t.dns_ms)
      .real(t.connect_ms)
      .real(t.tls_ms)
      .real(t.ttfb_ms)
      .real(t.total_ms)
      .real(t.queue_ms)
      .text_or_null(r.worker)
      .time_or_null(r.fetched_at, fetched_at);
  run_to_done(*database_, insert_page_.get());
  for (const auto& link : r.links) {
    Binder(insert_link_.get()).integer(run_id_).integer(r.seq).text(r.url).text(link);
    run_to_done(*database_, insert_link_.get());
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
    if (!stats) {
      Statement abandon = database_->prepare(kAbandonRun);
      Binder(abandon.get()).text("failed").time_or_null(unix_now(), ended_at).integer(run_id_);
      run_to_done(*database_, abandon.get());
      return;
    }
    const RunStats& s = *stats;
    Statement end_run = database_->prepare(kEndRun);
    Binder(end_run.get())
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
    run_to_done(*database_, end_run.get());
    Statement insert_source = database_->prepare(kInsertSource);
    int64_t position = 0;
    for (const SourceRecord& source : s.sources) {
      Binder b(insert_source.get());
      b.integer(run_id_)
          .integer(position++)
          .text(source.source)
          .integer(source.lines_read)
          .integer(source.bytes_read);
      if (source.size >= 0)
        b.integer(source.size).integer(source.mtime_ns);
      else
        b.null().null();
      b.integer(source.finished ? 1 : 0);
      run_to_done(*database_, insert_source.get());
    }
  } catch (const StorageError& e) {
    fail("cannot record the end of run " + std::to_string(run_id_) + " in " + options_.path + ": " +
         e.what() + ": check free disk space and that the file is still there and writable");
  }
}

void ResultWriter::close_database() {
  insert_page_.reset();
  insert_link_.reset();
  begin_.reset();
  commit_.reset();
  database_.reset();
}

}  // namespace crawl::storage
