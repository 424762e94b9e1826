// Streams URL lines from files, stdin and --url values, one at a time: memory does not grow with
// the length of a list, nor with the length of a line.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

namespace crawl::urls {

struct UrlLine {
  int64_t seq = 0;         // 0-based order across all sources
  std::string source;      // file name, "-" for stdin, "--url"
  int64_t line = 0;        // 1-based line number in the file (0 for --url)
  std::string input;       // the line, trimmed (cut to 8 KiB + "…" when longer)
  std::string url;         // normalised URL when valid
  std::string error;       // why the line is not a usable URL (then `url` is empty)
  int position = 0;        // the source's place among the inputs (files in order, then --url)
  int64_t mark = 0;        // the line number, or for --url the value's number (1-based)
  int64_t bytes_end = 0;   // where the line ends in the file (0 for --url)
  bool rereadable = true;  // false for stdin, a pipe or a terminal: it cannot be read again
};

// Where a source is read from: a resumed run reads each list on from its mark.
struct SourceStart {
  int64_t line = 0;   // lines (--url: values) already done
  int64_t bytes = 0;  // where that line ends
  bool skip = false;  // not read at all (a pipe read by an earlier run: it cannot be read again)
};

struct ReaderInputs {
  std::vector<std::string> files;  // paths, or "-" for standard input (at most once)
  std::vector<std::string> urls;   // given with --url, read after the files
  // Where each file is opened, when not at its name (a resumed run, from another directory, opens
  // the absolute paths its lists had; its rows still name them as given). Empty: at the names.
  std::vector<std::string> paths;
  // One per file, then one for the --url values; empty: everything from the start.
  std::vector<SourceStart> starts;
};

// How far one source was read: `lines` is the last URL line next() returned (the whole file once
// finished), `bytes` where that line ends. A run that stopped early holds rows for exactly the URL
// lines up to there; going on from `bytes` (line lines + 1) misses none and repeats none.
struct SourcePosition {
  std::string source;     // as in UrlLine::source
  int64_t lines = 0;      // line number of the last URL line read (--url: values read)
  int64_t bytes = 0;      // bytes of the file up to the end of line `lines` (0 for --url)
  int64_t size = -1;      // the file's size when it was opened; -1 for a pipe, a terminal or --url
  int64_t mtime_ns = 0;   // its modification time then (ns since the epoch); 0 when not a file
  bool finished = false;  // read to the end
};

// A line (or --url value) without the whitespace around it, as the reader takes it: what a resumed
// run compares with the inputs it stored.
std::string_view trim_line(std::string_view s);

// The URL lines of the list at `path` (what UrlReader::next() would return of it: not blank lines
// nor comments), counted ahead of the crawl for the progress line; -1 when it is not a regular file
// (a pipe can be read once only), cannot be read, or `stop` was requested meanwhile.
int64_t count_url_lines(const std::string& path, std::stop_token stop = {});

class UrlReader {
 public:
  // Opens every file up front so that a missing one, a directory or an unreadable one is a usage
  // error before anything starts (throws crawl::UsageError).
  explicit UrlReader(const ReaderInputs& inputs);
  ~UrlReader();
  UrlReader(const UrlReader&) = delete;
  UrlReader& operator=(const UrlReader&) = delete;

  // The next non-blank, non-comment line, validated and normalised. False when all are read, or
  // once interrupt() was called: a reader blocked on a pipe or reading an endless line returns
  // within a buffer's worth of bytes.
  bool next(UrlLine& out);
  // Makes next() return false from now on (any thread).
  void interrupt();
  bool interrupted() const { return interrupted_.load(std::memory_order_relaxed); }
  // Called (on the reading thread) before next() waits for a pipe or terminal to have more: the
  // caller hands on what it has read so far instead of holding it until more arrives.
  void set_before_wait(std::function<void()> hook) { before_wait_ = std::move(hook); }
  // Where each source stands now (call from the thread that calls next(), or after it is done).
  std::vector<SourcePosition> positions() const;
  // Called (on the reading thread) when a source has been read to its end: its position, lines
  // (--url: values) and bytes.
  void set_on_source_end(std::function<void(int, int64_t, int64_t)> hook) {
    on_source_end_ = std::move(hook);
  }

 private:
  struct Source;
  // Reads one line into `line_`, keeping at most kMaxLine bytes; false at the end of the file or
  // when interrupted (then `interrupted()` is true).
  bool read_line(Source& s, bool& truncated);
  bool fill_buffer(Source& s);

  std::vector<std::unique_ptr<Source>> files_;
  std::vector<std::string> literal_urls_;
  size_t file_index_ = 0;
  size_t url_index_ = 0;
  int64_t seq_ = 0;
  std::string line_;
  std::atomic<bool> interrupted_{false};
  int wake_fd_ = -1;  // an eventfd: interrupt() wakes a read blocked on a pipe
  std::function<void()> before_wait_;
  std::function<void(int, int64_t, int64_t)> on_source_end_;
  bool skip_urls_ = false;
  bool urls_end_reported_ = false;
};

}  // namespace crawl::urls
