// robots.txt for each host, fetched with the same Transfer as pages (its safety defaults, trust
// store, decoding and limits) on a CURLM of the frontier's own, and read as RFC 9309 says. The
// frontier sleeps in poll(), so these transfers move while it waits for work. Single-threaded,
// except wake().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crawler/fetch.hpp"
#include "crawler/frontier/time_source.hpp"
#include "urls/robots.hpp"

namespace crawl {

// RFC 9309 2.5: at least 500 KiB of a robots.txt must be parsed; more is ignored.
inline constexpr int64_t kMaxRobotsBytes = 512 * 1024;

// The rules a robots.txt fetch that ended with `page` gives (RFC 9309 2.3.1): its body's when it
// arrived (2xx); none when it is unavailable (4xx, or redirects without end); everything
// disallowed when the server is in trouble or unreachable (5xx, no connection, a timeout).
urls::Robots robots_from(const Page& page, std::string_view user_agent);

// The User-Agent requests go out with: the last "User-Agent:" among `headers` (--header), else
// `fallback`.
std::string user_agent_sent(const std::vector<std::string>& headers, std::string_view fallback);

class RobotsFetcher {
 public:
  struct Known {
    std::string origin;
    urls::Robots robots;
    TimePoint sent_at;  // when its request went out (when it was begun, if it never did)
  };

  // `stop` ends the transfers under way. robots.txt groups are matched against the User-Agent the
  // requests carry: a --header User-Agent when one is given, else options.user_agent.
  RobotsFetcher(const FetchOptions& options, const std::atomic<bool>& stop, const TimeSource& time);
  ~RobotsFetcher();
  RobotsFetcher(const RobotsFetcher&) = delete;
  RobotsFetcher& operator=(const RobotsFetcher&) = delete;

  // Begins GET origin/robots.txt.
  void fetch(const std::string& origin);
  // Sleeps until a transfer moves, wake() is called or `timeout` has passed; moves the transfers;
  // returns the robots.txt that arrived.
  std::vector<Known> poll(std::chrono::milliseconds timeout);
  // Ends a poll() under way at once, or makes the next return at once (any thread).
  void wake();

 private:
  struct Fetch;
  FetchOptions options_;
  std::string user_agent_;
  const std::atomic<bool>& stop_;
  const TimeSource& time_;
  curl::MultiHandle multi_;
  std::unordered_map<CURL*, std::unique_ptr<Fetch>> fetches_;
  // With no transfer under way (nearly all of a crawl), poll() sleeps on `woken_` rather than in
  // curl_multi_poll: waking it is then one futex call, not a write to libcurl's socket pair and a
  // poll and a read on the other side. A link-following crawl wakes the frontier about once a page.
  std::mutex wake_mutex_;
  std::condition_variable woken_;
  bool wake_pending_ = false;  // under wake_mutex_: wake() was called since poll() last returned
  bool in_curl_poll_ = false;  // under wake_mutex_: poll() sleeps in curl_multi_poll
};

}  // namespace crawl
