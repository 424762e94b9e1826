// The single writer of a run's pages: callers on any number of OS threads hand rows over; one thread
// owns the database connection and writes them with one prepared INSERT in batched transactions.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <variant>
#include <vector>

#include "storage/database.hpp"
#include "storage/leases.hpp"
#include "storage/records.hpp"
#include "storage/source_ledger.hpp"
#include "urls/url.hpp"

namespace crawl::storage {

struct WriterOptions {
  std::string path;
  // A transaction is committed after batch_rows rows or batch_interval after its first row,
  // whichever comes first: big enough to amortise the commit, short enough that `crawl query`
  // sees pages while the run goes on.
  size_t batch_rows = 4096;
  std::chrono::milliseconds batch_interval{50};
  // A writer with no rows to write still notes, this often, that its session is alive (its
  // run_sessions row's ended_at): how `crawl runs` on another machine tells a worker that waits for
  // work from one whose machine died (see storage::live_sessions).
  std::chrono::milliseconds heartbeat{5000};
  // Within a transaction the writer takes rows once this many wait (or at batch_interval).
  size_t wake_rows = 256;
  // Rows that may wait for the writer before submit() blocks.
  size_t queue_capacity = 16384;
  // How long a write waits for another connection's lock before the writer gives up.
  std::chrono::milliseconds busy_timeout{5000};
  // PRAGMA synchronous = FULL: a commit waits until it is on the disk, so a power cut loses no
  // committed row. NORMAL (the default) survives a crash of the process; a power cut may lose the
  // last commits, never the database.
  bool synchronous_full = false;
  // Where the reader notes the lines it hands on; the writer stores how far each list is done.
  SourceLedger* ledger = nullptr;
  // The run to continue (`crawl resume`); 0: a new run.
  int64_t resume_run = 0;
  // A new run that other workers may join (`crawl resume RUN` while it runs): its frontier is shared
  // through the database and leased per host (storage/leases.hpp). A resumed run is shared when it
  // was made so.
  bool shared = false;
  // In a shared run: this worker's name among its workers (unique: "host/pid"), how long its leases
  // last unless renewed, and the politeness key (host) of a URL, which its lease goes by.
  std::string worker;
  double lease_ttl_s = 30;
  std::function<std::string(const std::string& url)> host_of;
  // In a shared run: called on the writer's thread after a commit that stored rows, put URLs into
  // the run's frontier or gave hosts back, so that the worker's own frontier asks for work, or
  // whether the run is over, at once.
  std::function<void()> on_work_committed;
  // Links are followed without --store-links: each row's links to follow (PageRecord::follow) are
  // stored in `links` too, and once the run completes only those into URLs that failed are kept,
  // which is what the broken-links report needs and no more.
  bool link_edges = false;
};

// Each row of the run being resumed, as ResultWriter::open reads them: every column but the
// phase timings (total_ms is there), title, charset and content type.
using PreviousRowVisitor = std::function<void(const PageRecord&)>;

class ResultWriter {
 public:
  // Creates or migrates the database, inserts the run row (status "running") and starts the writer
  // thread. Throws StorageError when the file cannot be opened or written.
  // With options.resume_run: takes that run up again instead (it must exist and be neither
  // completed nor running; UsageError otherwise): marks it running by this process, turns its
  // `interrupted` rows back into frontier entries, starts a session, and fills `resume` with what
  // the run goes on from, passing each row it has to `previous` on the way.
  static std::unique_ptr<ResultWriter> open(const WriterOptions& options, const RunConfig& config,
                                            ResumeState* resume = nullptr,
                                            const PreviousRowVisitor& previous = {});
  // Without finish(), stores what was submitted and marks the run "failed".
  ~ResultWriter();
  ResultWriter(const ResultWriter&) = delete;
  ResultWriter& operator=(const ResultWriter&) = delete;

  int64_t run_id() const { return run_id_; }

  // Thread-safe; blocks while queue_capacity rows wait (backpressure). After a failure, or once
  // finish() has returned, the row is dropped: failure() says why. A row removes its URL's frontier
  // entry, and stores the links it is to follow (PageRecord::follow), in the same transaction.
  void submit(PageRecord&& record);
  // A frontier entry, written (or replaced, for the same seq) in the order submitted among rows.
  void submit(PendingUrl&& pending);
  void submit(LinksTaken taken);
  // A shared run's (see records.hpp); in order with the rows.
  void submit(ListedUrl&& listed);
  void submit(ListedRow&& listed);
  void submit(HostDone&& done);
  void submit(ListsRead read);

  // Writes every row submitted so far, updates the run row with `stats` (status "failed" if the
  // writer failed), stops the thread and closes the database. Idempotent; errors go to failure().
  void finish(const RunStats& stats);
  // Ends the transaction under way as soon as the rows waiting are in it, rather than at
  // batch_interval: nothing else is coming for a while, and someone waits for these.
  void commit_soon();

  // Why the writer stopped storing rows (disk full, file gone, lock held too long), if it did.
  std::optional<std::string> failure() const;
  // Rows in committed transactions.
  int64_t rows_written() const { return rows_written_.load(std::memory_order_relaxed); }
  // steady_clock seconds of the last commit; 0 before the first.
  double last_commit_time() const { return last_commit_time_.load(std::memory_order_relaxed); }

 private:
  using Item = std::variant<PageRecord, PendingUrl, LinksTaken, ListedUrl, ListedRow, HostDone, ListsRead>;

  ResultWriter(const WriterOptions& options, Database database, int64_t run_id, int session,
               std::unordered_set<int64_t> pending_seqs, bool shared);
  void close_database();
  void write_until_closed();
  bool write_one_batch();
  void enqueue(Item&& item);
  void write(const Item& item);
  void insert(const PageRecord& record);
  void insert(const PendingUrl& pending);
  void insert_row(const PageRecord& record);
  void write_shared(const Item& item);
  void give_back_shared_hosts();
  std::string what_to_check() const;
  void end_shared_batch();
  int64_t shared_seq();
  void record_progress(bool at_once = false);
  void fail(const std::string& why);
  void stop_thread();
  void update_run_row(const RunStats* stats);

  const WriterOptions options_;
  std::optional<Database> database_;  // empty once finish() has closed it
  // Declared after database_ so they are finalized before it closes.
  Statement insert_page_, insert_link_, begin_, commit_, insert_pending_, delete_pending_, insert_links_,
      delete_links_, update_mark_, update_session_;
  const int64_t run_id_;
  const int session_;
  // The writer thread's own: seqs with a frontier entry, whose rows remove it.
  std::unordered_set<int64_t> pending_seqs_;
  // With link_edges, the URLs whose rows this session stored without an error: an edge into one of
  // them is one the end of the run would prune, and is not written. (A crawl of documentation
  // follows 50,000 links on 6,000 pages, most of them into pages already fetched.) An edge into a
  // URL whose row comes later is written, and pruned then. The set holds 64-bit hashes, as the
  // frontier's does: a URL sharing one with a fine URL (odds as urls::SeenSet states) would lose its
  // referrers in the broken-links report.
  urls::SeenSet fetched_without_error_;
  int64_t session_rows_ = 0;
  int64_t rows_inserted_ = 0;  // in the batch being written
  std::chrono::steady_clock::time_point session_started_, progress_recorded_;

  mutable std::mutex mutex_;
  std::condition_variable has_rows_;
  std::condition_variable has_room_;
  size_t wake_at_ = 1;  // submit() wakes the writer when the queue reaches this many rows
  std::deque<Item> queue_;
  bool closing_ = false;  // finish() asked the thread to drain and stop
  bool commit_soon_ = false;
  bool refusing_ = false;  // submit() drops rows: the writer failed or has stopped
  bool finished_ = false;  // finish() was called
  std::optional<std::string> failure_;

  // A shared run's: the writer's handle on the leases, and what the batch being written has for
  // them, settled together at its end (one round trip each, not one per row).
  std::unique_ptr<HostLeases> leases_;
  std::vector<PageRecord> fenced_;  // rows of leased URLs: stored if their entry is still there
  std::vector<PendingUrl> listed_;
  std::vector<HostDone> hosts_done_;
  bool lists_read_ = false;
  bool work_in_batch_ = false;          // URLs admitted or hosts given back in this transaction
  int64_t seq_next_ = 0, seq_end_ = 0;  // seqs reserved for this worker, not yet given

  std::atomic<int64_t> rows_written_{0};
  std::atomic<double> last_commit_time_{0};
  std::thread thread_;  // last: starts once everything above exists
};

// A run `crawl resume` may take up: the one asked for, or the latest that is not completed (runs of
// `crawl bench` aside). Opens the database read-write (an older file is migrated) and marks runs
// whose process is gone as crashed first. Throws UsageError when there is none, or when the run is
// completed, running, or was made by a crawl that did not record its settings.
struct RunToResume {
  int64_t id = 0;
  std::string status;  // interrupted | crashed | failed; running for a shared run to join
  std::string settings;
  bool shared = false;
};
RunToResume find_run_to_resume(const std::string& path, std::optional<int64_t> run_id);

// The lists of run `run_id` as it first read them (their sizes and modification times), in order.
std::vector<SourceRecord> read_run_sources(const std::string& path, int64_t run_id);

}  // namespace crawl::storage
