// LinkFilter's scopes on resolved links; no name here is ever resolved.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crawler/frontier.hpp"
#include "urls/url.hpp"

namespace crawl {
namespace {

using Links = std::vector<std::string>;

// A page's links resolve against its first <base href>, itself resolved against the page; an empty
// href is the base itself (the page, when there is no base), never its directory.
TEST(LinkFilter, ResolvesEveryHrefAgainstThePageAndItsBase) {
  const std::string page = "http://site.localhost/dir/index.html";
  EXPECT_EQ(LinkFilter::resolve_all(page, "", {"", "#top", " index.html ", "http:index.html"}), Links{page});
  EXPECT_EQ(
      LinkFilter::resolve_all(page, "/b/c/d;p?q", {"", "g", "../g", "mailto:x@site.localhost"}),
      (Links{"http://site.localhost/b/c/d;p?q", "http://site.localhost/b/c/g", "http://site.localhost/b/g"}));
  EXPECT_EQ(LinkFilter::resolve_all(page, "http://other.localhost:81/x/", {"y", "//third.localhost/z"}),
            (Links{"http://other.localhost:81/x/y", "http://third.localhost/z"}));
  // A base that is no http(s) URL leaves the page as the base.
  EXPECT_EQ(LinkFilter::resolve_all(page, "javascript:void(0)", {"g"}), Links{"http://site.localhost/dir/g"});
}

// follow() keeps the links of the seed's host under --scope host, after the same resolution.
TEST(LinkFilter, FollowsResolvedLinksWithinScope) {
  const LinkFilter filter(FollowOptions{});
  EXPECT_EQ(
      filter.follow("http://site.localhost/dir/", "", {"", "a", "http:b", "//elsewhere.localhost/"},
                    "site.localhost"),
      (Links{"http://site.localhost/dir/", "http://site.localhost/dir/a", "http://site.localhost/dir/b"}));
}

std::vector<std::string> followed(Scope scope, const std::string& page,
                                  const std::vector<std::string>& hrefs) {
  const LinkFilter filter(FollowOptions{.scope = scope});
  return filter.follow(page, "", hrefs, urls::host_of(page));
}

TEST(LinkFilter, DomainScopeKeepsTheRegistrableDomainOfThePublicSuffixList) {
  // Names under the reserved .test domain, which libpsl's list gives its default rule: the
  // registrable domain is the label before it. (Suffixes of several labels, like co.uk, and private
  // suffixes, like github.io, whose users are separate sites, are DomainTest's, on host names alone:
  // no test names a host outside loopback and the reserved domains.)
  const std::vector<std::string> hrefs = {"http://c.example.test/1", "http://other.test/2",
                                          "http://example.test/3", "http://w.other.test/4"};
  EXPECT_EQ(followed(Scope::domain, "http://a.b.example.test/", hrefs),
            (std::vector<std::string>{"http://c.example.test/1", "http://example.test/3"}));
}

TEST(LinkFilter, DomainScopeKeepsAnAddressToItself) {
  const std::vector<std::string> hrefs = {"http://127.0.0.1:9/a", "http://127.0.1.1/b", "http://[::1]/c",
                                          "http://localhost/d"};
  EXPECT_EQ(followed(Scope::domain, "http://127.0.0.1/", hrefs),
            (std::vector<std::string>{"http://127.0.0.1:9/a"}));
}

TEST(LinkFilter, DomainScopeKeepsSubdomainsOfALocalhostSite) {
  const std::vector<std::string> hrefs = {"http://w0.h3.localhost/a", "http://h3.localhost/b",
                                          "http://h4.localhost/c", "http://localhost/d"};
  EXPECT_EQ(followed(Scope::domain, "http://w1.h3.localhost/", hrefs),
            (std::vector<std::string>{"http://w0.h3.localhost/a", "http://h3.localhost/b"}));
}

}  // namespace
}  // namespace crawl
