#pragma once

#include <string>
#include <utility>

#include "crawler/frontier/store.hpp"
#include "storage/writer.hpp"

namespace crawl {

// The frontier's state in the crawl database (SQLite or PostgreSQL): entries go through the writer, in order
// with the rows (so each commits with the rows before it); what an earlier session left was read when the
// writer opened the run, in the same transaction that took the run up.
class WriterFrontierStore final : public FrontierStore {
 public:
  WriterFrontierStore(storage::ResultWriter& writer, storage::ResumeState&& saved)
      : writer_(writer), saved_(std::move(saved)) {}
  storage::ResumeState load() override { return std::exchange(saved_, {}); }
  void pending(const UrlTask& t, int attempts_made, double not_before) override {
    writer_.submit(storage::PendingUrl{.seq = t.seq,
                                       .source = t.source,
                                       .line = t.line,
                                       .input = t.input,
                                       .url = t.url,
                                       .depth = t.depth,
                                       .parent_url = t.parent_url,
                                       .seed_host = t.seed_host,
                                       .attempts = attempts_made,
                                       .not_before = not_before});
  }
  void links_taken(int64_t parent_seq) override { writer_.submit(storage::LinksTaken{parent_seq}); }
  void host_done(const std::string& origin, double next_fetch_at) override {
    writer_.submit(storage::HostDone{.host = origin, .next_fetch_at = next_fetch_at});
  }
  void store_now() override { writer_.commit_soon(); }

 private:
  storage::ResultWriter& writer_;
  storage::ResumeState saved_;
};

}  // namespace crawl
