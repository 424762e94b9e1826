#include "testbed/site.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>

#include "common/usage_error.hpp"

namespace crawl::testbed {
namespace {

using std::chrono::milliseconds;

std::vector<uint64_t> hrefs_in(const std::string& html) {
  constexpr std::string_view kHref = "<a href=\"/page/";
  std::vector<uint64_t> out;
  for (size_t at = html.find(kHref); at != std::string::npos; at = html.find(kHref, at + 1))
    out.push_back(std::stoull(html.substr(at + kHref.size(), 20)));
  return out;
}

TEST(TestbedSite, PagesHaveExactlyTheirSizeWithinBounds) {
  const SiteOptions site;
  size_t smallest = kMaxPageBytes, largest = 0;
  for (uint64_t n = 0; n < 3000; ++n) {
    const size_t size = page_body_bytes(n);
    ASSERT_GE(size, kMinPageBytes);
    ASSERT_LE(size, kMaxPageBytes);
    ASSERT_EQ(page_html(n, site).size(), size) << "page " << n;
    smallest = std::min(smallest, size);
    largest = std::max(largest, size);
  }
  EXPECT_LT(smallest, 3000u);
  EXPECT_GT(largest, 50'000u);
}

TEST(TestbedSite, LargestPageNumbersStillFit) {
  const SiteOptions site{.pages = kMaxPages};
  for (uint64_t n = kMaxPages - 200; n < kMaxPages; ++n)
    EXPECT_EQ(page_html(n, site).size(), page_body_bytes(n));
}

TEST(TestbedSite, SameTargetSameResponse) {
  const SiteOptions site;
  for (std::string_view target : {"/page/42", "/text/42", "/json/42", "/bin/42", "/status/418"}) {
    const Response a = describe(target, site);
    const Response b = describe(target, site);
    EXPECT_EQ(a.body, b.body) << target;
    EXPECT_EQ(a.status, b.status) << target;
  }
  EXPECT_NE(page_html(1, site), page_html(2, site));
}

TEST(TestbedSite, PageIsAnHtmlDocumentWithItsTitleAndLinks) {
  const SiteOptions site;
  const Response r = describe("/page/7", site);
  EXPECT_EQ(r.kind, Behaviour::kComplete);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(r.title, "Page 7");
  EXPECT_EQ(r.route, "page");
  EXPECT_TRUE(r.body.starts_with("<!DOCTYPE html>\n"));
  EXPECT_TRUE(r.body.ends_with("</html>\n"));
  EXPECT_NE(r.body.find("<title>Page 7</title>"), std::string::npos);
  EXPECT_EQ(hrefs_in(r.body), page_links(7, site));
  EXPECT_EQ(r.body.find('&'), std::string::npos);
  EXPECT_EQ(page_title(123), "Page 123");
}

TEST(TestbedSite, LinksAreDistinctOtherPagesInRange) {
  const SiteOptions site{.pages = 5000};
  std::set<size_t> counts;
  for (uint64_t n = 0; n < site.pages; ++n) {
    const auto links = page_links(n, site);
    ASSERT_GE(links.size(), 5u);
    ASSERT_LE(links.size(), 15u);
    counts.insert(links.size());
    EXPECT_EQ(links.front(), (n + 1) % site.pages);
    std::set<uint64_t> distinct(links.begin(), links.end());
    EXPECT_EQ(distinct.size(), links.size()) << "page " << n;
    EXPECT_EQ(distinct.count(n), 0u) << "page " << n;
    EXPECT_LT(*distinct.rbegin(), site.pages);
  }
  EXPECT_EQ(counts.size(), 11u);  // every count from 5 to 15 occurs
}

TEST(TestbedSite, TinySitesLinkToWhatThereIs) {
  EXPECT_TRUE(page_links(0, {.pages = 1}).empty());
  EXPECT_EQ(page_links(0, {.pages = 2}), std::vector<uint64_t>{1});
  for (uint64_t n = 0; n < 4; ++n) {
    const auto links = page_links(n, {.pages = 4});
    EXPECT_LE(links.size(), 3u);
    EXPECT_EQ(std::set<uint64_t>(links.begin(), links.end()).size(), links.size());
  }
  EXPECT_EQ(describe("/page/0", {.pages = 1}).status, 200);
  EXPECT_EQ(describe("/page/1", {.pages = 1}).status, 404);
}

TEST(TestbedSite, FollowingLinksFromPageZeroReachesEveryPage) {
  const SiteOptions site{.pages = 2000};
  std::vector<bool> seen(site.pages);
  std::queue<uint64_t> todo;
  todo.push(0);
  seen[0] = true;
  size_t reached = 1;
  while (!todo.empty()) {
    for (uint64_t m : page_links(todo.front(), site)) {
      if (!seen[m]) {
        seen[m] = true;
        ++reached;
        todo.push(m);
      }
    }
    todo.pop();
  }
  EXPECT_EQ(reached, site.pages);
}

TEST(TestbedSite, MalformedOrOutOfRangePagesAreNotFound) {
  const SiteOptions site{.pages = 100};
  for (std::string_view target :
       {"/page/100", "/page/007", "/page/-1", "/page/7/", "/page/", "/page", "/page/x",
        "/page/99999999999999999999", "/", "/nothing/here", "/gzip/100", "/bin/100"}) {
    const Response r = describe(target, site);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.title, "Not Found") << target;
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8") << target;
  }
  EXPECT_EQ(describe("/nothing/here", site).route, "other");
  EXPECT_EQ(describe("/page/100", site).route, "page");
}

TEST(TestbedSite, QueryStringsAreIgnoredForRouting) {
  const SiteOptions site;
  EXPECT_EQ(describe("/page/3?x=1&y=2", site).body, page_html(3, site));
  EXPECT_EQ(describe("/robots.txt?", site).status, 200);
}

TEST(TestbedSite, DelaysAddUpAndServeTheRest) {
  const SiteOptions site;
  const Response r = describe("/delay/100/delay/50/page/7", site);
  EXPECT_EQ(r.delay, milliseconds(150));
  EXPECT_EQ(r.body, page_html(7, site));
  EXPECT_EQ(r.route, "delay");
  const Response status = describe("/delay/20/status/500", site);
  EXPECT_EQ(status.status, 500);
  EXPECT_EQ(status.delay, milliseconds(20));
  EXPECT_EQ(describe("/delay/x/page/1", site).status, 404);
  EXPECT_EQ(describe("/delay/100", site).status, 404);
}

TEST(TestbedSite, RedirectsCountDownKeepingTheQuery) {
  const SiteOptions site;
  const Response r = describe("/redirect/3/page/1?q=2", site);
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.location, "/redirect/2/page/1?q=2");
  EXPECT_EQ(r.route, "redirect");
  EXPECT_EQ(describe("/redirect/1/page/1", site).location, "/redirect/0/page/1");
  EXPECT_EQ(describe("/redirect/0/page/1", site).body, page_html(1, site));
  EXPECT_EQ(describe("/delay/5/redirect/1/page/1", site).delay, milliseconds(5));
}

TEST(TestbedSite, LoopsNeverEnd) {
  const SiteOptions site;
  EXPECT_EQ(describe("/loop/5", site).location, "/loop/6");
  EXPECT_EQ(describe("/loop/0", site).status, 302);
  EXPECT_EQ(describe("/loop-self", site).location, "/loop-self");
  EXPECT_EQ(describe("/loop-self?a", site).location, "/loop-self?a");
}

TEST(TestbedSite, StatusPagesHaveTitlesExceptBodilessOnes) {
  const SiteOptions site;
  const Response r = describe("/status/503", site);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.title, "Status 503");
  EXPECT_NE(r.body.find("<title>Status 503</title>"), std::string::npos);
  EXPECT_TRUE(describe("/status/204", site).body.empty());
  EXPECT_TRUE(describe("/status/304", site).body.empty());
  EXPECT_FALSE(describe("/status/204", site).title);
  for (std::string_view bad : {"/status/100", "/status/199", "/status/1000", "/status/abc", "/status/200/x"})
    EXPECT_EQ(describe(bad, site).status, 404) << bad;
  EXPECT_EQ(describe("/status/200", site).status, 200);
  EXPECT_EQ(describe("/status/599", site).status, 599);
}

TEST(TestbedSite, StreamedBodiesReadTheSameInAnyPieces) {
  const SiteOptions site;
  const Response r = describe("/big/200000", site);
  EXPECT_EQ(r.kind, Behaviour::kStream);
  EXPECT_EQ(r.title, "Big");
  const std::string whole = received_body(r);
  ASSERT_EQ(whole.size(), 200000u);
  EXPECT_TRUE(whole.starts_with("<!DOCTYPE html>"));
  EXPECT_TRUE(whole.ends_with("</html>\n"));
  std::string pieces;
  for (uint64_t offset = 0; offset < whole.size();) {
    const size_t n = std::min<uint64_t>(1 + offset % 7919, whole.size() - offset);
    std::string piece(n, '\0');
    r.stream.read(offset, piece.data(), n);
    pieces += piece;
    offset += n;
  }
  EXPECT_EQ(pieces, whole);
  EXPECT_EQ(received_body(describe("/big-chunked/200000", site)).size(), 200000u);
  EXPECT_EQ(describe("/big-chunked/200000", site).kind, Behaviour::kStreamChunked);
}

TEST(TestbedSite, TinyStreamedBodiesAreTextWithoutMarkup) {
  const Response r = describe("/big/10", {});
  EXPECT_EQ(received_body(r).size(), 10u);
  EXPECT_FALSE(r.title);
  EXPECT_EQ(received_body(describe("/big/0", {})), "");
}

TEST(TestbedSite, SlowResetAndHangBehaviours) {
  const SiteOptions site;
  const Response slow = describe("/slow/2000/5000", site);
  EXPECT_EQ(slow.kind, Behaviour::kTrickle);
  EXPECT_EQ(slow.trickle, milliseconds(2000));
  EXPECT_EQ(slow.stream.size, 5000u);
  const Response mid = describe("/reset-mid/1000", site);
  EXPECT_EQ(mid.kind, Behaviour::kResetMidBody);
  EXPECT_EQ(mid.stream.size, 2000u);
  EXPECT_EQ(received_body(mid).size(), 1000u);
  EXPECT_EQ(describe("/reset", site).kind, Behaviour::kReset);
  EXPECT_EQ(describe("/hang", site).kind, Behaviour::kHang);
  EXPECT_EQ(describe("/hang/x", site).status, 404);
}

TEST(TestbedSite, GzipServesThePageCompressed) {
  const SiteOptions site;
  const Response r = describe("/gzip/9", site);
  EXPECT_EQ(r.encoding, Encoding::kGzip);
  EXPECT_EQ(r.body, page_html(9, site));
  EXPECT_EQ(r.title, "Page 9");
  const Response cut = describe("/gzip-cut/9", site);
  EXPECT_EQ(cut.encoding, Encoding::kGzipCut);
  EXPECT_EQ(cut.body, page_html(9, site));
  const Response bad = describe("/gzip-bad", site);
  EXPECT_EQ(bad.encoding, Encoding::kBrokenGzip);
  EXPECT_TRUE(bad.body.starts_with("\x1f\x8b"));
}

TEST(TestbedSite, CharsetPagesCarryTheirSampleInItsEncoding) {
  const SiteOptions site;
  const Response latin1 = describe("/charset/iso-8859-1", site);
  EXPECT_EQ(latin1.status, 200);
  EXPECT_EQ(latin1.route, "charset");
  EXPECT_EQ(latin1.content_type, "text/html; charset=iso-8859-1");
  EXPECT_EQ(latin1.title, "caf\u00e9 cr\u00e8me");
  EXPECT_NE(latin1.body.find("<title>caf\xE9 cr\xE8me</title>"), std::string::npos);
  EXPECT_EQ(latin1.body.find("<meta"), std::string::npos);
  const Response meta = describe("/charset-meta/shift_jis", site);
  EXPECT_EQ(meta.content_type, "text/html");
  EXPECT_EQ(meta.route, "charset-meta");
  EXPECT_NE(meta.body.find("<meta charset=\"shift_jis\">"), std::string::npos);
  // UTF-16: a byte order mark, then every ASCII character of the markup with a zero byte.
  const Response utf16 = describe("/charset/utf-16le", site);
  EXPECT_TRUE(utf16.body.starts_with(std::string("\xFF\xFE<\0!\0", 6)));
  EXPECT_EQ(describe("/charset-meta/utf-16le", site).status, 404);
  EXPECT_EQ(describe("/charset/x-unknown", site).status, 404);
  EXPECT_EQ(describe("/charset", site).status, 404);
  EXPECT_EQ(describe("/charset/iso-2022-kr", site).title, std::nullopt);
  for (const auto& sample : charset_samples()) {
    EXPECT_EQ(charset_sample(sample.label), &sample);
    EXPECT_NE(charset_page_html(sample, false).find(sample.encoded), std::string::npos) << sample.label;
  }
}

TEST(TestbedSite, OtherContentTypesHavePageSizes) {
  const SiteOptions site;
  const Response bin = describe("/bin/11", site);
  EXPECT_EQ(bin.content_type, "application/octet-stream");
  EXPECT_EQ(bin.body.size(), page_body_bytes(11));
  EXPECT_NE(bin.body, describe("/bin/12", site).body);
  const Response text = describe("/text/11", site);
  EXPECT_EQ(text.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(text.body.size(), page_body_bytes(11));
  EXPECT_TRUE(text.body.starts_with("Page 11\n"));
  const Response json = describe("/json/11", site);
  EXPECT_EQ(json.content_type, "application/json");
  EXPECT_EQ(json.body.size(), page_body_bytes(11));
  const auto parsed = nlohmann::json::parse(json.body);
  EXPECT_EQ(parsed["page"], 11);
  EXPECT_EQ(parsed["links"].get<std::vector<uint64_t>>(), page_links(11, site));
}

TEST(TestbedSite, RobotsAndStats) {
  const SiteOptions site;
  const Response robots = describe("/robots.txt", site);
  EXPECT_EQ(robots.body, "User-agent: *\nDisallow: /private/\n");
  EXPECT_EQ(robots.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(describe("/__stats", site).kind, Behaviour::kStats);
  EXPECT_EQ(describe("/__reset-stats", site).kind, Behaviour::kResetStats);
  EXPECT_EQ(describe("/__hosts", site).kind, Behaviour::kHosts);
}

TEST(TestbedSite, EveryRouteIsOneOfTheRouteNames) {
  const SiteOptions site;
  for (std::string_view target : {"/page/1",
                                  "/delay/1/x",
                                  "/status/200",
                                  "/redirect/1/x",
                                  "/loop/1",
                                  "/loop-self",
                                  "/slow/1/1",
                                  "/hang",
                                  "/reset",
                                  "/reset-mid/1",
                                  "/big/1",
                                  "/big-chunked/1",
                                  "/gzip/1",
                                  "/gzip-bad",
                                  "/gzip-cut/1",
                                  "/gzip-bin/1",
                                  "/empty-encoding/1",
                                  "/bin/1",
                                  "/text/1",
                                  "/json/1",
                                  "/robots.txt",
                                  "/ratelimit/1/page/1",
                                  "/unavailable/1/page/1",
                                  "/ratelimit-after/1/1/page/1",
                                  "/unavailable-after/1/1/page/1",
                                  "/ratelimit-date/1/1/page/1",
                                  "/unavailable-date/1/1/page/1",
                                  "/__stats",
                                  "/__hosts",
                                  "/__reset-stats",
                                  "/hrefs/0",
                                  "/other"}) {
    const std::string_view route = describe(target, site).route;
    EXPECT_TRUE(std::find(std::begin(kRouteNames), std::end(kRouteNames), route) != std::end(kRouteNames))
        << target;
    EXPECT_EQ(target.substr(1, route.size()), route) << target;
  }
}

// /hrefs/K carries the RFC 3986 base and case K's href, written so that an HTML parser reads the
// href back exactly; past the last case, and on other paths under /hrefs, 404.
TEST(TestbedSite, HrefPagesCarryOneCaseEach) {
  const SiteOptions site;
  const auto cases = href_cases(8080);
  ASSERT_GT(cases.size(), 40u);
  for (size_t k = 0; k < cases.size(); ++k) {
    const Response r = describe("/hrefs/" + std::to_string(k), site, Origin{.port = 8080});
    ASSERT_EQ(r.status, 200) << k;
    EXPECT_EQ(r.title, "Hrefs " + std::to_string(k));
    EXPECT_NE(r.body.find("<base href=\"http://a.localhost:8080/b/c/d;p?q\">"), std::string::npos);
    EXPECT_NE(r.body.find("<a href=\"" + cases[k].href + "\">"), std::string::npos) << k;
  }
  EXPECT_EQ(describe("/hrefs/" + std::to_string(cases.size()), site).status, 404);
  EXPECT_EQ(describe("/hrefs/", site).status, 404);
  const Response index = describe("/hrefs/index.html", site);
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body.find("<base"), std::string::npos);
  EXPECT_NE(index.body.find("<a href=\"\">"), std::string::npos);
}

TEST(TestbedSite, ParsesLatencies) {
  EXPECT_EQ(parse_latency("0").max, milliseconds(0));
  EXPECT_EQ(parse_latency("100ms").min, milliseconds(100));
  EXPECT_EQ(parse_latency("2s").max, milliseconds(2000));
  const Latency range = parse_latency("50ms-150ms");
  EXPECT_EQ(range.min, milliseconds(50));
  EXPECT_EQ(range.max, milliseconds(150));
  for (std::string_view bad : {"soon", "-5ms", "150ms-50ms", "1s-", "x-1s", ""})
    EXPECT_THROW(parse_latency(bad), UsageError) << bad;
  try {
    parse_latency("soon");
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--latency"), std::string::npos);
  }
}

TEST(TestbedSite, LatencyIsFixedPerPathAndSpreadOverTheRange) {
  const Latency range = parse_latency("50ms-150ms");
  std::set<int64_t> seen;
  for (int n = 0; n < 500; ++n) {
    const std::string target = "/page/" + std::to_string(n);
    const milliseconds latency = latency_for(target, range);
    ASSERT_GE(latency, range.min);
    ASSERT_LE(latency, range.max);
    EXPECT_EQ(latency, latency_for(target, range));
    EXPECT_EQ(latency, latency_for(target + "?q=1", range));
    seen.insert(latency.count());
  }
  EXPECT_GT(seen.size(), 80u);
  EXPECT_EQ(latency_for("/page/1", parse_latency("100ms")), milliseconds(100));
}

// ---- Malformed and oversized responses ----

TEST(TestbedSite, StatusesBeyondHttpsRangeUpTo999) {
  const SiteOptions site;
  const Response r = describe("/status/999", site);
  EXPECT_EQ(r.status, 999);
  EXPECT_EQ(r.title, "Status 999");
  EXPECT_EQ(describe("/status/600", site).status, 600);
}

TEST(TestbedSite, BadChunkedIsOneValidChunkOfAPage) {
  const SiteOptions site;
  const Response r = describe("/bad-chunked", site);
  EXPECT_EQ(r.kind, Behaviour::kBadChunked);
  EXPECT_EQ(r.route, "bad-chunked");
  EXPECT_EQ(r.title, "Bad chunked");
  EXPECT_NE(r.body.find("<title>Bad chunked</title>"), std::string::npos);
  EXPECT_EQ(received_body(r), r.body);
  EXPECT_EQ(describe("/bad-chunked/1", site).status, 404);
}

TEST(TestbedSite, HugeHeaderIsOneLineOfTheGivenSize) {
  const SiteOptions site;
  const Response r = describe("/huge-header/300000", site);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.route, "huge-header");
  EXPECT_EQ(r.title, "Huge header");
  const std::string& line = r.extra_headers;
  ASSERT_EQ(line.size(), std::string("X-Filler: ").size() + 300000 + 2);
  EXPECT_TRUE(line.starts_with("X-Filler: "));
  EXPECT_TRUE(line.ends_with("\r\n"));
  EXPECT_EQ(line.find_first_of("\r\n"), line.size() - 2) << "one line";
  EXPECT_EQ(describe("/huge-header/" + std::to_string(kMaxHeaderFillerBytes + 1), site).status, 404);
}

TEST(TestbedSite, ManyHeadersAreLinesOf1024Bytes) {
  const SiteOptions site;
  const Response r = describe("/many-headers/400000", site);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.title, "Many headers");
  const std::string& lines = r.extra_headers;
  ASSERT_EQ(lines.size(), 391u * 1024);  // ceil(400000 / 1024) lines
  for (size_t k = 0; k < 391; ++k) {
    const std::string_view line = std::string_view(lines).substr(k * 1024, 1024);
    EXPECT_TRUE(line.starts_with("X-Filler-" + std::to_string(k) + ": ")) << k;
    EXPECT_EQ(line.find_first_of("\r\n"), 1022u) << k;
  }
  EXPECT_EQ(describe("/many-headers/0", site).extra_headers, "");
}

// A revision changes each kind of page as page_revision() says, and only those; /__revision/R asks
// the server for it.
TEST(TestbedSite, ARevisionChangesTextTitlesAndPagesAsDocumented) {
  SiteOptions first{.pages = 100};
  SiteOptions second = first;
  second.revision = 1;
  const Response same = describe("/page/4", second);
  EXPECT_EQ(same.body, describe("/page/4", first).body);
  EXPECT_EQ(same.etag, describe("/page/4", first).etag);

  const Response text = describe("/page/5", second);
  EXPECT_NE(text.body, describe("/page/5", first).body);
  EXPECT_EQ(text.body.size(), page_body_bytes(5));
  EXPECT_EQ(text.title, "Page 5");
  EXPECT_NE(text.etag, describe("/page/5", first).etag);  // the ETag follows the bytes

  const Response title = describe("/page/6", second);
  EXPECT_EQ(title.title, "Page 6, revision 1");
  EXPECT_EQ(title.body.size(), page_body_bytes(6));
  EXPECT_NE(title.body.find("<title>Page 6, revision 1</title>"), std::string::npos);

  EXPECT_EQ(describe("/page/7", second).status, 404);
  EXPECT_EQ(describe("/page/7", first).status, 200);

  // A re-crawl naming the first revision's ETag gets the page again once it changed.
  EXPECT_TRUE(not_modified(describe("/page/4", first), describe("/page/4", second).etag, ""));
  EXPECT_FALSE(not_modified(describe("/page/5", second), describe("/page/5", first).etag, ""));

  const Response set = describe("/__revision/3", first);
  EXPECT_EQ(set.kind, Behaviour::kSetRevision);
  EXPECT_EQ(set.revision, 3u);
}

// Conditional GETs (RFC 9110, 13.1): If-None-Match wins over If-Modified-Since; ETags compare
// weakly; a date no earlier than Last-Modified means not modified; only pages carry validators.
TEST(TestbedSite, ConditionalRequestsAreAnsweredAsRfc9110Says) {
  const SiteOptions site{.pages = 100};
  const Response page = describe("/page/1", site);
  ASSERT_FALSE(page.etag.empty());
  EXPECT_EQ(page.last_modified, kPagesLastModified);
  EXPECT_TRUE(not_modified(page, page.etag, ""));
  EXPECT_TRUE(not_modified(page, "\"other\", W/" + page.etag, ""));
  EXPECT_TRUE(not_modified(page, "*", ""));
  EXPECT_FALSE(not_modified(page, "\"other\"", ""));
  EXPECT_FALSE(not_modified(page, "\"other\"", kPagesLastModified));  // If-None-Match decides
  EXPECT_TRUE(not_modified(page, "", kPagesLastModified));
  EXPECT_TRUE(not_modified(page, "", "Wed, 02 Dec 2026 00:00:00 GMT"));
  EXPECT_FALSE(not_modified(page, "", "Mon, 30 Nov 2026 23:59:59 GMT"));
  EXPECT_FALSE(not_modified(page, "", "yesterday"));
  EXPECT_FALSE(not_modified(page, "", ""));
  EXPECT_FALSE(not_modified(describe("/status/200", site), "*", ""));

  const Response answer = as_not_modified(page);
  EXPECT_EQ(answer.status, 304);
  EXPECT_TRUE(answer.body.empty());
  EXPECT_EQ(answer.etag, page.etag);
  EXPECT_EQ(answer.route, page.route);
}

}  // namespace
}  // namespace crawl::testbed
