#include "storage/source_ledger.hpp"

#include <algorithm>
#include <chrono>
#include <map>

namespace crawl::storage {

void SourceLedger::read(int64_t seq, int position, int64_t line, int64_t bytes_end) {
  std::lock_guard lock(mutex_);
  entries_.push_back({seq, line, bytes_end, position, false, false});
  last_seq_ = seq;
}

void SourceLedger::source_end(int position, int64_t lines, int64_t bytes) {
  std::lock_guard lock(mutex_);
  entries_.push_back({last_seq_, lines, bytes, position, true, true});
}

void SourceLedger::done(int64_t seq) {
  std::lock_guard lock(mutex_);
  // A line's entry comes before any end entry with the same seq.
  auto it = std::lower_bound(entries_.begin(), entries_.end(), seq,
                             [](const Entry& e, int64_t s) { return e.seq < s; });
  if (it != entries_.end() && it->seq == seq && !it->end) it->done = true;
}

std::vector<SourceMark> SourceLedger::advance() {
  std::lock_guard lock(mutex_);
  std::map<int, SourceMark> moved;
  while (!entries_.empty() && entries_.front().done) {
    const Entry& e = entries_.front();
    moved[e.position] = SourceMark{.position = e.position, .lines_done = e.line, .bytes_done = e.bytes};
    entries_.pop_front();
  }
  std::vector<SourceMark> out;
  for (auto& [position, mark] : moved) out.push_back(mark);
  if (!out.empty()) room_.notify_all();
  return out;
}

bool SourceLedger::wait_for_room(size_t limit, const std::function<bool()>& give_up) {
  std::unique_lock lock(mutex_);
  while (entries_.size() >= limit) {
    if (give_up && give_up()) return false;
    room_.wait_for(lock, std::chrono::milliseconds(100));
  }
  return true;
}

size_t SourceLedger::held() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace crawl::storage
