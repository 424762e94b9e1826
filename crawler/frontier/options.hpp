// What a crawl follows and how politely: the settings the frontier's policies are made from.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace crawl {

enum class Scope { host, domain, any };

struct FollowOptions {
  int max_depth = 0;  // 0: fetch the list only
  Scope scope = Scope::host;
  std::vector<std::string> include;  // ECMAScript regexes searched in the normalised URL
  std::vector<std::string> exclude;
  int64_t max_pages = 0;  // URLs fetched in all (seeds included); 0: no limit
  bool depth_first = false;
  bool store_links = false;
};

struct PolitenessOptions {
  int per_host = -1;  // fetches in flight per host; 0 no cap; -1: 8 when following links, else none
  std::chrono::milliseconds delay{0};   // between the starts of two fetches to one host
  std::chrono::milliseconds jitter{0};  // up to this much added at random to each delay
  std::optional<bool> robots;           // unset: obeyed when following links only
  int retries = 2;                      // further attempts after a transient failure
  std::chrono::milliseconds max_retry_wait{60'000};
  std::chrono::milliseconds retry_base{500};  // first back-off; doubles with each attempt
};

}  // namespace crawl
