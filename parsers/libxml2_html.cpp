// The page facts through libxml2's HTML parser in SAX mode: no tree is built; the handler below sees
// each start tag, end tag and run of text once, in document order, and feeds the same FactsBuilder
// the gumbo walk feeds.
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlmemory.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

#include "parsers/bump_region.hpp"
#include "parsers/facts_builder.hpp"

namespace crawl::parsers::detail {
namespace {

struct SaxState {
  FactsBuilder& builder;
  int hiding = 0;  // open elements that hide their text (head, script, style, ...)
};

std::string_view as_view(const xmlChar* s) {
  return s ? std::string_view(reinterpret_cast<const char*>(s)) : std::string_view();
}

// The value of attribute `name` in libxml2's null-terminated list of name/value pairs; "" for an
// attribute written without a value, nullptr when absent.
const char* attribute(const xmlChar** attributes, const char* name) {
  if (!attributes) return nullptr;
  for (const xmlChar** a = attributes; a[0]; a += 2)
    if (std::strcmp(reinterpret_cast<const char*>(a[0]), name) == 0)
      return a[1] ? reinterpret_cast<const char*>(a[1]) : "";
  return nullptr;
}

void on_start(void* context, const xmlChar* raw_name, const xmlChar** attributes) {
  auto& s = *static_cast<SaxState*>(context);
  const std::string_view name = as_view(raw_name);
  if (hides_text(name)) ++s.hiding;
  if (name == "a") {
    if (const char* href = attribute(attributes, "href")) s.builder.link(href);
  } else if (name == "base") {
    if (const char* href = attribute(attributes, "href")) s.builder.base(href);
  } else if (name == "meta") {
    s.builder.meta(meta_encoding(attribute(attributes, "charset"), attribute(attributes, "http-equiv"),
                                 attribute(attributes, "content")));
  } else if (name == "title") {
    s.builder.begin_title();
  }
}

void on_end(void* context, const xmlChar* raw_name) {
  auto& s = *static_cast<SaxState*>(context);
  const std::string_view name = as_view(raw_name);
  if (hides_text(name) && s.hiding > 0) --s.hiding;
  if (name == "title") s.builder.end_title();
}

void on_text(void* context, const xmlChar* text, int length) {
  auto& s = *static_cast<SaxState*>(context);
  const auto* chars = reinterpret_cast<const char*>(text);
  const auto size = static_cast<size_t>(length);
  s.builder.title_text(chars, size);
  if (s.hiding == 0) s.builder.visible_text(chars, size);
}

// A title's text is RCDATA in HTML: a comment in it is part of the title, as gumbo keeps it.
void on_comment(void* context, const xmlChar* text) {
  auto& s = *static_cast<SaxState*>(context);
  if (!s.builder.in_title()) return;
  const std::string_view body = as_view(text);
  s.builder.title_text("<!--", 4);
  s.builder.title_text(body.data(), body.size());
  s.builder.title_text("-->", 3);
}

void ignore_message(void*, const char*, ...) {}

// libxml2 allocates as it parses: its copy of the page, each attribute value, the names it keeps,
// and each error it records with its formatted message (one for every HTML5 element its HTML 4
// tables lack). During a parse, its allocations are cut from a region of the parsing thread's and
// taken back whole when the parse ends, instead of going to malloc and free one by one; the region
// stays with the thread, its memory faulted in already, where libxml2's copy of each page used to
// land in fresh pages. What does not fit goes to malloc.
constexpr size_t kRegionBytes = size_t{2} << 20;
// The thread's region, made by its first parse. A pointer rather than a thread_local object: libxml2
// frees its per-thread state as the thread ends, after the thread's C++ objects are destroyed, and
// that freeing must find no region, not a destroyed one.
thread_local BumpRegion* region = nullptr;
thread_local bool parsing = false;  // libxml2 is parsing a page on this thread, in `region`

struct RegionOwner {
  ~RegionOwner() { delete std::exchange(region, nullptr); }
  void make() {
    if (!region) region = new BumpRegion(kRegionBytes);
  }
};
thread_local RegionOwner region_owner;

bool in_region(const void* p) {
  return region && region->holds(p);
}

void* allocate(size_t size) {
  if (parsing)
    if (void* p = region->allocate(size)) return p;
  return std::malloc(size);
}

// A pointer into the region is given back with the region: freeing it is nothing.
void deallocate(void* p) {
  if (!in_region(p)) std::free(p);
}

void* reallocate(void* p, size_t size) {
  if (!p) return allocate(size);
  if (!in_region(p)) return std::realloc(p, size);
  if (region->resize(p, size)) return p;
  void* moved = allocate(size);
  if (moved) std::memcpy(moved, p, std::min(size, region->size_of(p)));
  return moved;
}

char* duplicate(const char* s) {
  const size_t size = std::strlen(s) + 1;
  auto* copy = static_cast<char*>(allocate(size));
  if (copy) std::memcpy(copy, s, size);
  return copy;
}

// Makes libxml2's allocations on this thread come from `region` until the parse ends.
class RegionParse {
 public:
  RegionParse() {
    region_owner.make();
    region->reset();
    parsing = true;
  }
  ~RegionParse() {
    // libxml2 keeps a copy of the thread's last error, allocated during the parse: it goes before
    // the region is reused.
    xmlResetLastError();
    parsing = false;
  }
  RegionParse(const RegionParse&) = delete;
  RegionParse& operator=(const RegionParse&) = delete;
};

htmlSAXHandler make_handler() {
  htmlSAXHandler handler;
  std::memset(&handler, 0, sizeof handler);
  handler.startElement = on_start;
  handler.endElement = on_end;
  handler.characters = on_text;
  // Whitespace the parser deems ignorable is whitespace all the same (it separates words); script
  // and style contents come as CDATA blocks, inside elements that hide their text.
  handler.ignorableWhitespace = on_text;
  handler.cdataBlock = on_text;
  handler.comment = on_comment;
  handler.warning = ignore_message;
  handler.error = ignore_message;
  handler.fatalError = ignore_message;
  return handler;
}

}  // namespace

const Encoding* measure_with_libxml2(std::string_view utf8, const ParseOptions& options, PageFacts& facts) {
  static std::once_flag initialised;
  std::call_once(initialised, [] {
    // Set before libxml2 allocates anything, though memory it had from malloc before would be freed
    // all the same: deallocate() frees what is not the region's.
    xmlMemSetup(deallocate, allocate, reallocate, duplicate);
    xmlInitParser();
  });
  static htmlSAXHandler handler = make_handler();

  // libxml2 ends a text or an attribute value at a NUL byte; gumbo reads it as U+FFFD (in
  // attributes and titles) or drops it (in text). U+FFFD keeps the rest of the text and the value.
  std::string without_nul;
  if (std::memchr(utf8.data(), '\0', utf8.size())) {
    without_nul.reserve(utf8.size() + 64);
    for (char c : utf8) {
      if (c == '\0')
        without_nul += "\xEF\xBF\xBD";
      else
        without_nul += c;
    }
    utf8 = without_nul;
  }

  FactsBuilder builder(options, facts);
  SaxState state{.builder = builder};
  const RegionParse region_parse;
  // The page is UTF-8 already (see parse_page): libxml2 is told so, and told to ignore the <meta>
  // that names the encoding the bytes were decoded from.
  htmlParserCtxtPtr context =
      htmlCreatePushParserCtxt(&handler, &state, nullptr, 0, nullptr, XML_CHAR_ENCODING_UTF8);
  if (!context) return builder.finish();
  htmlCtxtUseOptions(context, HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                  HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC | HTML_PARSE_NODEFDTD);
  // Fed in pieces: a chunk's size is an int.
  constexpr size_t kChunk = size_t{1} << 20;
  size_t at = 0;
  do {
    const size_t size = std::min(kChunk, utf8.size() - at);
    const bool last = at + size == utf8.size();
    htmlParseChunk(context, utf8.data() + at, static_cast<int>(size), last ? 1 : 0);
    at += size;
  } while (at < utf8.size());
  htmlFreeParserCtxt(context);
  return builder.finish();
}

}  // namespace crawl::parsers::detail
