// gumbo and libxml2 give the same page facts: on every kind of page the testbed serves, and on
// pages shaped like the tricky parts of real ones. Where they may differ, the case is listed in
// the README ("Parsers") and here, with what each parser reports.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parsers/html.hpp"
#include "testbed/site.hpp"

namespace crawl::parsers {
namespace {

struct Page {
  std::string name;
  std::string html;
  std::string content_type = "text/html; charset=utf-8";
};

// A string literal with the NUL bytes written in it kept.
template <size_t N>
std::string with_nuls(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

PageFacts facts_of(const Page& page, HtmlParser parser) {
  return parse_page(page.html, page.content_type, ParseOptions{.parser = parser, .collect_links = true});
}

void expect_same_facts(const Page& page) {
  const PageFacts g = facts_of(page, HtmlParser::gumbo);
  const PageFacts x = facts_of(page, HtmlParser::libxml2);
  EXPECT_EQ(g.is_html, x.is_html) << page.name;
  EXPECT_EQ(g.charset, x.charset) << page.name;
  EXPECT_EQ(g.charset_problem, x.charset_problem) << page.name;
  EXPECT_EQ(g.title, x.title) << page.name;
  EXPECT_EQ(g.link_count, x.link_count) << page.name;
  EXPECT_EQ(g.links, x.links) << page.name;
  EXPECT_EQ(g.base_href, x.base_href) << page.name;
  EXPECT_EQ(g.text_bytes, x.text_bytes) << page.name;
}

TEST(ParsersAgree, OnTheTestbedsPages) {
  const testbed::SiteOptions site;
  for (uint64_t n = 0; n < 300; ++n)
    expect_same_facts({"page " + std::to_string(n), testbed::page_html(n, site)});
  for (const auto& sample : testbed::charset_samples()) {
    const std::string type = "text/html; charset=" + std::string(sample.label);
    expect_same_facts(
        {"charset " + std::string(sample.label), testbed::charset_page_html(sample, false), type});
    if (sample.meta_variant)
      expect_same_facts({"charset-meta " + std::string(sample.label),
                         testbed::charset_page_html(sample, true), "text/html"});
  }
  for (uint64_t k = 0; k < testbed::href_cases(0).size(); ++k)
    expect_same_facts({"hrefs " + std::to_string(k), testbed::href_case_html(k, 8080)});
  expect_same_facts({"small", testbed::small_html("Not Found")});
}

TEST(ParsersAgree, OnTheTrickyPartsOfRealPages) {
  const std::vector<Page> pages = {
      {"unclosed tags", "<html><head><title>T</title><body><p>one<p>two<li>three<div><span>four"},
      {"base", "<head><base href='/dir/'><base href='/other/'></head><body><a href='x'>x</a>"},
      {"base without href first", "<base target=_blank><base href=' /d/ '><a href=y>y</a>"},
      {"comments in odd places",
       "<html><!-- <a href=no> --><head><title>A<!-- x -->B</title></head><body>te<!--c-->xt"
       "<a href='yes'<!-- -->>y</a></body></html>"},
      {"entities", "<title>Caf&eacute; &amp; &#x2603; &lt;b&gt;</title><p>&nbsp;&copy;&unknown; a&amp;b"},
      {"script holding </a>",
       "<body><script>var s = '<a href=\"no\">'; document.write('</a>');</script><a href=yes>y</a>"},
      {"style", "<head><style>a { color: red } </style></head><body>visible <a href=s>s</a>"},
      {"noscript", "<body><noscript><a href=ns>ns</a> hidden</noscript> shown"},
      {"template", "<body><template><a href=t>t</a> inside</template> outside"},
      {"many attributes",
       [] {
         std::string a = "<body><a";
         for (int i = 0; i < 2000; ++i) a += " data-" + std::to_string(i) + "=\"v\"";
         return a + " href='last'>x</a>";
       }()},
      {"href without value", "<a href>empty</a><a HREF=' spaced '>s</a>"},
      {"upper case", "<HTML><HEAD><TITLE>Up</TITLE></HEAD><BODY><A HREF='/U'>U</A></BODY></HTML>"},
      {"two titles", "<title>first</title><title>second</title>"},
      {"title in body", "<body><p>x</p><title>late</title>"},
      {"whitespace", "<body>  many   spaces \n\t and\r\nlines  <b>bold</b>word </body>"},
      {"meta charset later", "<head><meta charset=utf-8><meta charset=windows-1252></head><body>x"},
      {"no html at all", "just text, no tags"},
      {"empty", ""},
      {"nested inline", "<p><b><i><u>deep</u></i></b></p><a href=a1><a href=a2>nested anchors</a></a>"},
      {"table text", "<table><tr><td>a</td><td>b</td></tr></table>after"},
      {"svg", "<svg><title>svg title</title><a href='svg-link'>s</a></svg><title>real</title>"},
      // Read as UTF-8, the Latin-1 byte is ill-formed: U+FFFD for both (libxml2 alone switched the
      // page to Latin-1), with an unknown label and with none.
      {"ill-formed utf-8", "<title>caf\xE9</title><p>caf\xE9 <a href='caf\xE9'>l</a>",
       "text/html; charset=bogus"},
      {"ill-formed utf-8 unlabelled", "<meta charset=utf-8><title>caf\xE9</title><p>\xE9t\xE9"},
  };
  for (const Page& page : pages) expect_same_facts(page);
  // A NUL byte: U+FFFD for both in a title and in an attribute.
  const Page nul{"NUL bytes", with_nuls("<title>a\0b</title><a href='x\0y'>l</a>")};
  expect_same_facts(nul);
}

// Where HTML reads an element's content as text and libxml2's HTML 4 parser reads elements in it,
// a link written there is a link for libxml2 only. The README lists these cases.
TEST(ParsersAgree, ExceptWhereHtmlReadsTextAndLibxml2ReadsElements) {
  const std::vector<Page> pages = {
      // HTML: <textarea> content is text (RCDATA); <iframe> content is raw text; <![CDATA[ outside
      // SVG and MathML is a bogus comment up to the first '>'.
      {"textarea", "<form><textarea>t <a href=x>x</a></textarea></form>"},
      {"iframe", "<iframe>fallback <a href=x>x</a></iframe>after"},
      {"cdata in html", "<body>a<![CDATA[ b <a href=x>x</a> ]]>d"},
  };
  for (const Page& page : pages) {
    const PageFacts g = facts_of(page, HtmlParser::gumbo);
    const PageFacts x = facts_of(page, HtmlParser::libxml2);
    EXPECT_EQ(g.link_count, 0) << page.name;
    EXPECT_EQ(x.link_count, 1) << page.name;
    EXPECT_EQ(x.links, std::vector<std::string>{"x"}) << page.name;
  }
  // Elements in a title: text to HTML (RCDATA); libxml2 keeps their text only.
  const Page title{"elements in a title", "<title>a <b>b</b></title>"};
  EXPECT_EQ(facts_of(title, HtmlParser::gumbo).title, "a <b>b</b>");
  EXPECT_EQ(facts_of(title, HtmlParser::libxml2).title, "a b");
  // A NUL byte in text: dropped by HTML's tree construction, U+FFFD (3 bytes) for libxml2.
  const Page nul{"NUL in text", with_nuls("<body>t\0u")};
  EXPECT_EQ(facts_of(nul, HtmlParser::gumbo).text_bytes, 2);
  EXPECT_EQ(facts_of(nul, HtmlParser::libxml2).text_bytes, 5);
}

}  // namespace
}  // namespace crawl::parsers
