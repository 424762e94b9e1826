// Which links of a page the crawl follows. Used by the consumers, on their threads: const, and the
// regexes are compiled once.
#pragma once

#include <regex>
#include <string>
#include <vector>

#include "crawler/frontier/options.hpp"

namespace crawl {

class LinkFilter {
 public:
  explicit LinkFilter(const FollowOptions& options);  // throws UsageError for a bad regex
  // Resolves each href against the page (and its <base href>), keeps http(s) URLs within scope of
  // `seed_host` and the include/exclude patterns. Normalised, fragments dropped, duplicates removed.
  std::vector<std::string> follow(const std::string& page_url, const std::string& base_href,
                                  const std::vector<std::string>& hrefs, const std::string& seed_host) const;
  // Every http(s) link of the page, resolved (for --store-links).
  static std::vector<std::string> resolve_all(const std::string& page_url, const std::string& base_href,
                                              const std::vector<std::string>& hrefs);
  // Whether a URL (a seed) passes --include/--exclude.
  bool wanted(const std::string& url) const;

 private:
  Scope scope_;
  std::vector<std::regex> include_, exclude_;
};

}  // namespace crawl
