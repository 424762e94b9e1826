#include "crawler/page.hpp"

namespace crawl {

void take_task_fields(Page& page, UrlTask&& task) {
  auto& r = page.record;
  r.seq = task.seq;
  r.source = std::move(task.source);
  r.line = task.line;
  r.input = std::move(task.input);
  r.url = std::move(task.url);
  r.depth = task.depth;
  r.parent_url = std::move(task.parent_url);
  page.seed_host = std::move(task.seed_host);
}

UrlTask task_of(const Page& page) {
  const auto& r = page.record;
  return UrlTask{.seq = r.seq,
                 .source = r.source,
                 .line = r.line,
                 .input = r.input,
                 .url = r.url,
                 .depth = r.depth,
                 .parent_url = r.parent_url,
                 .attempt = r.attempts,
                 .seed_host = page.seed_host};
}

Page unfetched_page(const UrlTask& task, ErrorCategory category, std::string message) {
  Page page;
  take_task_fields(page, UrlTask(task));
  auto& r = page.record;
  r.error = category;
  r.error_message = std::move(message);
  page.enqueued_at = std::chrono::steady_clock::now();
  return page;
}

Page interrupted_page(const UrlTask& task) {
  return unfetched_page(task, ErrorCategory::interrupted, "the run was interrupted before the fetch");
}

void append_interrupted_page(std::vector<Page>& out, const UrlTask& task) {
  out.push_back(interrupted_page(task));
}

}  // namespace crawl
