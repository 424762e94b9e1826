// registrable_domain is a pure string function: no name here is ever resolved.
#include "urls/domain.hpp"

#include <gtest/gtest.h>

namespace crawl::urls {
namespace {

TEST(RegistrableDomain, KeepsOneLabelBelowAMultiLabelCountrySuffix) {
  EXPECT_EQ(registrable_domain("a.b.example.co.uk"), "example.co.uk");
  EXPECT_EQ(registrable_domain("c.example.co.uk"), "example.co.uk");
  EXPECT_EQ(registrable_domain("example.co.uk"), "example.co.uk");
  EXPECT_NE(registrable_domain("example.co.uk"), registrable_domain("other.co.uk"));
  EXPECT_EQ(registrable_domain("www.example.com.au"), "example.com.au");
}

TEST(RegistrableDomain, FollowsTheListNotTheShapeOfTheName) {
  // Two-letter second-level labels that are not public suffixes ("ab.cd.fr"), and public suffixes
  // that no two-or-three-label rule guesses ("kyoto.jp" has city.kyoto.jp below it).
  EXPECT_EQ(registrable_domain("x.ab.fr"), "ab.fr");
  EXPECT_EQ(registrable_domain("www.city.kyoto.jp"), "city.kyoto.jp");
  EXPECT_EQ(registrable_domain("www.example.com"), "example.com");
}

TEST(RegistrableDomain, PrivateSuffixesSeparateTheirUsers) {
  EXPECT_EQ(registrable_domain("alice.github.io"), "alice.github.io");
  EXPECT_EQ(registrable_domain("docs.alice.github.io"), "alice.github.io");
  EXPECT_NE(registrable_domain("alice.github.io"), registrable_domain("bob.github.io"));
}

TEST(RegistrableDomain, AHostThatIsAPublicSuffixIsItsOwnDomain) {
  EXPECT_EQ(registrable_domain("co.uk"), "co.uk");
  EXPECT_EQ(registrable_domain("github.io"), "github.io");
  EXPECT_EQ(registrable_domain("uk"), "uk");
  EXPECT_EQ(registrable_domain("intranet"), "intranet");
  EXPECT_EQ(registrable_domain(""), "");
}

TEST(RegistrableDomain, AnIpLiteralIsItsOwnDomain) {
  EXPECT_EQ(registrable_domain("127.0.0.1"), "127.0.0.1");
  EXPECT_NE(registrable_domain("127.0.0.1"), registrable_domain("10.0.0.1"));
  EXPECT_NE(registrable_domain("127.0.0.1"), registrable_domain("127.0.1.1"));
  EXPECT_EQ(registrable_domain("[::1]"), "[::1]");
  EXPECT_NE(registrable_domain("[::1]"), registrable_domain("[::2]"));
}

TEST(RegistrableDomain, LocalhostIsATopLevelSuffix) {
  EXPECT_EQ(registrable_domain("localhost"), "localhost");
  EXPECT_EQ(registrable_domain("h3.localhost"), "h3.localhost");
  EXPECT_EQ(registrable_domain("w0.h3.localhost"), "h3.localhost");
  EXPECT_EQ(registrable_domain("a.w0.h3.localhost"), "h3.localhost");
  EXPECT_NE(registrable_domain("h3.localhost"), registrable_domain("h4.localhost"));
  EXPECT_NE(registrable_domain("h3.localhost"), registrable_domain("localhost"));
}

TEST(RegistrableDomain, NamesUnderAnUnlistedSuffixKeepTheirLastTwoLabels) {
  EXPECT_EQ(registrable_domain("a.site.test"), "site.test");
  EXPECT_EQ(registrable_domain("site.test"), "site.test");
}

}  // namespace
}  // namespace crawl::urls
