// The single writer of a run's pages: callers on any number of OS threads hand rows over; one thread
// owns the SQLite connection and writes them with one prepared INSERT in batched transactions.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "storage/database.hpp"
#include "storage/records.hpp"

namespace crawl::storage {

struct WriterOptions {
  std::string path;
  // A transaction is committed after batch_rows rows or batch_interval after its first row,
  // whichever comes first: big enough to amortise the commit, short enough that `crawl query`
  // sees pages while the run goes on.
  size_t batch_rows = 4096;
  std::chrono::milliseconds batch_interval{50};
  // Within a transaction the writer takes rows once this many wait (or at batch_interval).
  size_t wake_rows = 256;
  // Rows that may wait for the writer before submit() blocks.
  size_t queue_capacity = 16384;
  // How long a write waits for another connection's lock before the writer gives up.
  std::chrono::milliseconds busy_timeout{5000};
};

class ResultWriter {
 public:
  // Creates or migrates the database, inserts the run row (status "running") and starts the writer
  // thread. Throws StorageError when the file cannot be opened or written.
  static std::unique_ptr<ResultWriter> open(const WriterOptions& options, const RunConfig& config);
  // Without finish(), stores what was submitted and marks the run "failed".
  ~ResultWriter();
  ResultWriter(const ResultWriter&) = delete;
  ResultWriter& operator=(const ResultWriter&) = delete;

  int64_t run_id() const { return run_id_; }

  // Thread-safe; blocks while queue_capacity rows wait (backpressure). After a failure, or once
  // finish() has returned, the row is dropped: failure() says why.
  void submit(PageRecord&& record);

  // Writes every row submitted so far, updates the run row with `stats` (status "failed" if the
  // writer failed), stops the thread and closes the database. Idempotent; errors go to failure().
  void finish(const RunStats& stats);

  // Why the writer stopped storing rows (disk full, file gone, lock held too long), if it did.
  std::optional<std::string> failure() const;
  // Rows in committed transactions.
  int64_t rows_written() const { return rows_written_.load(std::memory_order_relaxed); }
  // steady_clock seconds of the last commit; 0 before the first.
  double last_commit_time() const { return last_commit_time_.load(std::memory_order_relaxed); }

 private:
  ResultWriter(const WriterOptions& options, Database database, int64_t run_id);
  void close_database();
  void write_until_closed();
  bool write_one_batch();
  void insert(const PageRecord& record);
  void fail(const std::string& why);
  void stop_thread();
  void update_run_row(const RunStats* stats);

  const WriterOptions options_;
  std::optional<Database> database_;  // empty once finish() has closed it
  // Declared after database_ so they are finalized before it closes.
  Statement insert_page_, insert_link_, begin_, commit_;
  const int64_t run_id_;

  mutable std::mutex mutex_;
  std::condition_variable has_rows_;
  std::condition_variable has_room_;
  size_t wake_at_ = 1;  // submit() wakes the writer when the queue reaches this many rows
  std::deque<PageRecord> queue_;
  bool closing_ = false;   // finish() asked the thread to drain and stop
  bool refusing_ = false;  // submit() drops rows: the writer failed or has stopped
  bool finished_ = false;  // finish() was called
  std::optional<std::string> failure_;

  std::atomic<int64_t> rows_written_{0};
  std::atomic<double> last_commit_time_{0};
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace crawl::storage
