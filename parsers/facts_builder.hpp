// What both HTML parsers share (parsers/html.cpp's gumbo walk, parsers/libxml2_html.cpp's SAX
// handler): the rules that turn what a parser reports into PageFacts, so the two differ only in
// what they report, never in how it is counted.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "parsers/charset.hpp"
#include "parsers/html.hpp"

namespace crawl::parsers::detail {

inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

std::string lower(std::string_view s);
std::string_view trim(std::string_view s);

// The number of bits set in `x`. Without a POPCNT instruction in the baseline x86-64, the
// compiler's builtin is a call into libgcc.
inline int bits_set(uint32_t x) {
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  x = (x + (x >> 4)) & 0x0F0F0F0Fu;
  return static_cast<int>((x * 0x01010101u) >> 24);
}

// Adds to `count` the bytes `len` bytes of `s` take once every run of whitespace is collapsed to
// one space and the whole is trimmed, after text that took `count` bytes and ended on a space when
// `pending_space` (updated too). Every page's visible text goes through it (41 MB on perf/docs.py's
// sites), so it counts 16 bytes at a time where the CPU allows.
void count_collapsed(const char* s, size_t len, int64_t& count, bool& pending_space);

// Appends text with every run of whitespace collapsed to one space (the separating space is only
// written once more text follows, so the result is trimmed at both ends); without a string to
// append to, only counts the bytes that would be written.
class Collapser {
 public:
  explicit Collapser(std::string* out, size_t limit = SIZE_MAX) : out_(out), limit_(limit) {}
  void add(const char* s, size_t len) {
    if (!out_) {
      count_collapsed(s, len, count_, pending_space_);
      return;
    }
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
void cut_utf8(std::string& s, size_t limit);

// The elements whose text is not visible: text inside them is not counted.
bool hides_text(std::string_view tag);

// The encoding a <meta> element names through `charset`, or through `http-equiv="Content-Type"` and
// `content` (each null when the attribute is absent); nullptr when it names none this crawler knows.
const Encoding* meta_encoding(const char* charset, const char* http_equiv, const char* content);

// Collects a page's facts from the elements and text a parser reports in document order.
class FactsBuilder {
 public:
  FactsBuilder(const ParseOptions& options, PageFacts& facts) : options_(options), facts_(facts) {}

  void link(std::string_view href) {
    ++facts_.link_count;
    if (options_.collect_links) facts_.links.emplace_back(trim(href));
  }
  // HTML: the first <base> with an href decides, even an empty one.
  void base(std::string_view href) {
    if (base_found_) return;
    facts_.base_href = std::string(trim(href));
    base_found_ = true;
  }
  // The first <meta> of the tree that names a known encoding.
  void meta(const Encoding* encoding) {
    if (!tree_meta_) tree_meta_ = encoding;
  }
  // The first <title>: its text comes in pieces between begin_title() and end_title(); later
  // titles, and a <title> inside the one being read, are ignored.
  void begin_title() {
    if (!facts_.title && !in_title_) in_title_ = true;
  }
  bool in_title() const { return in_title_; }
  void title_text(const char* s, size_t len) {
    if (in_title_) title_collapser_.add(s, len);
  }
  void end_title() {
    if (!in_title_) return;
    in_title_ = false;
    cut_utf8(title_, options_.max_title_bytes);
    facts_.title = std::move(title_);
  }
  void visible_text(const char* s, size_t len) { text_.add(s, len); }
  void visible_space() { text_.space(); }

  // Stores the text size; returns the encoding the first <meta> named (nullptr when none did).
  // Ends a title the page never closed too.
  const Encoding* finish() {
    end_title();
    facts_.text_bytes = text_.count();
    return tree_meta_;
  }

 private:
  const ParseOptions& options_;
  PageFacts& facts_;
  Collapser text_{nullptr};
  bool in_title_ = false;
  std::string title_;
  // Kept a few bytes past the cut, so that cut_utf8 ends it at a character's boundary.
  Collapser title_collapser_{&title_, options_.max_title_bytes + 4};
  bool base_found_ = false;
  const Encoding* tree_meta_ = nullptr;
};

// The facts of UTF-8 HTML through libxml2's HTML parser in SAX mode (parsers/libxml2_html.cpp);
// returns the encoding the first <meta> naming a known one names.
const Encoding* measure_with_libxml2(std::string_view utf8, const ParseOptions& options, PageFacts& facts);

}  // namespace crawl::parsers::detail
