// The consumers: each takes pages from the queue, parses them, picks the links to follow, and
// finishes their rows (crawler/row_sink.hpp).
#pragma once

#include <atomic>
#include <mutex>

#include "crawler/byte_budget.hpp"
#include "crawler/channel.hpp"
#include "crawler/frontier.hpp"
#include "crawler/row_sink.hpp"
#include "crawler/run.hpp"

namespace crawl {

// What the consumers of one crawl share.
struct ConsumerContext {
  PageChannel& pages;
  Frontier& frontier;
  const LinkFilter& links;
  const RunOptions& options;
  RowSink& rows;
  std::atomic<double>& parse_cpu_seconds;
  ByteBudget& budget;
};

// Runs one consumer until the page queue is closed and empty.
void consume(const ConsumerContext& s);

// Finishes the row of a page that is not parsed (--no-parse, or a body not kept): what a consumer
// does with it, for a producer to do itself.
void finish_unparsed(Page&& page, RowSink& rows);

}  // namespace crawl
