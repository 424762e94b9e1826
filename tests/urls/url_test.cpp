#include "urls/url.hpp"

#include <gtest/gtest.h>

#include <clocale>
#include <string>

namespace crawl::urls {
namespace {

TEST(Normalise, LowercasesSchemeAndHostAndDropsDefaultPortAndFragment) {
  EXPECT_EQ(normalise("HTTP://Example.COM:80/A/b?q=1#frag").url, "http://example.com/A/b?q=1");
  EXPECT_EQ(normalise("https://example.com:443").url, "https://example.com/");
  EXPECT_EQ(normalise("https://example.com:8443/x").url, "https://example.com:8443/x");
}

TEST(Normalise, TakesSchemelessLinesAsHttpWhenTheHostLooksLikeOne) {
  EXPECT_EQ(normalise("example.com/path").url, "http://example.com/path");
  EXPECT_EQ(normalise("www.example.test").url, "http://www.example.test/");
  EXPECT_EQ(normalise("localhost:8080/x").url, "http://localhost:8080/x");
  EXPECT_EQ(normalise("LOCALHOST").url, "http://localhost/");
  EXPECT_EQ(normalise("w1.h3.localhost:9/x").url, "http://w1.h3.localhost:9/x");
  EXPECT_EQ(normalise("127.0.0.1:8080/p/1").url, "http://127.0.0.1:8080/p/1");
  EXPECT_EQ(normalise("127.1/x").url, "http://127.0.0.1/x");  // curl's reading of a short IPv4 form
  EXPECT_EQ(normalise("[::1]:8080/x").url, "http://[::1]:8080/x");
  EXPECT_EQ(normalise("bücher.localhost/x").url, "http://xn--bcher-kva.localhost/x");
  EXPECT_EQ(normalise("example.xn--zckzah.localhost/").url, "http://example.xn--zckzah.localhost/");
}

// A top-level domain in punycode counts as one, written either way. xn--zckzah is one of IANA's
// retired IDN test domains; nothing here resolves it (normalising only reads the text), and no URL
// of it is written out.
TEST(Normalise, TakesSchemelessLinesUnderAnInternationalisedTopLevelDomain) {
  for (const char* line : {"example.xn--zckzah/x", "example.テスト/x"}) {
    SCOPED_TRACE(line);
    const auto r = normalise(line);
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(host_of(r.url), "example.xn--zckzah");
    EXPECT_TRUE(r.url.ends_with("/x")) << r.url;
  }
  EXPECT_FALSE(normalise("example.xn-/x").ok());  // neither letters only nor punycode
}

TEST(Normalise, RefusesSchemelessLinesWhoseHostIsABareWord) {
  for (const char* line :
       {"le", "le/p/1", "le:8080/x", "todo", "1234", "1234/x", "a.b1", "example.c", "x.", "1.2.3.4.5"}) {
    SCOPED_TRACE(line);
    const auto r = normalise(line);
    EXPECT_FALSE(r.ok()) << r.url;
    EXPECT_NE(r.error.find("no scheme"), std::string::npos) << r.error;
  }
  // With a scheme, any host name goes: the list said what it meant.
  EXPECT_EQ(normalise("http://le.test/").url, "http://le.test/");
}

// Internationalised host names are stored as they go on the wire: in punycode, lower case. The
// conversion must work in the C locale the process runs in (libcurl's reads the locale's charset),
// and must leave that locale alone.
TEST(Normalise, StoresInternationalisedHostsInPunycode) {
  ASSERT_STREQ(std::setlocale(LC_CTYPE, nullptr), "C");
  // Every host below is under .localhost. The scheme is joined on, so that a URL whose host starts
  // with non-ASCII bytes is never written out as one whose host looks like a bare "b" or "fa".
  const std::string http = "http://", https = "https://";
  EXPECT_EQ(normalise(http + "bücher.localhost:8080/p/8.html").url,
            "http://xn--bcher-kva.localhost:8080/p/8.html");
  EXPECT_EQ(normalise(http + "BÜCHER.Localhost/").url, "http://xn--bcher-kva.localhost/");
  EXPECT_EQ(normalise("http://xn--bcher-kva.localhost/").url, "http://xn--bcher-kva.localhost/");
  EXPECT_EQ(normalise(https + "faß.localhost/ü").url, "https://xn--fa-hia.localhost/%c3%bc");
  EXPECT_EQ(resolve("http://a.localhost/x", "//bücher.localhost/y").url, "http://xn--bcher-kva.localhost/y");
  const auto bad = normalise(http + "b\xff\x63her.localhost/");  // \x63: 'c', apart from \xff
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.error.find("internationalised"), std::string::npos) << bad.error;
  EXPECT_STREQ(std::setlocale(LC_CTYPE, nullptr), "C");
}

TEST(Normalise, PercentEncodesSpacesInPath) {
  EXPECT_EQ(normalise("http://example.com/a b").url, "http://example.com/a%20b");
}

TEST(Normalise, RefusesOtherSchemesWithAMessageNamingThem) {
  auto r = normalise("ftp://example.com/file");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("ftp"), std::string::npos) << r.error;
  // Without "//", libcurl would say only "Unsupported number of slashes following scheme".
  for (const char* line : {"mailto:someone@example.com", "javascript:alert(1)", "data:,x", "urn:isbn:1"}) {
    const auto refused = normalise(line);
    EXPECT_FALSE(refused.ok()) << line;
    const std::string scheme(std::string_view(line).substr(0, std::string_view(line).find(':')));
    EXPECT_EQ(refused.error, "unsupported scheme '" + scheme + "': only http and https") << line;
  }
  // A host and port with no scheme is still read as http.
  EXPECT_EQ(normalise("localhost:8080/x").url, "http://localhost:8080/x");
}

// A UTF-16 list reads as lines with a NUL between every two letters: the message says so.
TEST(Normalise, ANulByteSuggestsAUtf16List) {
  using namespace std::string_view_literals;
  const auto r = normalise("h\0t\0t\0p\0:\0"sv);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, "NUL byte in URL (a UTF-16 list? convert it: iconv -f UTF-16 -t UTF-8)");
  EXPECT_EQ(normalise("http://a.test/\x01").error, "control character in URL");
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

struct Example {
  std::string reference;
  std::string expected;  // "" when the reference is no http(s) URL (the crawl drops it)
};

void expect_resolves(std::string_view base, const std::vector<Example>& examples) {
  for (const auto& [reference, expected] : examples) {
    SCOPED_TRACE("base " + std::string(base) + ", reference '" + reference + "'");
    const auto r = resolve(base, reference);
    if (expected.empty()) {
      EXPECT_FALSE(r.ok()) << r.url;
    } else {
      EXPECT_EQ(r.url, expected) << r.error;
    }
  }
}

constexpr std::string_view kRfc3986Base = "http://a.localhost/b/c/d;p?q";

// RFC 3986 5.4.1, every example; the expected URLs lose their fragment as the crawl drops it, and
// "//g" gains the "/" an http URL's empty path becomes. Hosts are under .localhost, never resolved.
TEST(Resolve, EveryNormalExampleOfRfc3986) {
  expect_resolves(kRfc3986Base, {
                                    {"g:h", ""},  // "g:h": not http(s)
                                    {"g", "http://a.localhost/b/c/g"},
                                    {"./g", "http://a.localhost/b/c/g"},
                                    {"g/", "http://a.localhost/b/c/g/"},
                                    {"/g", "http://a.localhost/g"},
                                    {"//g.localhost", "http://g.localhost/"},
                                    {"?y", "http://a.localhost/b/c/d;p?y"},
                                    {"g?y", "http://a.localhost/b/c/g?y"},
                                    {"#s", "http://a.localhost/b/c/d;p?q"},
                                    {"g#s", "http://a.localhost/b/c/g"},
                                    {"g?y#s", "http://a.localhost/b/c/g?y"},
                                    {";x", "http://a.localhost/b/c/;x"},
                                    {"g;x", "http://a.localhost/b/c/g;x"},
                                    {"g;x?y#s", "http://a.localhost/b/c/g;x?y"},
                                    {"", "http://a.localhost/b/c/d;p?q"},
                                    {".", "http://a.localhost/b/c/"},
                                    {"./", "http://a.localhost/b/c/"},
                                    {"..", "http://a.localhost/b/"},
                                    {"../", "http://a.localhost/b/"},
                                    {"../g", "http://a.localhost/b/g"},
                                    {"../..", "http://a.localhost/"},
                                    {"../../", "http://a.localhost/"},
                                    {"../../g", "http://a.localhost/g"},
                                });
}

// RFC 3986 5.4.2, every example. "http:g" has two answers there; browsers (WHATWG) take it as the
// relative "g" on an http page, the RFC's backward-compatible one.
TEST(Resolve, EveryAbnormalExampleOfRfc3986) {
  expect_resolves(kRfc3986Base, {
                                    {"../../../g", "http://a.localhost/g"},
                                    {"../../../../g", "http://a.localhost/g"},
                                    {"/./g", "http://a.localhost/g"},
                                    {"/../g", "http://a.localhost/g"},
                                    {"g.", "http://a.localhost/b/c/g."},
                                    {".g", "http://a.localhost/b/c/.g"},
                                    {"g..", "http://a.localhost/b/c/g.."},
                                    {"..g", "http://a.localhost/b/c/..g"},
                                    {"./../g", "http://a.localhost/b/g"},
                                    {"./g/.", "http://a.localhost/b/c/g/"},
                                    {"g/./h", "http://a.localhost/b/c/g/h"},
                                    {"g/../h", "http://a.localhost/b/c/h"},
                                    {"g;x=1/./y", "http://a.localhost/b/c/g;x=1/y"},
                                    {"g;x=1/../y", "http://a.localhost/b/c/y"},
                                    {"g?y/./x", "http://a.localhost/b/c/g?y/./x"},
                                    {"g?y/../x", "http://a.localhost/b/c/g?y/../x"},
                                    {"g#s/./x", "http://a.localhost/b/c/g"},
                                    {"g#s/../x", "http://a.localhost/b/c/g"},
                                    {"http:g", "http://a.localhost/b/c/g"},
                                });
}

// What the WHATWG URL parser (browsers) does beyond RFC 3986 for http(s) references.
TEST(Resolve, FollowsTheWhatwgRulesForHttpReferences) {
  expect_resolves(kRfc3986Base,
                  {
                      // C0 controls and spaces at either end go; tabs and newlines anywhere go.
                      {"  g  ", "http://a.localhost/b/c/g"},
                      {std::string("\x01\x1f g\x00 ", 6), "http://a.localhost/b/c/g"},
                      {"\tg\n", "http://a.localhost/b/c/g"},
                      {"g\th", "http://a.localhost/b/c/gh"},
                      {"../\ng?y\r\n#s", "http://a.localhost/b/g?y"},
                      {"\t\n", "http://a.localhost/b/c/d;p?q"},
                      {" http://a.localhost/x ", "http://a.localhost/x"},
                      {"g h", "http://a.localhost/b/c/g%20h"},
                      // The same scheme as the base without "//": relative.
                      {"HTTP:g", "http://a.localhost/b/c/g"},
                      {"http:", "http://a.localhost/b/c/d;p?q"},
                      {"http:?y", "http://a.localhost/b/c/d;p?y"},
                      {"http:#s", "http://a.localhost/b/c/d;p?q"},
                      {"http:/g", "http://a.localhost/g"},
                      {"http:../g", "http://a.localhost/b/g"},
                      // Any number of slashes leads a host; a backslash is a slash before the query.
                      {"http:///g.localhost", "http://g.localhost/"},
                      {"////g.localhost/x", "http://g.localhost/x"},
                      {"\\g", "http://a.localhost/g"},
                      {"\\\\g.localhost\\h", "http://g.localhost/h"},
                      {"g\\h", "http://a.localhost/b/c/g/h"},
                      // Another http(s) scheme: absolute, slashes or not.
                      {"https:g.localhost", "https://g.localhost/"},
                      {"https:/g.localhost/x", "https://g.localhost/x"},
                      // A colon after something that is not a scheme is part of a relative path.
                      {"1a:x", "http://a.localhost/b/c/1a:x"},
                      {"./g:h", "http://a.localhost/b/c/g:h"},
                      // Percent-encoded dots are dot segments too.
                      {"%2e%2E/g", "http://a.localhost/b/g"},
                      {"g/%2e/h", "http://a.localhost/b/c/g/h"},
                      // Other schemes lead nowhere a crawler goes.
                      {"mailto:x@a.test", ""},
                      {"javascript:void(0)", ""},
                      {" JavaScript:void(0)", ""},
                      {"//", ""},
                  });
  // "http:g" on an https page names the host g.
  expect_resolves("https://a.localhost/b/c/d;p?q",
                  {{"http:g.localhost", "http://g.localhost/"}, {"https:g", "https://a.localhost/b/c/g"}});
}

// An index page's empty href is the page itself, not its directory.
TEST(Resolve, EmptyReferenceIsTheDocumentItself) {
  EXPECT_EQ(resolve("http://example.test/dir/index.html", "").url, "http://example.test/dir/index.html");
  EXPECT_EQ(resolve("http://example.test/dir/index.html?x=1", "").url,
            "http://example.test/dir/index.html?x=1");
  EXPECT_EQ(resolve("http://example.test", "").url, "http://example.test/");
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

// normalise() returns a URL that is in normal form as it is, without libcurl: the shortcut must
// never answer yes for a URL libcurl would change. Every combination of tricky hosts, ports, paths
// and queries is checked against libcurl's own normal form.
TEST(NormalForm, AUrlTakenAsNormalIsOneLibcurlLeavesAsItIs) {
  const std::vector<std::string> schemes = {"http://", "https://", "HTTP://", "Https://"};
  const std::vector<std::string> hosts = {"a.localhost",
                                          "python.localhost",
                                          "127.0.0.1",
                                          "127.1",
                                          "0x7f.0.0.1",
                                          "1.2.3.4.5",
                                          "3com.localhost",
                                          "cafe.localhost",
                                          "a..b",
                                          "a.b.",
                                          "-a.localhost",
                                          "a-.localhost",
                                          "010.0.0.1",
                                          "256.1.1.1",
                                          "A.localhost",
                                          "xn--bcher-kva.localhost",
                                          "0.0.0.0",
                                          "1.2.3",
                                          "a_b.localhost",
                                          "a.0",
                                          "user@a.localhost",
                                          "[::1]",
                                          "ex%41mple.localhost"};
  const std::vector<std::string> ports = {"", ":80", ":443", ":8080", ":0", ":65535", ":65536", ":080", ":"};
  const std::vector<std::string> paths = {"",           "/",
                                          "/a/b.html",  "/a/./b",
                                          "/a/../b",    "/.",
                                          "/..",        "/a/.",
                                          "/a/..",      "/a%20b",
                                          "/a%2Fb",     "/a%2fb",
                                          "/a%2e%2e/b", "/a%zz",
                                          "/a%2",       "/%",
                                          "/a b",       "/\xC3\xA4",
                                          "/a#f",       "/a?b=c",
                                          "/a?b=c#d",   "/!$&'()*+,;=:@",
                                          "/~user/",    "/a\\b",
                                          "/\"q\"",     "/<x>",
                                          "/{x}",       "/a|b",
                                          "/a^b",       "/a`b",
                                          "/[x]",       "/.hidden",
                                          "/...",       "/a/.../b",
                                          "/a?x=/../y", "/a?%zz",
                                          "/a?q=a b",   "/a??b",
                                          "//a",        "/a//b",
                                          "?q",         "/a?"};
  int normal = 0;
  int checked = 0;
  for (const auto& scheme : schemes)
    for (const auto& host : hosts)
      for (const auto& port : ports)
        for (const auto& path : paths) {
          const std::string url = scheme + host + port + path;
          ++checked;
          if (!crawl::urls::detail::in_normal_form(url)) continue;
          ++normal;
          const auto by_curl = crawl::urls::detail::normalise_with_curl(url);
          EXPECT_TRUE(by_curl.ok()) << url << ": " << by_curl.error;
          EXPECT_EQ(by_curl.url, url) << "taken as normal, but libcurl writes it otherwise";
        }
  // The shortcut is taken for the common shapes, or it would save nothing.
  EXPECT_GT(normal, checked / 50);
  for (const char* url :
       {"http://python.localhost:8790/library/os.html", "https://a.localhost/", "http://127.0.0.1:80a/",
        "http://127.0.0.1/x?y=1&z=%2F", "https://www.docs.localhost/a/b/c.html?q=(1)"}) {
    const bool expected = std::string_view(url) != "http://127.0.0.1:80a/";
    EXPECT_EQ(crawl::urls::detail::in_normal_form(url), expected) << url;
  }
}

TEST(NormalForm, NormaliseGivesTheSameAnswerWithOrWithoutTheShortcut) {
  for (const char* url : {"http://a.localhost/x", "HTTP://a.localhost/x", "http://a.localhost:80/x#f",
                          "https://a.localhost/./x/../y", "http://127.1/", "http://a.localhost/a b"}) {
    const auto fast = crawl::urls::normalise(url);
    const auto slow = crawl::urls::detail::normalise_with_curl(url);
    EXPECT_EQ(fast.url, slow.url) << url;
    EXPECT_EQ(fast.error, slow.error) << url;
  }
}

TEST(WithoutPassword, ShowsAUrlsPasswordAsStarsAndLeavesTheRest) {
  using crawl::urls::without_password;
  // Built from the scheme, so that user information is never taken for a host name to resolve.
  const std::string http = "http://", https = "https://";
  EXPECT_EQ(without_password(http + "ann:s3cret@127.0.0.1/a"), http + "ann:***@127.0.0.1/a");
  EXPECT_EQ(without_password(https + "ann:p@ss:w@rd@127.0.0.1:8443/?x=1"),
            https + "ann:***@127.0.0.1:8443/?x=1");
  EXPECT_EQ(without_password("--url=" + http + "a:b@127.0.0.1/"), "--url=" + http + "a:***@127.0.0.1/");
  // No password, or an @ and a colon that are not user information, stay as they are.
  for (const std::string& same :
       {http + "ann@127.0.0.1/", http + "127.0.0.1:8080/a@b:c", http + "127.0.0.1/?u=a:b@c",
        http + "127.0.0.1/#a:b@c", std::string("not a url"), std::string("run"), std::string()})
    EXPECT_EQ(without_password(same), same);
}
