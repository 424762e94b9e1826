#include "urls/url.hpp"

#include <gtest/gtest.h>

#include <string>

namespace crawl::urls {
namespace {

TEST(Normalise, LowercasesSchemeAndHostAndDropsDefaultPortAndFragment) {
  EXPECT_EQ(normalise("HTTP://Example.COM:80/A/b?q=1#frag").url, "http://example.com/A/b?q=1");
  EXPECT_EQ(normalise("https://example.com:443").url, "https://example.com/");
  EXPECT_EQ(normalise("https://example.com:8443/x").url, "https://example.com:8443/x");
}

TEST(Normalise, TakesSchemelessLinesAsHttp) {
  EXPECT_EQ(normalise("example.com/path").url, "http://example.com/path");
  EXPECT_EQ(normalise("localhost:8080/x").url, "http://localhost:8080/x");
}

TEST(Normalise, PercentEncodesSpacesInPath) {
  EXPECT_EQ(normalise("http://example.com/a b").url, "http://example.com/a%20b");
}

TEST(Normalise, RefusesOtherSchemesWithAMessageNamingThem) {
  auto r = normalise("ftp://example.com/file");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("ftp"), std::string::npos) << r.error;
  EXPECT_FALSE(normalise("mailto:someone@example.com").ok());
  EXPECT_FALSE(normalise("javascript:alert(1)").ok());
}

TEST(Normalise, RefusesGarbage) {
  EXPECT_FALSE(normalise("").ok());
  EXPECT_FALSE(normalise("http://").ok());
  EXPECT_FALSE(normalise("http://localhost host/").ok());
  EXPECT_FALSE(normalise("http://example.com:99999/").ok());
  EXPECT_FALSE(normalise(std::string("http://example.com/\x01")).ok());
  EXPECT_FALSE(normalise("http://example.com/" + std::string(9000, 'a')).ok());
}

TEST(Resolve, ResolvesRelativeReferencesAgainstTheBase) {
  EXPECT_EQ(resolve("http://example.com/a/b.html", "c.html").url, "http://example.com/a/c.html");
  EXPECT_EQ(resolve("http://example.com/a/b.html", "/x#y").url, "http://example.com/x");
  EXPECT_EQ(resolve("http://example.com/a/", "//Other.example.test/z").url, "http://other.example.test/z");
  EXPECT_EQ(resolve("http://example.com/a/", "../up").url, "http://example.com/up");
  EXPECT_FALSE(resolve("http://example.com/", "mailto:x@example.com").ok());
  // A fragment or a query alone keeps the base's path (RFC 3986 5.2.2; libcurl 7.88 drops its last
  // segment).
  EXPECT_EQ(resolve("http://example.com/page/0", "#top").url, "http://example.com/page/0");
  EXPECT_EQ(resolve("http://example.com/page/0?a=1#x", "#top").url, "http://example.com/page/0?a=1");
  EXPECT_EQ(resolve("http://example.com/page/0?a=1", "?b=2").url, "http://example.com/page/0?b=2");
}

TEST(HostOf, ExtractsTheHost) {
  EXPECT_EQ(host_of("http://example.com:8080/x"), "example.com");
  EXPECT_EQ(host_of("https://localhost@w1.h3.localhost/"), "w1.h3.localhost");  // user info is not the host
  EXPECT_EQ(host_of("http://[::1]:80/"), "[::1]");
  EXPECT_EQ(host_of("http://example.com"), "example.com");
}

TEST(SeenSet, RemembersEachUrlOnce) {
  SeenSet seen;
  EXPECT_TRUE(seen.insert("http://a.example.test/"));
  EXPECT_FALSE(seen.insert("http://a.example.test/"));
  EXPECT_TRUE(seen.insert("http://b.example.test/"));
  EXPECT_TRUE(seen.contains("http://a.example.test/"));
  EXPECT_FALSE(seen.contains("http://c.example.test/"));
  EXPECT_EQ(seen.size(), 2u);
}

TEST(SeenSet, StaysUnderTwentyFourBytesPerUrlAtAMillion) {
  SeenSet seen;
  const size_t n = 1'000'000;
  for (size_t i = 0; i < n; ++i) ASSERT_TRUE(seen.insert("http://example.com/page/" + std::to_string(i)));
  for (size_t i = 0; i < n; i += 997)
    ASSERT_FALSE(seen.insert("http://example.com/page/" + std::to_string(i)));
  EXPECT_EQ(seen.size(), n);
  double per_url = static_cast<double>(seen.memory_bytes()) / n;
  EXPECT_LE(per_url, 24.0);
  RecordProperty("bytes_per_url", std::to_string(per_url));
}

}  // namespace
}  // namespace crawl::urls
