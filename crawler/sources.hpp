// The crawl's URL lists: read, checked on resume, and fed to the frontier (or, for lines that cannot
// be fetched, straight into rows).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "crawler/frontier.hpp"
#include "crawler/row_sink.hpp"
#include "storage/source_ledger.hpp"
#include "storage/writer.hpp"
#include "urls/reader.hpp"

namespace crawl {

// A resumed run reads each list on from its mark; the lines past it that an earlier session had
// finished (a row, or a frontier entry) are passed over, the rest crawled as they would have been.
class Rereading {
 public:
  Rereading() = default;
  Rereading(const storage::ResumeState& state, const urls::ReaderInputs& inputs);
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

// A resumed run reads its lists on from byte offsets: a list that changed since would be read from
// the middle of some other line, and lines added or removed would shift every line number.
void check_lists_unchanged(const urls::ReaderInputs& inputs, int64_t resume_run,
                           const std::vector<storage::SourceRecord>& sources);

// Whether the lists look as if they hold https URLs: a --url value, or "https://" (in any case) in
// the first `peek_bytes` of a list that is a regular file (a pipe is never read here: its bytes
// would be lost to the reader). A guess, for work worth starting early: a list whose https URLs come
// later, or a crawl that reaches https by a redirect or a link, still works, only without the head
// start.
bool lists_name_https(const urls::ReaderInputs& inputs, size_t peek_bytes = 64 * 1024);

// What read_sources reads from and hands to.
struct SourceFeed {
  urls::UrlReader& reader;
  Frontier& frontier;
  RowSink& rows;
  const LinkFilter& filter;
  const std::atomic<bool>& stop;
  size_t batch;
  std::atomic<int64_t>& next_seq;
  storage::SourceLedger& ledger;
  FrontierStore& store;
  Rereading& rereading;
  storage::ResultWriter* shared;  // a shared run's writer; null otherwise
};

// Reads every source and hands each line to the frontier, or turns it straight into a row when it
// cannot be fetched (bad line, left out by --include/--exclude). Once the run is stopped nothing
// more is read (the reader is interrupted, and returns at once even from a pipe that is silent or
// a line that never ends): the lines read so far have their rows, the rest none, and
// UrlReader::positions() says where each list stopped. Rows go to `rows` at once, URLs to the
// frontier in batches that double from `batch` to kSeedBatch (each batch may wake it, and the first
// URLs should start fetching at once).
// Each line of a list that can be read again is noted in `ledger` (the writer then records how far
// the list is done); a line of one that cannot (stdin) goes to the frontier's store as a frontier entry in
// `store` before the frontier sees it.
// In a shared run (`shared`), the lines go to the run's database instead (the writer admits each
// URL into the shared frontier, once), and the rows of lines that cannot be fetched straight to the
// writer, in reading order, so that the lists' marks move with them exactly: a line behind a mark
// is in the database, a line past it is not, whichever worker reads on.
void read_sources(const SourceFeed& feed);

}  // namespace crawl
