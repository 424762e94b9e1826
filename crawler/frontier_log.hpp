// Where the frontier records what must outlive the process: the URLs it has taken in that have no
// row yet, and the pages whose links it has dealt with. The rows themselves, and the links a page
// is to follow, go to the store with the page (storage::PageRecord::follow), so that each URL is
// always either final or pending there. Internal to crawler/.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>

#include "crawler/page.hpp"

namespace crawl {

class FrontierLog {
 public:
  virtual ~FrontierLog() = default;
  // `task` was taken into the crawl and has no row yet: a link admitted, a URL waiting to be tried
  // again (`attempts_made` fetches so far, not before `not_before`, unix seconds; 0: at once), a
  // line of a list that cannot be read again. The same seq again replaces the entry.
  virtual void pending(const UrlTask& task, int attempts_made, double not_before) = 0;
  // The links found on the page `parent_seq` have all been taken in or turned down.
  virtual void links_taken(int64_t parent_seq) = 0;
};

// Keeps the entries in memory: what the frontier would have made durable, for tests and for runs
// whose state need not survive them.
class MemoryFrontierLog final : public FrontierLog {
 public:
  struct Entry {
    UrlTask task;
    int attempts_made = 0;
    double not_before = 0;
  };
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
};

}  // namespace crawl
