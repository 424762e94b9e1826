#include "parsers/html.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace crawl::parsers {
namespace {

// Every parse_page test runs with each HTML parser.
class ParsePage : public ::testing::TestWithParam<HtmlParser> {
 protected:
  static ParseOptions options() { return ParseOptions{.parser = GetParam()}; }
};
using ParsePageRobustness = ParsePage;

std::string parser_test_name(const ::testing::TestParamInfo<HtmlParser>& info) {
  return std::string(parser_name(info.param));
}

TEST(IsHtml, ByContentTypeOrSniffedWhenThereIsNone) {
  EXPECT_TRUE(is_html("text/html", ""));
  EXPECT_TRUE(is_html("TEXT/HTML; charset=UTF-8", ""));
  EXPECT_TRUE(is_html("application/xhtml+xml", ""));
  EXPECT_FALSE(is_html("text/plain", "<html>"));
  EXPECT_FALSE(is_html("application/json", ""));
  EXPECT_TRUE(is_html("", "  \n<!doctype html><p>x"));
  EXPECT_FALSE(is_html("", "just text"));
}

TEST(CharsetFromContentType, LowerCasedAndUnquoted) {
  EXPECT_EQ(charset_from_content_type("text/html; charset=UTF-8"), "utf-8");
  EXPECT_EQ(charset_from_content_type("text/html;charset=\"ISO-8859-1\"; x=y"), "iso-8859-1");
  EXPECT_EQ(charset_from_content_type("text/html"), "");
}

TEST_P(ParsePage, VisibleTextIsCollapsedAndSkipsHeadScriptStyle) {
  const std::string html =
      "<html><head><title>  The \n Title </title><style>p{}</style></head>"
      "<body>  Hello   <b>big</b>\n\n world <script>var x=1;</script><noscript>no</noscript>"
      "<template>t</template><p>é!</p>  </body></html>";
  auto f = parse_page(html, "text/html", options());
  EXPECT_TRUE(f.is_html);
  ASSERT_TRUE(f.title.has_value());
  EXPECT_EQ(*f.title, "The Title");
  // "Hello big world é!" : 18 characters, é is two bytes.
  EXPECT_EQ(f.text_bytes, 19);
}

TEST_P(ParsePage, CountsAnchorsWithHrefAndCollectsThemInOrder) {
  const std::string html =
      "<base href='http://example.com/dir/'><a href=' /a '>1</a><a name=x>no</a><a href=b.html>2</a>"
      "<area href=c>";
  ParseOptions o = options();
  o.collect_links = true;
  auto f = parse_page(html, "text/html", o);
  EXPECT_EQ(f.link_count, 2);
  ASSERT_EQ(f.links.size(), 2u);
  EXPECT_EQ(f.links[0], "/a");
  EXPECT_EQ(f.links[1], "b.html");
  EXPECT_EQ(f.base_href, "http://example.com/dir/");
  EXPECT_EQ(parse_page(html, "text/html", options()).links.size(), 0u);
}

// HTML's "frozen base URL": the first <base> that has an href, even an empty one (which names the
// document itself); a <base> without href (target only) does not count.
TEST_P(ParsePage, TheFirstBaseWithAnHrefIsTheBase) {
  EXPECT_EQ(parse_page("<base target=_top><base href='/one/'><base href='/two/'>", "text/html", options())
                .base_href,
            "/one/");
  EXPECT_EQ(parse_page("<base href=''><base href='/two/'>", "text/html", options()).base_href, "");
}

TEST_P(ParsePage, NoTitleElementMeansNoTitle) {
  auto f = parse_page("<p>text</p>", "text/html", options());
  EXPECT_FALSE(f.title.has_value());
  EXPECT_TRUE(parse_page("<title></title>", "text/html", options()).title.has_value());
}

TEST_P(ParsePage, TitleIsCutAtAUtf8Boundary) {
  ParseOptions o = options();
  o.max_title_bytes = 5;
  auto f = parse_page("<title>abcdé</title>", "text/html", o);  // é would straddle byte 5
  EXPECT_EQ(*f.title, "abcd");
}

TEST_P(ParsePage, CharsetFromHeaderWinsOverMeta) {
  const std::string html = "<meta charset='Shift_JIS'><p>x";
  EXPECT_EQ(parse_page(html, "text/html", options()).charset, "shift_jis");
  EXPECT_EQ(parse_page(html, "text/html; charset=utf-8", options()).charset, "utf-8");
  EXPECT_EQ(parse_page("<meta http-equiv='Content-Type' content='text/html; charset=KOI8-R'>", "text/html",
                       options())
                .charset,
            "koi8-r");
}

TEST_P(ParsePage, NonHtmlIsMeasuredWithoutParsing) {
  auto text = parse_page("plain <title>no</title>", "text/plain; charset=us-ascii", options());
  EXPECT_FALSE(text.is_html);
  EXPECT_EQ(text.text_bytes, 23);
  EXPECT_FALSE(text.title.has_value());
  EXPECT_EQ(text.charset, "windows-1252");  // the encoding us-ascii names in the Encoding Standard
  auto bin = parse_page(std::string("\x89PNG\0\0", 6), "image/png", options());
  EXPECT_EQ(bin.text_bytes, 0);
  EXPECT_EQ(bin.link_count, 0);
}

// Hostile input: each must finish quickly and without crashing (ASan/UBSan builds run these too).
double seconds_to_parse(const std::string& html, PageFacts* facts = nullptr) {
  auto start = std::chrono::steady_clock::now();
  auto f = parse_page(html, "text/html", ParseOptions{.parser = ParsePage::GetParam()});
  if (facts) *facts = f;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

TEST_P(ParsePageRobustness, DeeplyNestedDivs) {
  PageFacts f;
  EXPECT_LT(seconds_to_parse("<title>deep</title>" + repeat("<div>", 100'000) + "x", &f), 20);
  EXPECT_EQ(*f.title, "deep");
}

// The bounds below only catch work that grows faster than the input (they are many times what a
// parse takes); a sanitizer's instrumentation makes every parse several times slower.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double kSlowdown = 5;
#else
constexpr double kSlowdown = 1;
#endif

TEST_P(ParsePageRobustness, AMillionNestedFormattingElements) {
  PageFacts f;
  EXPECT_LT(seconds_to_parse("<title>b</title><a href=/x>l</a>" + repeat("<b>", 1'000'000), &f),
            20 * kSlowdown);
  EXPECT_EQ(f.link_count, 1);
}

// The depth bound is 4,096 open elements: the element that would be the 4,097th is where the parse
// stops, for both parsers.
TEST_P(ParsePageRobustness, NestingIsCutJustPastTheBound) {
  const auto links_after = [&](const std::string& opening, size_t times) {
    PageFacts f;
    seconds_to_parse(repeat(opening, times) + "<a href=/x>x", &f);
    return f.link_count;
  };
  EXPECT_EQ(links_after("<div>", 4095), 1);
  EXPECT_EQ(links_after("<div>", 4096), 0);
  // Upper-case names count; a '<' before a space or a digit opens nothing.
  EXPECT_EQ(links_after("<P>< x<1", 4095), 1);
  EXPECT_EQ(links_after("<P>< x<1", 4096), 0);
}

TEST_P(ParsePageRobustness, ManyVoidElementsAreNotNesting) {
  PageFacts f;
  seconds_to_parse(repeat("<br>", 20'000) + "<a href=/end>end</a>", &f);
  EXPECT_EQ(f.link_count, 1) << "void elements must not count as nesting";
}

TEST_P(ParsePageRobustness, GarbageNulBytesAndInvalidUtf8) {
  std::string junk;
  for (int i = 0; i < 200'000; ++i) junk.push_back(static_cast<char>((i * 7919) % 256));
  EXPECT_LT(seconds_to_parse(junk), 20 * kSlowdown);
  EXPECT_LT(seconds_to_parse(std::string("<p>\0\0\xff\xfe<a href=\"\xc3\x28\">", 16)), 20 * kSlowdown);
  EXPECT_LT(seconds_to_parse("<a href=<<<<<<<div <p <title>unclosed"), 20 * kSlowdown);
}

TEST_P(ParsePageRobustness, AFiftyMegabytePage) {
  PageFacts f;
  EXPECT_LT(seconds_to_parse(
                "<title>big</title>" + repeat("<p>some words here <a href=/x>x</a></p>\n", 1'250'000), &f),
            60 * kSlowdown);
  EXPECT_EQ(f.link_count, 1'250'000);
}

INSTANTIATE_TEST_SUITE_P(Parsers, ParsePage, ::testing::Values(HtmlParser::gumbo, HtmlParser::libxml2),
                         parser_test_name);
INSTANTIATE_TEST_SUITE_P(Parsers, ParsePageRobustness,
                         ::testing::Values(HtmlParser::gumbo, HtmlParser::libxml2), parser_test_name);

}  // namespace
}  // namespace crawl::parsers
