#include "parsers/html.hpp"

#include <gumbo.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/text.hpp"
#include "parsers/charset.hpp"
#include "parsers/facts_builder.hpp"
#include "parsers/gumbo_arena.hpp"

namespace crawl::parsers {

using namespace detail;

namespace {

// Gumbo 0.10 has no nesting limit: its tree construction scans the stack of open elements for
// every start tag (quadratic time on 100,000 nested <div>s) and gumbo_destroy_output() frees the
// tree recursively (a million nested elements overflow a thread's stack). A cheap scan estimates
// the nesting depth first; past kMaxDepth only the prefix before that point is parsed. Real pages
// nest a few dozen levels; the estimate ignores void elements, self-closing tags, comments and
// script/style contents, and over-counts only unclosed tags that HTML closes implicitly (<p>, <li>).
constexpr int kMaxDepth = 4096;

// gumbo records every parse error by default (one struct per stray end tag, duplicate attribute,
// ...), kept until the tree is freed: a 10 MB page of stray end tags would hold millions. The facts
// need none of them. (On the documentation pages of perf/docs.py, leaving them out saves no
// measurable time: the point is the bound on memory.) Memory comes from the thread's GumboArena.
GumboOptions gumbo_options(GumboArena& arena) {
  GumboOptions options = kGumboDefaultOptions;
  options.max_errors = 0;
  use_arena(options, arena);
  return options;
}

// gumbo asks for about 11 bytes per byte of the documentation pages of perf/docs.py (2 on the
// testbed's: `crawl_microbench --benchmark_filter=GumboAllocations`), much of it freed again before
// the parse ends. The arena takes about as much from its blocks (arena_per_page_byte): the 8-byte
// header it adds to each allocation costs about what reusing the small pieces gumbo frees saves.
// Past 32 MB for one page, or 8 bytes per byte of a larger page, its allocations go to malloc as
// they would without the arena: the arena adds at most that to what a page holds while it is parsed.
constexpr size_t kArenaMinimum = size_t{32} << 20;
constexpr size_t kArenaBytesPerPageByte = 8;

// Asked of every start tag the depth scan meets: the first byte is compared before the rest.
bool is_void_element(std::string_view tag) {
  static constexpr std::array<std::string_view, 14> kVoid = {"area",  "base",   "br",    "col",  "embed",
                                                             "hr",    "img",    "input", "link", "meta",
                                                             "param", "source", "track", "wbr"};
  if (tag.empty()) return false;
  for (std::string_view name : kVoid)
    if (name[0] == tag[0] && name == tag) return true;
  return false;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != b[i]) return false;
  return true;
}

// Whether `html` holds at most `limit` start tags ('<' and an ASCII letter), counted 16 bytes at a
// time where the CPU allows.
bool at_most_start_tags(std::string_view html, size_t limit) {
  size_t count = 0;
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i lt = _mm_set1_epi8('<');
  const __m128i to_lower = _mm_set1_epi8(0x20);
  const __m128i a = _mm_set1_epi8('a');
  const __m128i letters = _mm_set1_epi8(25);
  for (; i + 17 <= html.size(); i += 16) {
    const __m128i here = _mm_loadu_si128(reinterpret_cast<const __m128i*>(html.data() + i));
    const __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(html.data() + i + 1));
    // A letter: (byte | 0x20) - 'a' is 0 to 25, as an unsigned byte.
    const __m128i offset = _mm_sub_epi8(_mm_or_si128(next, to_lower), a);
    const __m128i letter = _mm_cmpeq_epi8(_mm_min_epu8(offset, letters), offset);
    const __m128i opens = _mm_and_si128(_mm_cmpeq_epi8(here, lt), letter);
    count += static_cast<size_t>(bits_set(static_cast<uint32_t>(_mm_movemask_epi8(opens))));
    if (count > limit) return false;
  }
#endif
  for (; i + 1 < html.size(); ++i) count += html[i] == '<' && is_ascii_alpha(html[i + 1]);
  return count <= limit;
}

// The length of the prefix of `html` whose estimated nesting depth stays within kMaxDepth. It runs
// on every page before the parser, so it allocates nothing. Only a start tag deepens the nesting,
// so a page with no more than kMaxDepth of them is passed whole after a count (two pages in three
// of perf/docs.py's, by bytes).
size_t parseable_prefix(std::string_view html) {
  if (at_most_start_tags(html, kMaxDepth)) return html.size();
  int depth = 0;
  size_t i = 0;
  const size_t n = html.size();
  char tag_buffer[16];
  while (i < n) {
    const void* lt = std::memchr(html.data() + i, '<', n - i);
    if (!lt) break;
    i = static_cast<size_t>(static_cast<const char*>(lt) - html.data());
    if (i + 1 >= n) break;
    const char next = html[i + 1];
    if (next == '!') {  // comment or doctype
      size_t end = html.compare(i, 4, "<!--") == 0 ? html.find("-->", i + 4) : html.find('>', i);
      if (end == std::string_view::npos) break;
      i = end + 1;
      continue;
    }
    if (next == '/') {
      if (depth > 0) --depth;
      i += 2;
      continue;
    }
    if (!is_ascii_alpha(next)) {
      ++i;
      continue;
    }
    size_t length = 0;
    size_t name_end = i + 1;
    while (name_end < n && is_ascii_alnum(html[name_end]) && length < sizeof tag_buffer)
      tag_buffer[length++] = ascii_lower(html[name_end++]);
    const std::string_view tag(tag_buffer, length);
    const size_t close = html.find('>', name_end);
    if (close == std::string_view::npos) break;
    const bool self_closing = html[close - 1] == '/';
    if (tag == "script" || tag == "style") {  // raw text: skip to the end tag
      size_t end = html.find("</", close);
      while (end != std::string_view::npos && !equals_ignoring_case(html.substr(end + 2, tag.size()), tag))
        end = html.find("</", end + 2);
      if (end == std::string_view::npos) break;
      i = end;
      continue;
    }
    if (!self_closing && !is_void_element(tag) && ++depth > kMaxDepth) return i;
    i = close + 1;
  }
  return n;
}

// hides_text() for gumbo's tags, compared as numbers.
bool gumbo_hides_text(GumboTag tag) {
  return tag == GUMBO_TAG_HEAD || tag == GUMBO_TAG_SCRIPT || tag == GUMBO_TAG_STYLE ||
         tag == GUMBO_TAG_NOSCRIPT || tag == GUMBO_TAG_TEMPLATE || tag == GUMBO_TAG_TITLE;
}

const GumboAttribute* attribute(const GumboElement& e, const char* name) {
  return gumbo_get_attribute(&e.attributes, name);
}

}  // namespace

std::string_view parser_name(HtmlParser parser) {
  return parser == HtmlParser::libxml2 ? "libxml2" : "gumbo";
}

std::optional<HtmlParser> parser_named(std::string_view name) {
  if (name == "gumbo") return HtmlParser::gumbo;
  if (name == "libxml2") return HtmlParser::libxml2;
  return std::nullopt;
}

std::string charset_from_content_type(std::string_view content_type) {
  const std::string lowered = lower(content_type);
  auto pos = lowered.find("charset=");
  if (pos == std::string::npos) return "";
  std::string_view value = std::string_view(lowered).substr(pos + 8);
  value = value.substr(0, value.find(';'));
  value = trim(value);
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\''))
    value = value.substr(1, value.size() - 2);
  return std::string(trim(value));
}

bool is_html(std::string_view content_type, std::string_view body) {
  std::string type = lower(trim(content_type.substr(0, content_type.find(';'))));
  if (type.empty()) {
    std::string_view b = trim(body.substr(0, 512));
    return !b.empty() && b.front() == '<';
  }
  return type == "text/html" || type == "application/xhtml+xml";
}

namespace {

// Gumbo's facts about UTF-8 `html` into `facts` (all but the charset); returns the encoding the
// first <meta> of the tree that names a known one names (nullptr when none does).
const Encoding* measure_with_gumbo(std::string_view html, const ParseOptions& options, PageFacts& facts) {
  thread_local GumboArena arena(kArenaMinimum);
  arena.set_limit(std::max(kArenaMinimum, html.size() * kArenaBytesPerPageByte));
  const GumboOptions gumbo = gumbo_options(arena);
  GumboOutput* out = gumbo_parse_with_options(&gumbo, html.data(), html.size());
  // The tree lives in the arena's blocks: it is given back with them, unless part of it went to
  // malloc (a page past the arena's limit), which is then freed node by node.
  struct Release {
    const GumboOptions& gumbo;
    GumboOutput* out;
    GumboArena& arena;
    ~Release() {
      if (out && arena.live_heap_allocations() > 0) gumbo_destroy_output(&gumbo, out);
      arena.reset();
    }
  } release{gumbo, out, arena};
  if (!out) return nullptr;

  FactsBuilder builder(options, facts);
  // Each entry: a node, and whether its text is hidden (inside head, script, style...).
  std::vector<std::pair<const GumboNode*, bool>> stack;
  stack.emplace_back(out->document, false);
  while (!stack.empty()) {
    auto [node, hidden] = stack.back();
    stack.pop_back();
    switch (node->type) {
      case GUMBO_NODE_TEXT:
      case GUMBO_NODE_CDATA:
        if (!hidden) builder.visible_text(node->v.text.text, std::strlen(node->v.text.text));
        break;
      case GUMBO_NODE_WHITESPACE:
        if (!hidden) builder.visible_space();
        break;
      case GUMBO_NODE_DOCUMENT:
      case GUMBO_NODE_ELEMENT:
      case GUMBO_NODE_TEMPLATE: {
        const GumboVector* children = nullptr;
        bool child_hidden = hidden;
        if (node->type == GUMBO_NODE_DOCUMENT) {
          children = &node->v.document.children;
        } else {
          const GumboElement& e = node->v.element;
          children = &e.children;
          child_hidden = hidden || gumbo_hides_text(e.tag);
          if (e.tag == GUMBO_TAG_TITLE) {
            builder.begin_title();
            for (unsigned i = 0; i < e.children.length; ++i) {
              auto* child = static_cast<const GumboNode*>(e.children.data[i]);
              if (child->type == GUMBO_NODE_TEXT || child->type == GUMBO_NODE_WHITESPACE)
                builder.title_text(child->v.text.text, std::strlen(child->v.text.text));
            }
            builder.end_title();
          } else if (e.tag == GUMBO_TAG_A) {
            if (const GumboAttribute* href = attribute(e, "href")) builder.link(href->value);
          } else if (e.tag == GUMBO_TAG_BASE) {
            if (const GumboAttribute* href = attribute(e, "href")) builder.base(href->value);
          } else if (e.tag == GUMBO_TAG_META) {
            const GumboAttribute* charset = attribute(e, "charset");
            const GumboAttribute* equiv = attribute(e, "http-equiv");
            const GumboAttribute* content = attribute(e, "content");
            builder.meta(meta_encoding(charset ? charset->value : nullptr, equiv ? equiv->value : nullptr,
                                       content ? content->value : nullptr));
          }
        }
        // Pushed in reverse so that children are visited in document order.
        for (unsigned i = children->length; i-- > 0;)
          stack.emplace_back(static_cast<const GumboNode*>(children->data[i]), child_hidden);
        break;
      }
      case GUMBO_NODE_COMMENT:
        break;
    }
  }
  return builder.finish();
}

// Both parsers read the same prefix of a page (see kMaxDepth), so that their facts agree on it.
const Encoding* measure_html(std::string_view utf8, const ParseOptions& options, PageFacts& facts) {
  const std::string_view html = utf8.substr(0, parseable_prefix(utf8));
  return options.parser == HtmlParser::libxml2 ? measure_with_libxml2(html, options, facts)
                                               : measure_with_gumbo(html, options, facts);
}

}  // namespace

PageFacts parse_page(std::string_view body, std::string_view content_type, const ParseOptions& options) {
  PageFacts facts;
  const std::string http_label = charset_from_content_type(content_type);
  const bool html = is_html(content_type, body);
  if (!html && lower(trim(content_type.substr(0, content_type.find(';')))) != "text/plain") {
    facts.charset = http_label;  // nothing is decoded: the label as sent
    return facts;
  }
  SniffedEncoding sniffed = sniff_encoding(body, http_label, html ? BodyKind::kHtml : BodyKind::kPlainText);
  facts.charset_problem = std::move(sniffed.problem);
  const Encoding* encoding = sniffed.encoding;
  const std::string_view bytes = body.substr(sniffed.bom_bytes);
  std::string storage;
  std::string_view utf8 = to_utf8(*encoding, bytes, storage);
  if (!html) {  // text/plain
    facts.charset = std::string(encoding->name);
    facts.text_bytes = static_cast<int64_t>(utf8.size());
    return facts;
  }
  facts.is_html = true;
  const Encoding* tree_meta = measure_html(utf8, options, facts);
  // An encoding found by the prescan or by default is tentative: a <meta> the parser meets later
  // (past the first 1024 bytes) that names another one makes the page be read again in that one,
  // as the HTML standard's "change the encoding" does. UTF-16 there means UTF-8, x-user-defined
  // windows-1252.
  if (sniffed.source == EncodingSource::kMeta || sniffed.source == EncodingSource::kDefault) {
    if (tree_meta && tree_meta->name.starts_with("utf-16")) tree_meta = &utf8_encoding();
    if (tree_meta && tree_meta->name == "x-user-defined") tree_meta = encoding_for_label("windows-1252");
    if (tree_meta && tree_meta != encoding && tree_meta->name != "replacement" && is_decodable(*tree_meta)) {
      encoding = tree_meta;
      utf8 = to_utf8(*encoding, bytes, storage);
      facts = PageFacts{.is_html = true, .charset_problem = std::move(facts.charset_problem)};
      measure_html(utf8, options, facts);
    }
  }
  facts.charset = std::string(encoding->name);
  return facts;
}

}  // namespace crawl::parsers
