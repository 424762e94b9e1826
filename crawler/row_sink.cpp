#include "crawler/row_sink.hpp"

#include <utility>

#include "crawler/frontier.hpp"

namespace crawl {

void RowSink::finish(storage::PageRecord&& r, std::vector<std::string>&& follow, const std::string& seed_host,
                     std::string body) {
  // The links go to the store with the row, in its transaction (a crash cannot leave a page stored
  // and its links lost), and before the frontier hears of them, so that the entry it has them
  // removed by comes after it.
  const int64_t seq = r.seq;
  if (o_.shared && !follow.empty()) {
    r.follow = std::move(follow);
    follow.clear();
    r.seed_host = seed_host;
  } else if (o_.durable_links && !follow.empty()) {
    r.follow = follow;
    r.seed_host = seed_host;
  }
  store(std::move(r), std::move(body));
  // Every row is reported, links or not: the frontier counts a page as finished only here.
  if (frontier_) frontier_->page_done(seq, std::move(follow));
}

void RowSink::store(storage::PageRecord&& r, std::string body) {
  o_.tally.add(r);
  submit_page(o_.callbacks, o_.page_callbacks, r, std::move(body));
  o_.writer.submit(std::move(r));
}

void RowSink::store_listed(storage::PageRecord&& r) {
  o_.tally.add(r);
  submit_page(o_.callbacks, o_.page_callbacks, r, {});
  o_.writer.submit(storage::ListedRow{std::move(r)});
}

}  // namespace crawl
