#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crawler/frontier.hpp"

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

}  // namespace
}  // namespace crawl
