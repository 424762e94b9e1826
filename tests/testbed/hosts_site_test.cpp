// The multi-host site as pure functions: host names, per-host link graphs, robots.txt, throttles.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <set>

#include "testbed/site.hpp"

namespace crawl::testbed {
namespace {

using std::chrono::milliseconds;

constexpr uint16_t kPort = 8123;

HostId h(uint64_t site) {
  return HostId{.site = site};
}

HostId w(uint64_t sub, uint64_t site) {
  return HostId{.site = site, .sub = sub};
}

// The value of every `attribute="..."` inside tags named `tag` ("<a ", "<base "), in order.
std::vector<std::string> attributes(const std::string& html, std::string_view tag,
                                    std::string_view attribute) {
  std::vector<std::string> out;
  const std::string needle = std::string(tag) + std::string(attribute) + "=\"";
  for (size_t at = html.find(needle); at != std::string::npos; at = html.find(needle, at + 1)) {
    const size_t start = at + needle.size();
    out.push_back(html.substr(start, html.find('"', start) - start));
  }
  return out;
}

// Removes "." and ".." segments as RFC 3986 section 5.2.4 does.
std::string remove_dot_segments(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string segment = path.substr(start, end - start);
    const bool last = end == path.size();
    if (segment == "..") {
      if (!out.empty()) out.pop_back();
      if (last) out.push_back("");
    } else if (segment == ".") {
      if (last) out.push_back("");
    } else {
      out.push_back(segment);
    }
    start = end + 1;
  }
  std::string result;
  for (const auto& segment : out) result += "/" + segment;
  return result.empty() ? "/" : result;
}

// What a crawler makes of `href` in a document whose base URL is `base` (absolute, http): the
// absolute URL with its host lowercased and without fragment; nullopt for other schemes.
std::optional<std::string> resolve(const std::string& base, std::string href) {
  href = href.substr(0, href.find('#'));
  const size_t colon = href.find(':');
  if (colon != std::string::npos && colon < href.find('/')) {
    if (!href.starts_with("http:")) return std::nullopt;
  } else if (href.starts_with("//")) {
    href = "http:" + href;
  } else {
    const size_t authority_end = base.find('/', 7);
    const std::string origin = base.substr(0, authority_end);
    const std::string base_path = base.substr(authority_end);
    if (href.empty()) {
      href = base;
    } else if (href.starts_with("/")) {
      href = origin + remove_dot_segments(href);
    } else {
      href = origin + remove_dot_segments(base_path.substr(0, base_path.rfind('/') + 1) + href);
    }
  }
  const size_t authority_end = href.find('/', 7);
  std::transform(href.begin(), href.begin() + static_cast<std::ptrdiff_t>(authority_end), href.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  return href;
}

// The links of a served page as a crawler finds them: every href resolved against the page's URL
// or its <base>, distinct, in document order, without the page itself.
std::vector<std::string> crawler_view(const HostId& host, uint64_t n, const SiteOptions& site,
                                      uint16_t port) {
  const std::string html = host_page_html(host, n, site, port);
  const std::string url = host_url(host, port, "/page/" + std::to_string(n));
  std::string base = url;
  if (const auto bases = attributes(html, "<base ", "href"); !bases.empty()) base = *resolve(url, bases[0]);
  std::vector<std::string> links;
  for (const std::string& href : attributes(html, "<a ", "href")) {
    const auto target = resolve(base, href);
    if (!target || *target == url || std::find(links.begin(), links.end(), *target) != links.end()) continue;
    links.push_back(*target);
  }
  return links;
}

TEST(TestbedHostsSite, ParsesHostNames) {
  const SiteOptions site{.hosts = 100};
  EXPECT_EQ(parse_host("h3.localhost", site), h(3));
  EXPECT_EQ(parse_host("h3.localhost:8080", site), h(3));
  EXPECT_EQ(parse_host("H3.LocalHost:8080", site), h(3));
  EXPECT_EQ(parse_host("h3.localhost.", site), h(3));
  EXPECT_EQ(parse_host("h0.localhost", site), h(0));
  EXPECT_EQ(parse_host("h99.localhost", site), h(99));
  EXPECT_EQ(parse_host("w1.h3.localhost:1", site), w(1, 3));
  EXPECT_EQ(parse_host("w0.h99.localhost", site), w(0, 99));
  for (std::string_view other :
       {"127.0.0.1:8080", "127.0.0.1", "localhost", "localhost:80", "h100.localhost", "h03.localhost",
        "w2.h3.localhost", "x.h3.localhost", "a.w1.h3.localhost", "h3.example", "h3.localhost.com",
        "[::1]:80", "", "h.localhost", "hx.localhost", "h-1.localhost", "w01.h3.localhost", ".localhost"})
    EXPECT_EQ(parse_host(other, site), std::nullopt) << other;
  EXPECT_EQ(parse_host("h150.localhost", {.hosts = 200}), h(150));

  EXPECT_EQ(host_header_port("h3.localhost:8080"), 8080);
  EXPECT_EQ(host_header_port("h3.localhost"), 0);
  EXPECT_EQ(host_header_port("[::1]:99"), 99);
  EXPECT_EQ(host_header_port("[::1]"), 0);
  EXPECT_EQ(host_header_port("h3.localhost:99999"), 0);

  EXPECT_EQ(host_name(h(3)), "h3.localhost");
  EXPECT_EQ(host_name(w(1, 3)), "w1.h3.localhost");
  EXPECT_EQ(host_url(h(3), 80, "/page/1"), "http://h3.localhost:80/page/1");
  EXPECT_EQ(host_url(w(0, 12), 0, "/"), "http://w0.h12.localhost/");
  for (const HostId& host : {h(0), h(42), w(0, 7), w(1, 99)})
    EXPECT_EQ(parse_host(host_name(host), site), host);
}

TEST(TestbedHostsSite, HostPagesHaveExactlyTheirSize) {
  const SiteOptions site;
  std::set<size_t> sizes;
  for (const HostId& host : {h(0), h(1), h(57), w(0, 3), w(1, 99)}) {
    for (uint64_t n = 0; n < site.host_pages; ++n) {
      const std::string html = host_page_html(host, n, site, kPort);
      ASSERT_EQ(html.size(), host_page_bytes(host, n)) << host_name(host) << " page " << n;
      ASSERT_TRUE(html.ends_with("</html>\n"));
      ASSERT_NE(html.find("<title>" + host_page_title(host, n) + "</title>"), std::string::npos);
      sizes.insert(html.size());
    }
  }
  EXPECT_GT(sizes.size(), 100u);  // sizes differ from page to page and host to host
  // The longest names and numbers still fit under the smallest page size.
  const SiteOptions largest{.hosts = kMaxHosts, .host_pages = kMaxHostPages};
  for (uint64_t n = kMaxHostPages - 50; n < kMaxHostPages; ++n) {
    for (const HostId& host : {h(kMaxHosts - 1), w(kSubdomains - 1, kMaxHosts - 1)})
      ASSERT_EQ(host_page_html(host, n, largest, 65535).size(), host_page_bytes(host, n)) << n;
  }
  EXPECT_EQ(host_page_title(w(1, 3), 7), "Page 7 on w1.h3.localhost");
}

TEST(TestbedHostsSite, LinkGraphIsDeterministicAndDiffersBetweenHosts) {
  const SiteOptions site;
  for (uint64_t n : {0, 1, 5, 42}) {
    EXPECT_EQ(host_page_links(h(3), n, site, kPort), host_page_links(h(3), n, site, kPort));
    EXPECT_EQ(host_page_html(h(3), n, site, kPort), host_page_html(h(3), n, site, kPort));
    EXPECT_EQ(host_page_links(3, n, site, kPort), host_page_links(h(3), n, site, kPort));
  }
  size_t differing = 0;
  for (uint64_t n = 0; n < 50; ++n) {
    std::vector<std::string> paths3, paths4;
    for (const Link& link : host_page_link_targets(h(3), n, site))
      if (link.host == h(3)) paths3.push_back(link.path);
    for (const Link& link : host_page_link_targets(h(4), n, site))
      if (link.host == h(4)) paths4.push_back(link.path);
    differing += paths3 != paths4;
  }
  EXPECT_GT(differing, 40u);
}

TEST(TestbedHostsSite, ServedHtmlLeadsExactlyWhereHostPageLinksSays) {
  // Resolving every href of the HTML (base, relative, protocol-relative, fragments, capitals) gives
  // the list host_page_links() promises, for every page of several hosts.
  const SiteOptions site;
  for (const HostId& host : {h(0), h(3), h(9), w(0, 3), w(1, 12)}) {
    for (uint64_t n = 0; n < site.host_pages; ++n)
      ASSERT_EQ(crawler_view(host, n, site, kPort), host_page_links(host, n, site, kPort))
          << host_name(host) << " page " << n;
  }
  // Without a port in the Host header, links carry none.
  EXPECT_EQ(crawler_view(h(5), 10, site, 0), host_page_links(h(5), 10, site, 0));
  EXPECT_EQ(host_page_links(h(5), 10, site, 0)[0].find(":8"), std::string::npos);
}

TEST(TestbedHostsSite, PagesUseEveryHrefFormAndLinksCrawlersMustIgnore) {
  const SiteOptions site;
  std::set<std::string> forms;
  size_t bases = 0;
  for (uint64_t n = 0; n < site.host_pages; ++n) {
    const std::string html = host_page_html(h(3), n, site, kPort);
    const auto hrefs = attributes(html, "<a ", "href");
    const bool has_base = !attributes(html, "<base ", "href").empty();
    EXPECT_EQ(has_base, n % 4 == 1) << n;
    bases += has_base;
    const std::string top = has_base ? "../" + std::to_string(n) + "#top" : "#top";
    EXPECT_NE(std::find(hrefs.begin(), hrefs.end(), top), hrefs.end()) << n;
    EXPECT_NE(std::find(hrefs.begin(), hrefs.end(), "mailto:webmaster@h3.localhost"), hrefs.end()) << n;
    EXPECT_NE(std::find(hrefs.begin(), hrefs.end(), "javascript:void(0)"), hrefs.end()) << n;
    EXPECT_TRUE(
        std::any_of(hrefs.begin(), hrefs.end(), [](const auto& s) { return s.ends_with("#part-2"); }));
    for (const std::string& href : hrefs) {
      // The upper-cased host names (H3.LOCALHOST) that URL normalisation must fold.
      if (href.starts_with("http://") && std::isupper(static_cast<unsigned char>(href[7])))
        forms.insert("capitals");
      else if (href.starts_with("http://"))
        forms.insert("absolute");
      else if (href.starts_with("//"))
        forms.insert("protocol-relative");
      else if (href.starts_with("/"))
        forms.insert("root-relative");
      else if (href.starts_with("../"))
        forms.insert("dot-dot");
      else if (!href.empty() && std::isdigit(static_cast<unsigned char>(href[0])))
        forms.insert("relative");
    }
  }
  EXPECT_EQ(bases, 25u);
  EXPECT_EQ(forms, (std::set<std::string>{"absolute", "capitals", "protocol-relative", "root-relative",
                                          "dot-dot", "relative"}));
}

TEST(TestbedHostsSite, LinksToOtherHostsAppearWhereDocumented) {
  const SiteOptions site;
  for (uint64_t k : {0, 5, 99}) {
    for (uint64_t n = 0; n < site.host_pages; ++n) {
      const auto links = host_page_link_targets(h(k), n, site);
      std::vector<Link> same, other_sites, subdomains;
      for (const Link& link : links) {
        if (link.host == h(k))
          same.push_back(link);
        else if (link.host.site == k)
          subdomains.push_back(link);
        else
          other_sites.push_back(link);
      }
      ASSERT_FALSE(same.empty());
      EXPECT_EQ(same[0].path, "/page/" + std::to_string((n + 1) % site.host_pages));
      const size_t pages = static_cast<size_t>(std::count_if(
          same.begin(), same.end(), [](const Link& l) { return l.path.starts_with("/page/"); }));
      EXPECT_GE(pages, 3u);
      EXPECT_LE(pages, 7u);
      const Link next_site{h((k + 1) % site.hosts), "/page/0"};
      if (n % 10 == 0) {
        ASSERT_EQ(other_sites.size(), 1u) << k << '/' << n;
        EXPECT_EQ(other_sites[0], next_site);
      } else if (n % 10 == 5) {
        ASSERT_EQ(other_sites.size(), 1u) << k << '/' << n;
        EXPECT_NE(other_sites[0].host.site, k);
        EXPECT_FALSE(other_sites[0].host.sub);
      } else {
        EXPECT_TRUE(other_sites.empty()) << k << '/' << n;
      }
      if (n % 10 == 3) {
        ASSERT_EQ(subdomains.size(), 1u);
        EXPECT_EQ(subdomains[0], (Link{w((n / 10) % kSubdomains, k), "/page/" + std::to_string(n)}));
      } else {
        EXPECT_TRUE(subdomains.empty());
      }
      const Link private_page{h(k), "/private/" + std::to_string(n)};
      EXPECT_EQ(std::count(links.begin(), links.end(), private_page), n % 10 == 7 ? 1 : 0);
    }
  }
  // Subdomains link back to their site's page 0 and nowhere else outside themselves.
  for (uint64_t n = 0; n < site.host_pages; ++n) {
    for (const Link& link : host_page_link_targets(w(1, 4), n, site)) {
      if (link.host == w(1, 4)) continue;
      EXPECT_EQ(n % 10, 0u);
      EXPECT_EQ(link, (Link{h(4), "/page/0"}));
    }
  }
  // One host: no links to others.
  for (const Link& link : host_page_link_targets(h(0), 0, {.hosts = 1})) EXPECT_EQ(link.host.site, 0u);
}

TEST(TestbedHostsSite, EveryHostIsReachableFromHostZeroPageZero) {
  const SiteOptions site;
  const auto walk = host_walk(h(0), 0, INT_MAX, Scope::kAny, "", site, kPort);
  for (uint64_t k = 0; k < site.hosts; ++k) {
    for (const HostId& host : {h(k), w(0, k), w(1, k)}) {
      for (uint64_t n = 0; n < site.host_pages; ++n)
        ASSERT_TRUE(walk.contains(host_url(host, kPort, "/page/" + std::to_string(n))))
            << host_name(host) << " page " << n;
    }
  }
  // Every page, plus /private/N for N % 10 == 7 on every host that links to it.
  const size_t pages = site.hosts * (1 + kSubdomains) * site.host_pages;
  EXPECT_EQ(walk.size(), pages + site.hosts * (1 + kSubdomains) * (site.host_pages / 10));
  EXPECT_EQ(walk.at(host_url(h(0), kPort, "/page/0")), 0);
  EXPECT_EQ(walk.at(host_url(h(1), kPort, "/page/0")), 1);
}

TEST(TestbedHostsSite, WalksKeepToTheirScopeAndDepth) {
  const SiteOptions site;
  const auto only_seed = host_walk(h(5), 0, 0, Scope::kAny, "", site, kPort);
  EXPECT_EQ(only_seed, (std::map<std::string, int>{{host_url(h(5), kPort, "/page/0"), 0}}));

  const auto one_hop = host_walk(h(5), 0, 1, Scope::kAny, "", site, kPort);
  EXPECT_EQ(one_hop.size(), 1 + host_page_links(h(5), 0, site, kPort).size());
  for (const std::string& url : host_page_links(h(5), 0, site, kPort)) EXPECT_EQ(one_hop.at(url), 1);

  const auto host = host_walk(h(5), 0, INT_MAX, Scope::kHost, "", site, kPort);
  EXPECT_EQ(host.size(), site.host_pages + site.host_pages / 10);
  for (const auto& [url, depth] : host) EXPECT_TRUE(url.starts_with("http://h5.localhost:8123/")) << url;

  const auto domain = host_walk(h(5), 0, INT_MAX, Scope::kDomain, "", site, kPort);
  EXPECT_EQ(domain.size(), (1 + kSubdomains) * (site.host_pages + site.host_pages / 10));
  for (const auto& [url, depth] : domain)
    EXPECT_TRUE(url.substr(0, url.find(":8123")).ends_with("h5.localhost")) << url;

  // Depth 3 stays small with the default 100 pages per host.
  const auto three = host_walk(h(0), 0, 3, Scope::kAny, "", site, kPort);
  EXPECT_GT(three.size(), 50u);
  EXPECT_LT(three.size(), 1000u);
  for (const auto& [url, depth] : three) EXPECT_LE(depth, 3);
}

TEST(TestbedHostsSite, RobotsPerHostFollowTheTable) {
  const SiteOptions site;
  auto robots = [&](const HostId& host) {
    return describe("/robots.txt", site, {.host = host, .port = kPort});
  };
  EXPECT_EQ(robots(h(0)).body, "User-agent: *\nDisallow: /private/\n");
  EXPECT_EQ(robots(h(0)).content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(
      robots(h(1)).body,
      "User-agent: *\nDisallow: /private/\n\nUser-agent: crawl\nDisallow: /private/\nDisallow: /page/1*\n");
  EXPECT_EQ(robots(h(2)).body, "User-agent: *\nDisallow: /private/\nCrawl-delay: 0.2\n");
  EXPECT_EQ(robots(h(10)).body,
            "User-agent: *\nDisallow: /private/\nCrawl-delay: 0.2\n\nUser-agent: crawl\nDisallow: /private/\n"
            "Disallow: /page/1*\nCrawl-delay: 0.2\n");
  EXPECT_EQ(robots(h(7)).status, 404);
  EXPECT_EQ(robots(h(17)).status, 404);
  EXPECT_EQ(robots(h(8)).status, 503);
  EXPECT_EQ(robots(h(9)).kind, Behaviour::kHang);
  EXPECT_EQ(robots(h(19)).status, 200);
  EXPECT_EQ(robots(w(0, 7)).body, "User-agent: *\nDisallow: /private/\n");
  EXPECT_EQ(robots(w(1, 9)).status, 200);
  EXPECT_EQ(describe("/robots.txt", site).body, "User-agent: *\nDisallow: /private/\n");
  EXPECT_EQ(host_robots_kind(h(kHangingRobotsSite)), RobotsKind::kHang);

  EXPECT_FALSE(robots_allows(h(0), "/private/7", "crawl"));
  EXPECT_TRUE(robots_allows(h(0), "/page/1", "crawl"));
  EXPECT_FALSE(robots_allows(h(1), "/page/1", "crawl"));
  EXPECT_FALSE(robots_allows(h(1), "/page/15", "Crawl"));
  EXPECT_TRUE(robots_allows(h(1), "/page/2", "crawl"));
  EXPECT_TRUE(robots_allows(h(1), "/page/1", "otherbot"));
  EXPECT_FALSE(robots_allows(h(1), "/private/1", "otherbot"));
  EXPECT_TRUE(robots_allows(h(7), "/private/7", "crawl"));  // 404: everything
  EXPECT_FALSE(robots_allows(h(8), "/page/0", "crawl"));    // 503: nothing
  EXPECT_FALSE(robots_allows(h(9), "/page/0", "crawl"));    // no answer: nothing
  EXPECT_TRUE(robots_allows(h(8), "/robots.txt", "crawl"));
  EXPECT_FALSE(robots_allows(w(0, 7), "/private/3", "crawl"));
  EXPECT_TRUE(robots_allows(w(0, 1), "/page/1", "crawl"));

  EXPECT_EQ(robots_crawl_delay(h(2), "crawl"), milliseconds(200));
  EXPECT_EQ(robots_crawl_delay(h(10), "other"), milliseconds(200));
  EXPECT_EQ(robots_crawl_delay(h(0), "crawl"), milliseconds(0));
  EXPECT_EQ(robots_crawl_delay(h(18), "crawl"), milliseconds(0));  // 503
  EXPECT_EQ(robots_crawl_delay(w(0, 2), "crawl"), milliseconds(0));
}

TEST(TestbedHostsSite, WalksObeyRobots) {
  const SiteOptions site;
  const auto walk = host_walk(h(1), 0, INT_MAX, Scope::kHost, "crawl", site, kPort);
  // Pages 1, 10-19 and every /private/ page are out; nothing behind them only is reached.
  EXPECT_FALSE(walk.empty());
  for (const auto& [url, depth] : walk) {
    const std::string path = url.substr(url.find('/', 7));
    EXPECT_FALSE(path.starts_with("/private/")) << url;
    EXPECT_FALSE(path.starts_with("/page/1")) << url;
  }
  EXPECT_TRUE(host_walk(h(8), 0, 3, Scope::kAny, "crawl", site, kPort).empty());
  EXPECT_EQ(host_walk(h(7), 0, INT_MAX, Scope::kHost, "crawl", site, kPort).size(),
            site.host_pages + site.host_pages / 10);
  EXPECT_EQ(host_walk(h(0), 0, INT_MAX, Scope::kHost, "crawl", site, kPort).size(), site.host_pages);
}

TEST(TestbedHostsSite, NamedHostsServeTheirOwnPagesAndEverythingElseAsUsual) {
  const SiteOptions site;
  const Origin h3{.host = h(3), .port = kPort};
  const Response page = describe("/page/5", site, h3);
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.body, host_page_html(h(3), 5, site, kPort));
  EXPECT_EQ(page.title, "Page 5 on h3.localhost");
  EXPECT_EQ(page.route, "page");
  EXPECT_EQ(describe("/page/100", site, h3).status, 404);
  EXPECT_EQ(describe("/page/100", site).status, 200);
  EXPECT_EQ(describe("/delay/10/page/5", site, h3).body, page.body);
  EXPECT_EQ(describe("/status/418", site, h3).status, 418);
  EXPECT_EQ(describe("/text/5", site, h3).body, describe("/text/5", site).body);

  const Response private_page = describe("/private/7", site, h3);
  EXPECT_EQ(private_page.status, 200);
  EXPECT_EQ(private_page.title, "Private 7");
  EXPECT_EQ(private_page.route, "private");
  EXPECT_EQ(describe("/private/100", site, h3).status, 404);
  // The default site has no /private/, as before hosts existed.
  EXPECT_EQ(describe("/private/7", site).status, 404);
  EXPECT_EQ(describe("/private/7", site).route, "other");
}

TEST(TestbedHostsSite, ThrottlePrefixes) {
  const SiteOptions site;
  const Response plain = describe("/ratelimit/2/page/1", site);
  EXPECT_EQ(plain.throttle.status, 429);
  EXPECT_EQ(plain.throttle.times, 2u);
  EXPECT_EQ(plain.throttle.retry_after, RetryAfter::kNone);
  EXPECT_EQ(plain.body, page_html(1, site));
  EXPECT_EQ(plain.route, "ratelimit");

  const Response after = describe("/unavailable-after/1/30/status/204", site);
  EXPECT_EQ(after.throttle.status, 503);
  EXPECT_EQ(after.throttle.retry_after, RetryAfter::kSeconds);
  EXPECT_EQ(after.throttle.seconds, 30u);
  EXPECT_EQ(after.status, 204);

  const Response date = describe("/delay/20/ratelimit-date/3/5/page/2?x", site);
  EXPECT_EQ(date.throttle.retry_after, RetryAfter::kDate);
  EXPECT_EQ(date.throttle.times, 3u);
  EXPECT_EQ(date.delay, milliseconds(20));
  EXPECT_EQ(date.route, "delay");
  EXPECT_EQ(describe("/ratelimit/0/page/1", site).throttle.status, 0);  // never throttled
  EXPECT_EQ(describe("/page/1", site).throttle.status, 0);

  for (std::string_view bad :
       {"/ratelimit/2", "/ratelimit/x/page/1", "/ratelimit/2/ratelimit/1/page/1", "/ratelimit-after/1/page/1",
        "/ratelimit-after/1/86401/page/1", "/ratelimit-soon/1/page/1", "/unavailable/01/page/1"})
    EXPECT_EQ(describe(bad, site).status, 404) << bad;

  using std::chrono::system_clock;
  const auto now = system_clock::time_point(std::chrono::seconds(784111777)) + milliseconds(250);
  EXPECT_EQ(http_date(now), "Sun, 06 Nov 1994 08:49:37 GMT");
  const Response limited = throttled(describe("/ratelimit-date/1/5/page/1", site), now);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.title, "Too Many Requests");
  EXPECT_EQ(limited.retry_after, "Sun, 06 Nov 1994 08:49:43 GMT");  // rounded up, then 5 s later
  EXPECT_EQ(throttled(after, now).retry_after, "30");
  EXPECT_EQ(throttled(after, now).title, "Service Unavailable");
  EXPECT_EQ(throttled(plain, now).retry_after, "");
}

}  // namespace
}  // namespace crawl::testbed
