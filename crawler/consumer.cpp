#include "crawler/consumer.hpp"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.hpp"
#include "parsers/html.hpp"

namespace crawl {

namespace {

// Every row a fetch made: its final URL is the URL when libcurl followed no redirect.
void settle_final_url(storage::PageRecord& r) {
  if (r.status > 0 && r.final_url.empty()) r.final_url = r.url;  // see Page::record
}

// Without a parse, the charset is the one the Content-Type names. A 304 keeps the one found before.
void charset_from_header(storage::PageRecord& r) {
  if (!r.content_type.empty() && !r.not_modified)
    r.charset = parsers::charset_from_content_type(r.content_type);
}

}  // namespace

void finish_unparsed(Page&& page, RowSink& rows) {
  auto& r = page.record;
  settle_final_url(r);
  charset_from_header(r);
  rows.finish(std::move(r), {}, page.seed_host, rows.wants_bodies() ? std::move(page.body) : std::string());
}

void consume(const ConsumerContext& s) {
  parsers::ParseOptions parse_options;
  parse_options.parser = s.options.parser;
  parse_options.collect_links = s.options.follow.max_depth > 0 || s.options.follow.store_links;
  double parse_cpu = 0;
  PageBatch batch;
  while (s.pages.pop(batch) == PageChannel::Popped::item) {
    for (Page& page : batch) {
      auto& r = page.record;
      if (r.fetched_at > 0)
        r.timings.queue_ms = seconds_between(page.enqueued_at, std::chrono::steady_clock::now()) * 1000.0;
      settle_final_url(r);
      std::vector<std::string> follow;
      if (s.options.parse && page.body_kept) {
        const double before = thread_cpu_seconds();
        parsers::PageFacts facts = parsers::parse_page(page.body, r.content_type, parse_options);
        r.charset = std::move(facts.charset);
        if (!facts.charset_problem.empty() && r.error == ErrorCategory::none) {
          r.error = ErrorCategory::charset;
          r.error_message = std::move(facts.charset_problem);
        }
        if (facts.is_html) {
          r.title = std::move(facts.title);
          r.link_count = facts.link_count;
          // Links are resolved against where the page ended up, after redirects.
          const std::string& at = r.final_url.empty() ? r.url : r.final_url;
          if (s.frontier.wants_links(r.depth))
            follow = s.links.follow(at, facts.base_href, facts.links, page.seed_host);
          if (s.options.follow.store_links)
            r.links = LinkFilter::resolve_all(at, facts.base_href, facts.links);
        }
        r.text_bytes = facts.text_bytes;
        parse_cpu += thread_cpu_seconds() - before;
      } else {
        charset_from_header(r);
      }
      s.rows.finish(std::move(r), std::move(follow), page.seed_host,
                    s.rows.wants_bodies() ? std::move(page.body) : std::string());
      const int64_t held = page.budget_bytes;
      page = Page{};  // the body is freed here, not when the batch goes
      s.budget.release(held);
    }
    batch.clear();
  }
  s.parse_cpu_seconds.fetch_add(parse_cpu, std::memory_order_relaxed);
}

}  // namespace crawl
