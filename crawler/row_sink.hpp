// Where every row ends, whoever made it: counted in the tally, handed to the page callbacks
// (--jsonl, --save-bodies, the library's) and submitted to the writer; and then reported to the
// frontier, which counts a URL as finished only once its row is on its way to the database.
//
// Consumers finish the rows of the pages they parse. Rows that need no parsing (a bad line, a URL
// left out by --include/--exclude, a duplicate, a robots.txt refusal, a URL a stop or a dead worker
// reached before its fetch) are finished where they are made, without a trip through the page
// queue and a consumer thread.
#pragma once

#include <string>
#include <vector>

#include "crawler/callbacks.hpp"
#include "crawler/tally.hpp"
#include "storage/records.hpp"
#include "storage/writer.hpp"

namespace crawl {

class Frontier;

class RowSink {
 public:
  struct Options {
    Tally& tally;
    CallbackPool* callbacks;  // null without callbacks
    const Callbacks& page_callbacks;
    storage::ResultWriter& writer;
    // Breadth-first: links wait for their level, and must survive a crash meanwhile, so they go to
    // the store with the row.
    bool durable_links = false;
    bool shared = false;  // a shared run: links go to the database only, with the row
  };
  explicit RowSink(const Options& options) : o_(options) {}

  // Whether the page callbacks want bodies (--save-bodies, a library on_page that asked): pass them
  // to finish().
  bool wants_bodies() const { return o_.page_callbacks.needs_bodies; }

  // The frontier to report rows to; set once, before any row that it took in is finished.
  void attach(Frontier* frontier) { frontier_ = frontier; }

  // Counts, hands to the callbacks and stores the row, and reports it to the frontier with the links
  // it is to follow. `body` goes to callbacks that asked for bodies. Thread-safe.
  void finish(storage::PageRecord&& record, std::vector<std::string>&& follow = {},
              const std::string& seed_host = {}, std::string body = {});

  // The same, without the report to the frontier: for rows the frontier never took in (a bad line,
  // a URL left out) and for the frontier's own rows, which it accounts for itself.
  void store(storage::PageRecord&& record, std::string body = {});

  // A shared run's row of a line that cannot be fetched, stored in reading order with the lines
  // around it (storage::ListedRow), so that the lists' marks move with it.
  void store_listed(storage::PageRecord&& record);

 private:
  Options o_;
  Frontier* frontier_ = nullptr;
};

}  // namespace crawl
