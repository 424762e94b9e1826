// Where the frontier's state lives beyond the process: the URLs it has taken in that have no row
// yet, and the pages whose links it has dealt with; and, for a resumed run, what an earlier
// session left. The rows themselves, and the links a page is to follow, go to the store with the
// page (storage::PageRecord::follow), so that each URL is always either final or pending there.
// Implementations: in memory (below), and the crawl's database (WriterFrontierStore in
// frontier/writer_store.hpp, through the writer). Internal to crawler/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "crawler/page.hpp"
#include "storage/records.hpp"

namespace crawl {

class FrontierStore {
 public:
  virtual ~FrontierStore() = default;
  // What an earlier session of the run left (nothing for a new run), handed over once.
  virtual storage::ResumeState load() = 0;
  // `task` was taken into the crawl and has no row yet: a link admitted, a URL waiting to be tried
  // again (`attempts_made` fetches so far, not before `not_before`, unix seconds; 0: at once), a
  // line of a list that cannot be read again. The same seq again replaces the entry.
  virtual void pending(const UrlTask& task, int attempts_made, double not_before) = 0;
  // The links found on the page `parent_seq` have all been taken in or turned down.
  virtual void links_taken(int64_t parent_seq) = 0;
  // A shared run: the worker is done with the host it leased (`origin`): its URLs have their rows
  // in the store, and others may fetch from it from `next_fetch_at` (unix time) on.
  virtual void host_done(const std::string& origin, double next_fetch_at) {
    (void)origin;
    (void)next_fetch_at;
  }
  // A shared run: the worker has nothing in hand, and the run ends once what it handed in is
  // stored: store it now rather than at the end of a batch.
  virtual void store_now() {}
};

// Keeps the entries in memory: what the frontier would have made durable, for tests and for runs
// whose state need not survive them.
class MemoryFrontierStore final : public FrontierStore {
 public:
  struct Entry {
    UrlTask task;
    int attempts_made = 0;
    double not_before = 0;
  };
  // The entries still pending, as a resumed run would find them.
  storage::ResumeState load() override {
    std::lock_guard lock(mutex_);
    storage::ResumeState state;
    for (const auto& [seq, e] : entries_) {
      if (final_.contains(seq)) continue;
      state.pending.push_back({.seq = seq,
                               .source = e.task.source,
                               .line = e.task.line,
                               .input = e.task.input,
                               .url = e.task.url,
                               .depth = e.task.depth,
                               .parent_url = e.task.parent_url,
                               .seed_host = e.task.seed_host,
                               .attempts = e.attempts_made,
                               .not_before = e.not_before});
      state.seen.push_back(e.task.url);
      state.next_seq = std::max(state.next_seq, seq + 1);
    }
    return state;
  }
  // The URL has its final row: its entry goes (as the writer deletes it with the row).
  void finished(int64_t seq) {
    std::lock_guard lock(mutex_);
    final_.insert(seq);
  }
  void pending(const UrlTask& task, int attempts_made, double not_before) override {
    std::lock_guard lock(mutex_);
    entries_[task.seq] = Entry{task, attempts_made, not_before};
  }
  void links_taken(int64_t parent_seq) override {
    std::lock_guard lock(mutex_);
    taken_.insert(parent_seq);
  }
  std::map<int64_t, Entry> entries() const {
    std::lock_guard lock(mutex_);
    return entries_;
  }
  std::set<int64_t> taken() const {
    std::lock_guard lock(mutex_);
    return taken_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<int64_t, Entry> entries_;
  std::set<int64_t> taken_;
  std::set<int64_t> final_;
};

}  // namespace crawl
