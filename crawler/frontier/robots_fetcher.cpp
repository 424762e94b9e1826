#include "crawler/frontier/robots_fetcher.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "crawler/errors.hpp"

namespace crawl {

urls::Robots robots_from(const Page& page, std::string_view user_agent) {
  const auto& r = page.record;
  if (r.error == ErrorCategory::none && r.status >= 200 && r.status < 300)
    return urls::Robots::parse(page.body, user_agent);
  // 2.3.1.3: unavailable, crawl without restrictions. A redirect that is not followed to its end
  // (a loop, a chain over five) counts as unavailable too.
  if (r.error == ErrorCategory::http_4xx || r.error == ErrorCategory::too_many_redirects ||
      (r.error == ErrorCategory::none && r.status >= 300 && r.status < 400))
    return urls::Robots::allow_all();
  // 2.3.1.4: 5xx or unreachable: assume complete disallow. A body that cannot be read (it does not
  // decode, or is too large) is as good as unreachable.
  return urls::Robots::disallow_all(r.error_message.empty() ? std::string(name_of(r.error))
                                                            : r.error_message);
}

std::string user_agent_sent(const std::vector<std::string>& headers, std::string_view fallback) {
  constexpr std::string_view kName = "user-agent:";
  std::string found(fallback);
  for (const auto& h : headers) {
    if (h.size() < kName.size()) continue;
    bool same = true;
    for (size_t i = 0; i < kName.size() && same; ++i)
      same = static_cast<char>(std::tolower(static_cast<unsigned char>(h[i]))) == kName[i];
    if (!same) continue;
    const auto value = h.find_first_not_of(" \t", kName.size());
    found = value == std::string::npos ? std::string() : h.substr(value);
  }
  return found;
}

struct RobotsFetcher::Fetch final : StartListener {
  Fetch(const FetchOptions& options, const std::atomic<bool>& stop, std::string o, TimePoint begun)
      : transfer(options, nullptr, &stop, this), origin(std::move(o)), sent_at(begun) {}
  void started(int64_t, TimePoint at) noexcept override { sent_at = at; }
  Transfer transfer;
  std::string origin;
  TimePoint sent_at;
};

RobotsFetcher::RobotsFetcher(const FetchOptions& options, const std::atomic<bool>& stop,
                             const TimeSource& time)
    : options_(options),
      user_agent_(user_agent_sent(options.headers, options.user_agent)),
      stop_(stop),
      time_(time),
      multi_(curl::make_multi()) {
  options_.keep_body = true;  // even with --no-parse
  options_.max_body_bytes = kMaxRobotsBytes;
  options_.cut_at_max_body = true;
  options_.max_redirects = 5;  // RFC 9309 2.3.1.2: at least five
}

RobotsFetcher::~RobotsFetcher() {
  for (auto& [easy, fetch] : fetches_) curl_multi_remove_handle(multi_.get(), easy);
  fetches_.clear();
}

void RobotsFetcher::fetch(const std::string& origin) {
  auto f = std::make_unique<Fetch>(options_, stop_, origin, time_.now());
  f->transfer.begin(UrlTask{.url = origin + "/robots.txt", .report_start = true}, "robots");
  CURL* easy = f->transfer.easy();
  if (curl_multi_add_handle(multi_.get(), easy) != CURLM_OK) throw std::bad_alloc();
  fetches_.emplace(easy, std::move(f));
}

std::vector<RobotsFetcher::Known> RobotsFetcher::poll(std::chrono::milliseconds timeout) {
  timeout = std::max(timeout, std::chrono::milliseconds(0));
  if (fetches_.empty()) {
    std::unique_lock lock(wake_mutex_);
    woken_.wait_for(lock, timeout, [&] { return wake_pending_; });
    wake_pending_ = false;
    return {};
  }
  {
    std::lock_guard lock(wake_mutex_);
    // A wake() before this point is not lost: it made the wait 0. One after it writes to libcurl's
    // socket pair, which ends curl_multi_poll (or the next one, a spurious wake-up at worst).
    if (std::exchange(wake_pending_, false)) timeout = std::chrono::milliseconds(0);
    in_curl_poll_ = true;
  }
  int numfds = 0;
  curl_multi_poll(multi_.get(), nullptr, 0, static_cast<int>(timeout.count()), &numfds);
  {
    std::lock_guard lock(wake_mutex_);
    in_curl_poll_ = false;
    wake_pending_ = false;
  }
  int running = 0;
  curl_multi_perform(multi_.get(), &running);
  std::vector<Known> known;
  int left = 0;
  while (CURLMsg* m = curl_multi_info_read(multi_.get(), &left)) {
    if (m->msg != CURLMSG_DONE) continue;
    auto it = fetches_.find(m->easy_handle);
    if (it == fetches_.end()) continue;
    const CURLcode rc = m->data.result;  // read before the handle is removed: m is then gone
    Fetch& f = *it->second;
    curl_multi_remove_handle(multi_.get(), it->first);
    const Page page = f.transfer.finish(rc);
    known.push_back({std::move(f.origin), robots_from(page, user_agent_), f.sent_at});
    fetches_.erase(it);
  }
  return known;
}

void RobotsFetcher::wake() {
  bool in_curl_poll = false;
  {
    std::lock_guard lock(wake_mutex_);
    wake_pending_ = true;
    in_curl_poll = in_curl_poll_;
  }
  if (in_curl_poll)
    curl_multi_wakeup(multi_.get());
  else
    woken_.notify_one();
}

}  // namespace crawl
