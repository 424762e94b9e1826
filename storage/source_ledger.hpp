// How far each list of a run is done. The reader notes every URL line it hands on; the writer notes
// each line whose row (or frontier entry) it writes, and, in the same transaction, stores how far
// each list is done without a gap (run_sources.lines_done). A resumed run reads each list on from
// there, so a list is never copied into the database, and a crash at any moment loses no line.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "storage/records.hpp"

namespace crawl::storage {

class SourceLedger {
 public:
  // The reading thread: a URL line, in reading order (seqs rising). `line` counts the list's lines
  // (for --url: its values), `bytes_end` is where the line ends in the file.
  void read(int64_t seq, int position, int64_t line, int64_t bytes_end);
  // The reading thread: the list at `position` is read to its end, `lines` lines, `bytes` bytes.
  void source_end(int position, int64_t lines, int64_t bytes);
  // The writer: the line `seq` has its row or entry in the transaction being written. Seqs the
  // ledger does not hold (links, lines of stdin) are ignored.
  void done(int64_t seq);
  // The writer, before it commits: the marks that moved since the last call.
  std::vector<SourceMark> advance();
  // Lines noted and not yet behind a mark (they wait for an earlier line to be done).
  size_t held() const;
  // The reading thread: waits while `limit` lines or more are held (one slow URL holds back every
  // mark behind it; memory must not grow with the rest of the list meanwhile), or until `give_up`
  // says so (checked every 100 ms). True when there is room.
  bool wait_for_room(size_t limit, const std::function<bool()>& give_up);

 private:
  struct Entry {
    int64_t seq;
    int64_t line;
    int64_t bytes;
    int position;
    bool done;
    bool end;  // the end of a list, done from the start
  };
  mutable std::mutex mutex_;
  std::condition_variable room_;
  std::deque<Entry> entries_;  // seqs rising; an end entry carries the seq of the line before it
  int64_t last_seq_ = -1;
};

}  // namespace crawl::storage
