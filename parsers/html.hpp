// Page facts from a fetched body: visible text size, title, links, charset. HTML goes through gumbo
// or libxml2; anything else is measured without parsing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crawl::parsers {

// The HTML parsers a crawl can use. gumbo builds the whole tree, as the HTML standard's parsing
// algorithm does; libxml2 reads the page as a stream of SAX events (its HTML 4 parser), several
// times faster. README ("Parsers") lists where their facts may differ.
enum class HtmlParser { gumbo, libxml2 };

// "gumbo" or "libxml2".
std::string_view parser_name(HtmlParser parser);
// The parser a name (as parser_name writes it) names; nullopt for any other.
std::optional<HtmlParser> parser_named(std::string_view name);

struct ParseOptions {
  HtmlParser parser = HtmlParser::gumbo;
  bool collect_links = false;     // keep the href values (needed when following links)
  size_t max_title_bytes = 1024;  // longer titles are cut at a UTF-8 boundary
};

struct PageFacts {
  bool is_html = false;
  // Set when the page declares an encoding that cannot be used (see SniffedEncoding::problem): the
  // crawl records it as a `charset` failure.
  std::string charset_problem;
  int64_t text_bytes = 0;            // visible text in UTF-8 bytes (see html.cpp for the exact rule)
  std::optional<std::string> title;  // whitespace-collapsed <title>, in UTF-8; unset when there is none
  int64_t link_count = 0;            // <a href> elements
  // HTML and text/plain: the Encoding Standard's name (lower-cased) of the encoding the text was
  // decoded from ("windows-1252" for a page labelled iso-8859-1, "utf-8" when nothing is declared).
  // Other content is not decoded: the Content-Type charset as sent, lower-cased, or empty.
  std::string charset;
  std::string base_href;           // <base href> if present (for resolving links)
  std::vector<std::string> links;  // raw href values in document order (only with collect_links)
};

// True for text/html and application/xhtml+xml (parameters and case ignored). An empty content type
// counts as HTML when the body starts (after whitespace) with '<'.
bool is_html(std::string_view content_type, std::string_view body);

// The charset parameter of a Content-Type header value, lower-cased; empty when absent.
std::string charset_from_content_type(std::string_view content_type);

// HTML is decoded to UTF-8 before either parser reads it, from the encoding sniff_encoding finds (BOM,
// Content-Type charset, <meta> prescan, UTF-8), or from a later <meta> that contradicts a tentative
// one; text/plain the same way without the <meta> steps. Titles, links and text sizes are UTF-8.
// Never throws on any input: malformed or hostile HTML (any depth, any size) yields best-effort facts.
PageFacts parse_page(std::string_view body, std::string_view content_type, const ParseOptions& options);

}  // namespace crawl::parsers
