#include "parsers/html.hpp"

#include <gumbo.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <memory>

#include "parsers/charset.hpp"

namespace crawl::parsers {
namespace {

// Gumbo 0.10 has no nesting limit: its tree construction scans the stack of open elements for
// every start tag (quadratic time on 100,000 nested <div>s) and gumbo_destroy_output() frees the
// tree recursively (a million nested elements overflow a thread's stack). A cheap scan estimates
// the nesting depth first; past kMaxDepth only the prefix before that point is parsed. Real pages
// nest a few dozen levels; the estimate ignores void elements, self-closing tags, comments and
// script/style contents, and over-counts only unclosed tags that HTML closes implicitly (<p>, <li>).
constexpr int kMaxDepth = 4096;

struct OutputDeleter {
  void operator()(GumboOutput* out) const noexcept { gumbo_destroy_output(&kGumboDefaultOptions, out); }
};
using Output = std::unique_ptr<GumboOutput, OutputDeleter>;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_void_element(std::string_view tag) {
  static constexpr std::array<std::string_view, 14> kVoid = {"area",  "base",   "br",    "col",  "embed",
                                                             "hr",    "img",    "input", "link", "meta",
                                                             "param", "source", "track", "wbr"};
  return std::find(kVoid.begin(), kVoid.end(), tag) != kVoid.end();
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  return true;
}

// The length of the prefix of `html` whose estimated nesting depth stays within kMaxDepth. It runs
// on every page before gumbo, so it allocates nothing.
size_t parseable_prefix(std::string_view html) {
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
    if (!std::isalpha(static_cast<unsigned char>(next))) {
      ++i;
      continue;
    }
    size_t length = 0;
    size_t name_end = i + 1;
    while (name_end < n && std::isalnum(static_cast<unsigned char>(html[name_end])) &&
           length < sizeof tag_buffer)
      tag_buffer[length++] = static_cast<char>(std::tolower(static_cast<unsigned char>(html[name_end++])));
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

// Appends text with every run of whitespace collapsed to one space (the separating space is only
// written once more text follows, so the result is trimmed at both ends).
class Collapser {
 public:
  explicit Collapser(std::string* out, size_t limit = SIZE_MAX) : out_(out), limit_(limit) {}
  void add(const char* s, size_t len) {
    for (size_t i = 0; i < len; ++i) {
      if (is_space(s[i])) {
        pending_space_ = count_ > 0;
        continue;
      }
      if (pending_space_) emit(' ');
      pending_space_ = false;
      emit(s[i]);
    }
  }
  void space() { pending_space_ = count_ > 0; }
  int64_t count() const { return count_; }

 private:
  void emit(char c) {
    ++count_;
    if (out_ && out_->size() < limit_) out_->push_back(c);
  }
  std::string* out_;
  size_t limit_;
  int64_t count_ = 0;
  bool pending_space_ = false;
};

// Cuts `s` to at most `limit` bytes without splitting a UTF-8 sequence.
void cut_utf8(std::string& s, size_t limit) {
  if (s.size() <= limit) return;
  size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
}

const GumboAttribute* attribute(const GumboElement& e, const char* name) {
  return gumbo_get_attribute(&e.attributes, name);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool hides_text(GumboTag tag) {
  return tag == GUMBO_TAG_HEAD || tag == GUMBO_TAG_SCRIPT || tag == GUMBO_TAG_STYLE ||
         tag == GUMBO_TAG_NOSCRIPT || tag == GUMBO_TAG_TEMPLATE || tag == GUMBO_TAG_TITLE;
}

}  // namespace

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

// Gumbo's facts about UTF-8 `html` into `facts` (all but the charset), and the encoding the first
// <meta> of the tree that names a known one names (nullptr when none does).
void measure_html(std::string_view utf8, const ParseOptions& options, PageFacts& facts,
                  const Encoding** tree_meta) {
  const std::string_view html = utf8.substr(0, parseable_prefix(utf8));
  Output out(gumbo_parse_with_options(&kGumboDefaultOptions, html.data(), html.size()));
  if (!out) return;

  *tree_meta = nullptr;
  bool base_found = false;  // HTML: the first <base> with an href decides, even an empty one
  Collapser text(nullptr);
  // Each entry: a node, and whether its text is hidden (inside head, script, style...).
  std::vector<std::pair<const GumboNode*, bool>> stack;
  stack.emplace_back(out->document, false);
  while (!stack.empty()) {
    auto [node, hidden] = stack.back();
    stack.pop_back();
    switch (node->type) {
      case GUMBO_NODE_TEXT:
      case GUMBO_NODE_CDATA:
        if (!hidden) text.add(node->v.text.text, std::strlen(node->v.text.text));
        break;
      case GUMBO_NODE_WHITESPACE:
        if (!hidden) text.space();
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
          child_hidden = hidden || hides_text(e.tag);
          if (e.tag == GUMBO_TAG_TITLE && !facts.title) {
            std::string title;
            Collapser collapse(&title, options.max_title_bytes + 4);
            for (unsigned i = 0; i < e.children.length; ++i) {
              auto* child = static_cast<const GumboNode*>(e.children.data[i]);
              if (child->type == GUMBO_NODE_TEXT || child->type == GUMBO_NODE_WHITESPACE)
                collapse.add(child->v.text.text, std::strlen(child->v.text.text));
            }
            cut_utf8(title, options.max_title_bytes);
            facts.title = std::move(title);
          } else if (e.tag == GUMBO_TAG_A) {
            if (const GumboAttribute* href = attribute(e, "href")) {
              ++facts.link_count;
              if (options.collect_links) facts.links.emplace_back(trim(href->value));
            }
          } else if (e.tag == GUMBO_TAG_BASE && !base_found) {
            if (const GumboAttribute* href = attribute(e, "href")) {
              facts.base_href = std::string(trim(href->value));
              base_found = true;
            }
          } else if (e.tag == GUMBO_TAG_META && !*tree_meta) {
            if (const GumboAttribute* cs = attribute(e, "charset")) {
              *tree_meta = encoding_for_label(cs->value);
            } else if (const GumboAttribute* equiv = attribute(e, "http-equiv");
                       equiv && lower(trim(equiv->value)) == "content-type") {
              if (const GumboAttribute* content = attribute(e, "content"))
                *tree_meta = encoding_for_label(charset_from_content_type(content->value));
            }
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
  facts.text_bytes = text.count();
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
    facts.text_bytes =
        static_cast<int64_t>(encoding == &utf8_encoding() ? utf8_size_with_replacement(utf8) : utf8.size());
    return facts;
  }
  facts.is_html = true;
  const Encoding* tree_meta = nullptr;
  measure_html(utf8, options, facts, &tree_meta);
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
      measure_html(utf8, options, facts, &tree_meta);
    }
  }
  facts.charset = std::string(encoding->name);
  return facts;
}

}  // namespace crawl::parsers
