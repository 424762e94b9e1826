// Breadth-first admission and --max-pages. A link found on a page of depth d-1 waits here until no
// page of depth d-2 or less is unfinished: by then every link of depth d-1 is known and was taken
// in first, so each URL is fetched at the depth of the shortest path to it, and a cut at
// --max-pages leaves exactly a breadth-first walk, whatever order the fetches finish in.
// (Depth-first crawls take links in at once and use only the page budget.) Single-threaded.
#pragma once

#include <cstdint>
#include <vector>

#include "crawler/page.hpp"

namespace crawl {

class LevelGate {
 public:
  // `max_pages` 0: no limit.
  LevelGate(int max_depth, int64_t max_pages);

  // ---- the page budget ----
  // One more URL is taken into the crawl; false (and nothing counted) when the budget is spent.
  bool take();
  bool spent() const { return max_pages_ > 0 && taken_ >= max_pages_; }
  int64_t max_pages() const { return max_pages_; }

  // ---- the URLs taken in and not yet finished, by depth ----
  void opened(int depth) { ++open_[clamp(depth)]; }
  void closed(int depth) { --open_[clamp(depth)]; }
  int64_t open_at(int depth) const { return open_[clamp(depth)]; }

  // ---- links waiting for their level ----
  // A link (its task's depth set), kept until its level opens.
  void hold(UrlTask&& link);
  // A resumed run: nothing is let through until the lines read before are back (see
  // Frontier::restore).
  void hold_all(bool hold) { hold_all_ = hold; }
  // Offers `admit` (void(UrlTask&&)) every waiting link whose level is open now, in the order they
  // came, while the budget lasts, and tells `parent_done` (void(int64_t seq)) of each page whose
  // links have all been offered or dropped. Once the budget is spent, every link still waiting is
  // dropped (and its page told of).
  template <class Admit, class ParentDone>
  void release(Admit admit, ParentDone parent_done);
  // Drops every waiting link (an interrupted run).
  void clear();
  bool empty() const;

 private:
  size_t clamp(int depth) const;

  int64_t max_pages_;
  int64_t taken_ = 0;
  bool hold_all_ = false;
  std::vector<int64_t> open_;
  std::vector<std::vector<UrlTask>> waiting_;  // by depth
};

template <class Admit, class ParentDone>
void LevelGate::release(Admit admit, ParentDone parent_done) {
  if (hold_all_) return;
  int64_t unfinished_below = 0;  // open pages of depth <= d-2
  for (size_t d = 1; d < waiting_.size(); ++d) {
    if (d >= 2) unfinished_below += open_[d - 2];
    auto& bucket = waiting_[d];
    if (bucket.empty()) continue;
    if (unfinished_below > 0) return;
    int64_t parent = -1;
    for (auto& t : bucket) {
      // A page's links sit together in the bucket: once past them, they are all dealt with.
      if (t.parent_seq != parent) {
        if (parent >= 0) parent_done(parent);
        parent = t.parent_seq;
      }
      if (!spent()) admit(std::move(t));
    }
    if (parent >= 0) parent_done(parent);
    bucket.clear();
    if (spent()) {
      for (auto& b : waiting_) {
        int64_t last = -1;
        for (const auto& t : b) {
          if (t.parent_seq >= 0 && t.parent_seq != last) parent_done(t.parent_seq);
          last = t.parent_seq;
        }
        b.clear();
      }
      return;
    }
  }
}

}  // namespace crawl
