// What travels through the pipeline: a URL to fetch (UrlTask), and a fetched page with its body on
// the way to the consumers (Page).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "storage/records.hpp"

namespace crawl {

struct UrlTask {
  int64_t seq = 0;
  std::string source;
  int64_t line = 0;
  std::string input;
  std::string url;  // normalised
  int depth = 0;
  std::string parent_url;
  int attempt = 1;          // 2 and more for a retry, or when a worker process died holding it
  std::string seed_host;    // host of the list URL this one descends from (--scope)
  int64_t parent_seq = -1;  // a link's page, until the frontier takes the link in
  // The producer that last finished a fetch from this host and so holds an idle connection to it;
  // thread and process modes hand the task to it when it is free (-1: anyone).
  int lane = -1;
  // Tell the frontier the moment the request goes out (StartListener): --delay runs from there.
  bool report_start = false;
};

struct Page {
  // As stored, except that a fetched page's record.final_url is left empty when it equals its url:
  // the consumers fill it in before anyone else sees the record.
  storage::PageRecord record;
  std::string body;  // decoded body; empty when bodies are not kept (--no-parse)
  bool body_kept = false;
  std::chrono::steady_clock::time_point enqueued_at{};
  int64_t retry_after_s = -1;  // the response's Retry-After, in seconds from now; -1 when none
  std::string seed_host;       // the task's, for the consumers' --scope check of its links
  int lane = -1;               // the producer that fetched it (see UrlTask::lane); not stored
  int64_t budget_bytes = 0;    // what it holds of the ByteBudget until a consumer is done with it
};

// The page's record takes what its task says of it: seq, list, line, input, URL, depth, parent, and
// the seed host (not the attempt: a page tells how many fetches it took).
void take_task_fields(Page& page, UrlTask&& task);
// The task a page was fetched for, rebuilt from the page (which carries all of it).
UrlTask task_of(const Page& page);
// A row for a task that was never fetched (bad line, duplicate, interrupted run).
Page unfetched_page(const UrlTask& task, ErrorCategory category, std::string message);
// The row of a task a stop reached before its fetch began, in whichever mode or stage held it.
Page interrupted_page(const UrlTask& task);
// interrupted_page appended to `out`, in a frame of its own: see fetch_task (crawler/producers.hpp).
[[gnu::noinline]] void append_interrupted_page(std::vector<Page>& out, const UrlTask& task);

}  // namespace crawl
