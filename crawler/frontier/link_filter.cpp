#include "crawler/frontier/link_filter.hpp"

#include <unordered_set>

#include "common/usage_error.hpp"
#include "urls/domain.hpp"
#include "urls/url.hpp"

namespace crawl {

LinkFilter::LinkFilter(const FollowOptions& options) : scope_(options.scope) {
  auto compile = [](const std::vector<std::string>& patterns, const char* flag) {
    std::vector<std::regex> out;
    for (const auto& p : patterns) {
      try {
        out.emplace_back(p, std::regex::ECMAScript | std::regex::optimize);
      } catch (const std::regex_error& e) {
        throw UsageError(std::string(flag) + " '" + p + "' is not a valid regular expression (" + e.what() +
                         ")");
      }
    }
    return out;
  };
  include_ = compile(options.include, "--include");
  exclude_ = compile(options.exclude, "--exclude");
}

bool LinkFilter::wanted(const std::string& url) const {
  for (const auto& r : exclude_)
    if (std::regex_search(url, r)) return false;
  if (include_.empty()) return true;
  for (const auto& r : include_)
    if (std::regex_search(url, r)) return true;
  return false;
}

std::vector<std::string> LinkFilter::resolve_all(const std::string& page_url, const std::string& base_href,
                                                 const std::vector<std::string>& hrefs) {
  std::string base = page_url;
  if (!base_href.empty()) {
    auto b = urls::resolve(page_url, base_href);
    if (b.ok()) base = std::move(b.url);
  }
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (const auto& href : hrefs) {
    auto link = urls::resolve(base, href);  // other schemes (mailto:, javascript:) fail here
    if (link.ok() && seen.insert(link.url).second) out.push_back(std::move(link.url));
  }
  return out;
}

std::vector<std::string> LinkFilter::follow(const std::string& page_url, const std::string& base_href,
                                            const std::vector<std::string>& hrefs,
                                            const std::string& seed_host) const {
  std::vector<std::string> out;
  const std::string seed_domain = scope_ == Scope::domain ? urls::registrable_domain(seed_host) : "";
  for (auto& url : resolve_all(page_url, base_href, hrefs)) {
    if (scope_ == Scope::host && urls::host_of(url) != seed_host) continue;
    if (scope_ == Scope::domain && urls::registrable_domain(urls::host_of(url)) != seed_domain) continue;
    if (!wanted(url)) continue;
    out.push_back(std::move(url));
  }
  return out;
}

}  // namespace crawl
