#include "crawler/page.hpp"

namespace crawl {

Page unfetched_page(const UrlTask& task, ErrorCategory category, std::string message) {
  Page page;
  auto& r = page.record;
  r.seq = task.seq;
  r.source = task.source;
  r.line = task.line;
  r.input = task.input;
  r.url = task.url;
  r.depth = task.depth;
  r.parent_url = task.parent_url;
  page.seed_host = task.seed_host;
  r.error = category;
  r.error_message = std::move(message);
  page.enqueued_at = std::chrono::steady_clock::now();
  return page;
}

Page interrupted_page(const UrlTask& task) {
  return unfetched_page(task, ErrorCategory::interrupted, "the run was interrupted before the fetch");
}

}  // namespace crawl
