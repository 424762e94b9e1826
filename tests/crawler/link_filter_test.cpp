// LinkFilter's scopes on resolved links; no name here is ever resolved.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crawler/frontier.hpp"
#include "urls/url.hpp"

namespace crawl {
namespace {

std::vector<std::string> followed(Scope scope, const std::string& page,
                                  const std::vector<std::string>& hrefs) {
  const LinkFilter filter(FollowOptions{.scope = scope});
  return filter.follow(page, "", hrefs, urls::host_of(page));
}

TEST(LinkFilter, DomainScopeKeepsTheRegistrableDomainOfThePublicSuffixList) {
  const std::vector<std::string> hrefs = {"http://c.example.co.uk/1", "http://other.co.uk/2",
                                          "http://example.co.uk/3", "http://co.uk/4"};
  EXPECT_EQ(followed(Scope::domain, "http://a.b.example.co.uk/", hrefs),
            (std::vector<std::string>{"http://c.example.co.uk/1", "http://example.co.uk/3"}));
}

TEST(LinkFilter, DomainScopeSeparatesUsersOfAPrivateSuffix) {
  const std::vector<std::string> hrefs = {"https://bob.github.io/", "https://docs.alice.github.io/x",
                                          "https://github.io/"};
  EXPECT_EQ(followed(Scope::domain, "https://alice.github.io/", hrefs),
            (std::vector<std::string>{"https://docs.alice.github.io/x"}));
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
