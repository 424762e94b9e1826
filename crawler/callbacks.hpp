// The library's extension point (the seeds' add_done_callback): callbacks run on a pool of
// --callback-threads threads, so a slow callback never stalls fetching, parsing or storing. Every
// submitted callback has run when drain() returns.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "storage/records.hpp"

namespace crawl {

struct RunSummary;  // crawler/run.hpp

// Thrown by a callback whose output can no longer be written (a full disk, a closed pipe, an I/O
// error). Unlike any other exception from a callback, it stops the run, which then fails (exit 1):
// going on would spend the crawl on pages whose output is lost, as curl stops on a write error.
struct OutputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Thrown by a callback that writes to standard output once whoever read it has gone (a closed pipe:
// `crawl run ... --jsonl - | head`). Not a failure: a request to stop, like Ctrl-C, and the run
// ends `interrupted` with every line read recorded.
struct OutputClosed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Called once per row. `body` is empty unless a callback asked for bodies.
using PageCallback = std::function<void(const storage::PageRecord& record, std::string_view body)>;
using RunDoneCallback = std::function<void(const RunSummary& summary)>;

struct Callbacks {
  // Called synchronously once the run row exists, before any page is fetched, with the run's id
  // and its runs.started_at as unix seconds.
  std::vector<std::function<void(int64_t run_id, double started_at)>> on_run_start;
  std::vector<PageCallback> on_page;
  std::vector<RunDoneCallback> on_run_done;
  bool needs_bodies = false;  // keep bodies in memory for on_page even with --no-parse
  bool empty() const { return on_page.empty() && on_run_done.empty(); }
};

class CallbackPool {
 public:
  // `max_backlog` bounds how many tasks may wait: past it, submit() blocks (memory stays bounded
  // when callbacks are hopelessly slower than the crawl).
  CallbackPool(int threads, size_t max_backlog);
  ~CallbackPool();
  CallbackPool(const CallbackPool&) = delete;
  CallbackPool& operator=(const CallbackPool&) = delete;

  void submit(std::function<void()> task);
  // Waits until every submitted task has run, then stops the threads.
  void drain();
  int64_t failures() const { return failures_.load(); }
  std::string first_failure() const;
  // The first OutputError's message, empty while there has been none.
  bool output_failed() const { return output_failed_.load(); }
  std::string output_failure() const;
  // Whether a callback met a closed standard output (OutputClosed).
  bool output_closed() const { return output_closed_.load(); }

 private:
  void work();
  mutable std::mutex mutex_;
  std::condition_variable has_work_, has_room_;
  std::deque<std::function<void()>> tasks_;
  size_t max_backlog_;
  bool closing_ = false;
  std::vector<std::thread> threads_;
  std::atomic<int64_t> failures_{0};
  std::string first_failure_;
  std::atomic<bool> output_failed_{false};
  std::string output_failure_;
  std::atomic<bool> output_closed_{false};
};

// Hands a row (and its body, when a callback asked for bodies) to every on_page callback, on the
// pool's threads. Nothing happens without a pool or page callbacks.
void submit_page(CallbackPool* pool, const Callbacks& callbacks, const storage::PageRecord& record,
                 std::string body);

// Built-in callbacks exposed on the command line.
// --print-urls: one line per URL as it finishes, on stdout, as httpx prints them:
// "URL [200] [18.2 kB] [Title] [125 ms]", "URL [timeout] [message]", "URL [duplicate]". `colour`:
// the status in green, yellow or red, skipped URLs dim (for a terminal). Text from the web (titles,
// messages, list lines) has its control characters replaced, so a page cannot send escape codes to
// the user's terminal.
std::string url_line(const storage::PageRecord& record, bool colour);
PageCallback make_url_printer(bool colour);

// What names a run's files: its id and start time (runs.id, runs.started_at), set by on_run_start.
struct RunStamp {
  std::atomic<int64_t> run_id{0};
  std::atomic<double> started_at{0};
};

// --jsonl FILE|-: one JSON object per page, written as pages complete. A line that cannot be
// written throws OutputError (on stdout, a closed pipe throws OutputClosed: the reader went away,
// which is a request to stop, not a failure).
// The object is the page's row as the pages table holds it (crawl query --format jsonl "SELECT *
// FROM pages" gives the same but for the table's own `id`): the same keys in the same order, NULL
// for what is not known, times in ISO 8601 UTC. `stamp` says the run's id.
PageCallback make_jsonl_writer(const std::string& path, std::shared_ptr<const RunStamp> stamp);
nlohmann::ordered_json page_object(const storage::PageRecord& record, int64_t run_id);

// --save-bodies DIR: each body as DIR/<started>-<run>-<seq>.<ext>, e.g. 20261202T040131.123Z-1-7.html,
// a name that never comes from the URL. The start time keeps runs of different databases that share
// an id (every database has a run 1) apart. A body that cannot be written (the file exists, a full
// disk) throws OutputError.
std::string body_file_name(const RunStamp& stamp, int64_t seq, const std::string& content_type);
PageCallback make_body_saver(const std::string& dir, std::shared_ptr<const RunStamp> stamp);

}  // namespace crawl
