// robots.txt (RFC 9309): parsing a file into the rules for one crawler, and asking them about paths.
// Pure code, no I/O: the crawler fetches /robots.txt once per host and keeps the parsed Robots.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace crawl::urls {

struct RobotsRules;  // defined in robots.cpp; never changed after parsing

// The rules of one robots.txt that apply to one crawler. Immutable once made, and every method is
// const, so one Robots may be asked from many threads at once; copies share the parsed rules.
class Robots {
 public:
  // RFC 9309 2.5: at least 500 KiB must be parsed; what follows is ignored, and so is the line the
  // limit cuts through (a cut "Allow: /private/public" would allow all of /pri...).
  static constexpr size_t kMaxParsedBytes = 500 * 1024;
  // Rules kept per group kind (specific, `*`), so a hostile file cannot make matching slow or big.
  static constexpr size_t kMaxRules = 10'000;
  // Crawl-delay is not in RFC 9309; a site asking for more than this gets this.
  static constexpr std::chrono::milliseconds kMaxCrawlDelay{60'000};

  // Parses robots.txt `text` and keeps what applies to `user_agent`, the crawler's whole User-Agent
  // ("crawl/0.1.0"). Its product token, the part before the first '/' or space, is compared
  // case-insensitively with each user-agent line; every matching group is merged (2.2.1). With no
  // matching group the `*` groups apply, and with neither, everything is allowed. Never fails: what
  // cannot be understood is ignored.
  static Robots parse(std::string_view text, std::string_view user_agent);
  // For a robots.txt answered with 4xx (RFC 9309 2.3.1.3).
  static Robots allow_all();
  // For a robots.txt answered with 5xx or unreachable (2.3.1.4). `why` (e.g. "HTTP 503") is shown
  // in the rule's text, which every row it disallows quotes.
  static Robots disallow_all(std::string_view why = {});

  // `path_and_query`: the URL's path plus "?query" if any, as it appears in the URL
  // (percent-encoded). The longest matching rule decides, allow winning a tie (2.2.2).
  bool allowed(std::string_view path_and_query) const;
  // Not in RFC 9309: the first valid crawl-delay line of the groups used that comes after a
  // user-agent line naming us (or `*`), capped at kMaxCrawlDelay; none if there is no such line.
  std::optional<std::chrono::milliseconds> crawl_delay() const;
  // The rule that decides `path_and_query`, as written ("Disallow: /private/"), for error
  // messages; "" when no rule matches (the path is allowed).
  std::string matching_rule(std::string_view path_and_query) const;

 private:
  explicit Robots(std::shared_ptr<const RobotsRules> rules) : rules_(std::move(rules)) {}
  std::shared_ptr<const RobotsRules> rules_;
};

}  // namespace crawl::urls
