#include "parsers/charset.hpp"

#include "common/text.hpp"
#include "common/utf8.hpp"

#include <iconv.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

namespace crawl::parsers {
namespace {

// The Encoding Standard's encodings (https://encoding.spec.whatwg.org/#names-and-labels) and the
// glibc converter for each. Where the standard's decoder is a superset of a narrower charset, so is
// the converter: gbk decodes as GB18030, big5 as Big5-HKSCS, shift_jis as Windows-31J (CP932),
// euc-kr as Windows-949 (UHC), koi8-u as KOI8-RU.
constexpr std::array<Encoding, 40> kEncodings = {{
    {"utf-8", nullptr, true},  // 0: passed to gumbo as it is
    {"ibm866", "IBM866", true},
    {"iso-8859-2", "ISO-8859-2", true},
    {"iso-8859-3", "ISO-8859-3", true},
    {"iso-8859-4", "ISO-8859-4", true},
    {"iso-8859-5", "ISO-8859-5", true},  // 5
    {"iso-8859-6", "ISO-8859-6", true},
    {"iso-8859-7", "ISO-8859-7", true},
    {"iso-8859-8", "ISO-8859-8", true},
    {"iso-8859-8-i", "ISO-8859-8", true},
    {"iso-8859-10", "ISO-8859-10", true},  // 10
    {"iso-8859-13", "ISO-8859-13", true},
    {"iso-8859-14", "ISO-8859-14", true},
    {"iso-8859-15", "ISO-8859-15", true},
    {"iso-8859-16", "ISO-8859-16", true},
    {"koi8-r", "KOI8-R", true},  // 15
    {"koi8-u", "KOI8-RU", true},
    {"macintosh", "MACINTOSH", true},
    {"windows-874", "CP874", true},
    {"windows-1250", "CP1250", true},
    {"windows-1251", "CP1251", true},  // 20
    {"windows-1252", "CP1252", true},
    {"windows-1253", "CP1253", true},
    {"windows-1254", "CP1254", true},
    {"windows-1255", "CP1255", true},
    {"windows-1256", "CP1256", true},  // 25
    {"windows-1257", "CP1257", true},
    {"windows-1258", "CP1258", true},
    {"x-mac-cyrillic", "MAC-CYRILLIC", true},
    {"gbk", "GB18030", true},
    {"gb18030", "GB18030", true},  // 30
    {"big5", "BIG5-HKSCS", true},
    {"euc-jp", "EUC-JP", true},
    {"iso-2022-jp", "ISO-2022-JP", false},  // escape sequences switch character sets
    {"shift_jis", "CP932", true},
    {"euc-kr", "CP949", true},  // 35
    {"replacement", nullptr, false},
    {"utf-16be", "UTF-16BE", false},
    {"utf-16le", "UTF-16LE", false},
    {"x-user-defined", nullptr, true},
}};
constexpr size_t kUtf8 = 0, kWindows1252 = 21, kReplacement = 36, kUtf16Be = 37, kUtf16Le = 38,
                 kUserDefined = 39;

struct Label {
  std::string_view label;
  unsigned char encoding;  // index into kEncodings
};

// Every label of the standard, sorted for binary search.
constexpr Label kLabels[] = {
    {"866", 1},
    {"ansi_x3.4-1968", 21},
    {"arabic", 6},
    {"ascii", 21},
    {"asmo-708", 6},
    {"big5", 31},
    {"big5-hkscs", 31},
    {"chinese", 29},
    {"cn-big5", 31},
    {"cp1250", 19},
    {"cp1251", 20},
    {"cp1252", 21},
    {"cp1253", 22},
    {"cp1254", 23},
    {"cp1255", 24},
    {"cp1256", 25},
    {"cp1257", 26},
    {"cp1258", 27},
    {"cp819", 21},
    {"cp866", 1},
    {"csbig5", 31},
    {"cseuckr", 35},
    {"cseucpkdfmtjapanese", 32},
    {"csgb2312", 29},
    {"csibm866", 1},
    {"csiso2022jp", 33},
    {"csiso2022kr", 36},
    {"csiso58gb231280", 29},
    {"csiso88596e", 6},
    {"csiso88596i", 6},
    {"csiso88598e", 8},
    {"csiso88598i", 9},
    {"csisolatin1", 21},
    {"csisolatin2", 2},
    {"csisolatin3", 3},
    {"csisolatin4", 4},
    {"csisolatin5", 23},
    {"csisolatin6", 10},
    {"csisolatin9", 13},
    {"csisolatinarabic", 6},
    {"csisolatincyrillic", 5},
    {"csisolatingreek", 7},
    {"csisolatinhebrew", 8},
    {"cskoi8r", 15},
    {"csksc56011987", 35},
    {"csmacintosh", 17},
    {"csshiftjis", 34},
    {"csunicode", 38},
    {"cyrillic", 5},
    {"dos-874", 18},
    {"ecma-114", 6},
    {"ecma-118", 7},
    {"elot_928", 7},
    {"euc-jp", 32},
    {"euc-kr", 35},
    {"gb18030", 30},
    {"gb2312", 29},
    {"gb_2312", 29},
    {"gb_2312-80", 29},
    {"gbk", 29},
    {"greek", 7},
    {"greek8", 7},
    {"hebrew", 8},
    {"hz-gb-2312", 36},
    {"ibm819", 21},
    {"ibm866", 1},
    {"iso-10646-ucs-2", 38},
    {"iso-2022-cn", 36},
    {"iso-2022-cn-ext", 36},
    {"iso-2022-jp", 33},
    {"iso-2022-kr", 36},
    {"iso-8859-1", 21},
    {"iso-8859-10", 10},
    {"iso-8859-11", 18},
    {"iso-8859-13", 11},
    {"iso-8859-14", 12},
    {"iso-8859-15", 13},
    {"iso-8859-16", 14},
    {"iso-8859-2", 2},
    {"iso-8859-3", 3},
    {"iso-8859-4", 4},
    {"iso-8859-5", 5},
    {"iso-8859-6", 6},
    {"iso-8859-6-e", 6},
    {"iso-8859-6-i", 6},
    {"iso-8859-7", 7},
    {"iso-8859-8", 8},
    {"iso-8859-8-e", 8},
    {"iso-8859-8-i", 9},
    {"iso-8859-9", 23},
    {"iso-ir-100", 21},
    {"iso-ir-101", 2},
    {"iso-ir-109", 3},
    {"iso-ir-110", 4},
    {"iso-ir-126", 7},
    {"iso-ir-127", 6},
    {"iso-ir-138", 8},
    {"iso-ir-144", 5},
    {"iso-ir-148", 23},
    {"iso-ir-149", 35},
    {"iso-ir-157", 10},
    {"iso-ir-58", 29},
    {"iso8859-1", 21},
    {"iso8859-10", 10},
    {"iso8859-11", 18},
    {"iso8859-13", 11},
    {"iso8859-14", 12},
    {"iso8859-15", 13},
    {"iso8859-2", 2},
    {"iso8859-3", 3},
    {"iso8859-4", 4},
    {"iso8859-5", 5},
    {"iso8859-6", 6},
    {"iso8859-7", 7},
    {"iso8859-8", 8},
    {"iso8859-9", 23},
    {"iso88591", 21},
    {"iso885910", 10},
    {"iso885911", 18},
    {"iso885913", 11},
    {"iso885914", 12},
    {"iso885915", 13},
    {"iso88592", 2},
    {"iso88593", 3},
    {"iso88594", 4},
    {"iso88595", 5},
    {"iso88596", 6},
    {"iso88597", 7},
    {"iso88598", 8},
    {"iso88599", 23},
    {"iso_8859-1", 21},
    {"iso_8859-15", 13},
    {"iso_8859-1:1987", 21},
    {"iso_8859-2", 2},
    {"iso_8859-2:1987", 2},
    {"iso_8859-3", 3},
    {"iso_8859-3:1988", 3},
    {"iso_8859-4", 4},
    {"iso_8859-4:1988", 4},
    {"iso_8859-5", 5},
    {"iso_8859-5:1988", 5},
    {"iso_8859-6", 6},
    {"iso_8859-6:1987", 6},
    {"iso_8859-7", 7},
    {"iso_8859-7:1987", 7},
    {"iso_8859-8", 8},
    {"iso_8859-8:1988", 8},
    {"iso_8859-9", 23},
    {"iso_8859-9:1989", 23},
    {"koi", 15},
    {"koi8", 15},
    {"koi8-r", 15},
    {"koi8-ru", 16},
    {"koi8-u", 16},
    {"koi8_r", 15},
    {"korean", 35},
    {"ks_c_5601-1987", 35},
    {"ks_c_5601-1989", 35},
    {"ksc5601", 35},
    {"ksc_5601", 35},
    {"l1", 21},
    {"l2", 2},
    {"l3", 3},
    {"l4", 4},
    {"l5", 23},
    {"l6", 10},
    {"l9", 13},
    {"latin1", 21},
    {"latin2", 2},
    {"latin3", 3},
    {"latin4", 4},
    {"latin5", 23},
    {"latin6", 10},
    {"logical", 9},
    {"mac", 17},
    {"macintosh", 17},
    {"ms932", 34},
    {"ms_kanji", 34},
    {"replacement", 36},
    {"shift-jis", 34},
    {"shift_jis", 34},
    {"sjis", 34},
    {"sun_eu_greek", 7},
    {"tis-620", 18},
    {"ucs-2", 38},
    {"unicode", 38},
    {"unicode-1-1-utf-8", 0},
    {"unicode11utf8", 0},
    {"unicode20utf8", 0},
    {"unicodefeff", 38},
    {"unicodefffe", 37},
    {"us-ascii", 21},
    {"utf-16", 38},
    {"utf-16be", 37},
    {"utf-16le", 38},
    {"utf-8", 0},
    {"utf8", 0},
    {"visual", 8},
    {"windows-1250", 19},
    {"windows-1251", 20},
    {"windows-1252", 21},
    {"windows-1253", 22},
    {"windows-1254", 23},
    {"windows-1255", 24},
    {"windows-1256", 25},
    {"windows-1257", 26},
    {"windows-1258", 27},
    {"windows-31j", 34},
    {"windows-874", 18},
    {"windows-949", 35},
    {"x-cp1250", 19},
    {"x-cp1251", 20},
    {"x-cp1252", 21},
    {"x-cp1253", 22},
    {"x-cp1254", 23},
    {"x-cp1255", 24},
    {"x-cp1256", 25},
    {"x-cp1257", 26},
    {"x-cp1258", 27},
    {"x-euc-jp", 32},
    {"x-gbk", 29},
    {"x-mac-cyrillic", 28},
    {"x-mac-roman", 17},
    {"x-mac-ukrainian", 28},
    {"x-sjis", 34},
    {"x-unicode20utf8", 0},
    {"x-user-defined", 39},
    {"x-x-big5", 31},
};

constexpr bool labels_sorted() {
  for (size_t i = 1; i < std::size(kLabels); ++i)
    if (!(kLabels[i - 1].label < kLabels[i].label)) return false;
  return true;
}
static_assert(labels_sorted(), "kLabels must stay sorted for the binary search");

constexpr size_t kPrescanBytes = 1024;
constexpr char kReplacementCharacter[] = "\xEF\xBF\xBD";

bool is_ascii_space(unsigned char c) {
  return c == 0x09 || c == 0x0A || c == 0x0C || c == 0x0D || c == 0x20;
}

size_t index_of(const Encoding* e) {
  return static_cast<size_t>(e - kEncodings.data());
}

// iconv descriptors, opened on first use of an encoding in a thread and kept for the thread's life:
// iconv_open loads and sets up a gconv module, far more work than converting a typical page.
class Converters {
 public:
  Converters() { opened_.fill(kUnopened); }
  ~Converters() {
    for (iconv_t cd : opened_)
      if (cd != kUnopened && cd != kUnavailable) iconv_close(cd);
  }
  Converters(const Converters&) = delete;
  Converters& operator=(const Converters&) = delete;

  // Reset to the initial shift state; kUnavailable when glibc has no such converter.
  iconv_t get(const Encoding& e) {
    iconv_t& cd = opened_[index_of(&e)];
    if (cd == kUnopened) {
      cd = iconv_open("UTF-8", e.iconv_name);
      if (cd == reinterpret_cast<iconv_t>(-1)) cd = kUnavailable;
    }
    if (cd != kUnavailable) iconv(cd, nullptr, nullptr, nullptr, nullptr);
    return cd;
  }

  static inline const iconv_t kUnopened = nullptr;
  static inline const iconv_t kUnavailable = reinterpret_cast<iconv_t>(-1);

 private:
  std::array<iconv_t, kEncodings.size()> opened_;
};

Converters& converters() {
  thread_local Converters instance;
  return instance;
}

// Converts with iconv, putting U+FFFD for each byte it cannot decode (and one for a sequence cut
// short at the end). The standard's windows-1252 gives the five bytes Microsoft leaves undefined
// their C1 control code points, where glibc's CP1252 refuses them.
void convert(iconv_t cd, std::string_view bytes, std::string& out, bool windows_1252) {
  out.resize(bytes.size() + bytes.size() / 2 + 16);
  size_t used = 0;
  auto make_room = [&] {
    if (out.size() - used < 16) out.resize(out.size() * 2);
  };
  char* in = const_cast<char*>(bytes.data());  // iconv's signature; it does not write the input
  size_t in_left = bytes.size();
  while (in_left > 0) {
    make_room();
    char* to = out.data() + used;
    size_t to_left = out.size() - used;
    const size_t done = iconv(cd, &in, &in_left, &to, &to_left);
    const int error = errno;
    used = static_cast<size_t>(to - out.data());
    if (done != static_cast<size_t>(-1)) break;
    if (error == E2BIG) {
      out.resize(out.size() * 2);
      continue;
    }
    make_room();
    const auto byte = static_cast<unsigned char>(*in);
    if (windows_1252 && (byte == 0x81 || byte == 0x8D || byte == 0x8F || byte == 0x90 || byte == 0x9D)) {
      out[used++] = static_cast<char>(0xC2);
      out[used++] = static_cast<char>(byte);
    } else {
      std::memcpy(out.data() + used, kReplacementCharacter, 3);
      used += 3;
    }
    if (error == EINVAL) break;  // an incomplete sequence at the end
    ++in;
    --in_left;
  }
  while (true) {  // back to the initial shift state (ISO-2022-JP); writes nothing for most encodings
    make_room();
    char* to = out.data() + used;
    size_t to_left = out.size() - used;
    const size_t done = iconv(cd, nullptr, nullptr, &to, &to_left);
    used = static_cast<size_t>(to - out.data());
    if (done != static_cast<size_t>(-1) || errno != E2BIG) break;
    out.resize(out.size() * 2);
  }
  out.resize(used);
}

bool has_non_ascii(std::string_view bytes) {
  return std::any_of(bytes.begin(), bytes.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// ---- the prescan
// (https://html.spec.whatwg.org/multipage/parsing.html#prescan-a-byte-stream-to-determine-its-encoding)

// The bytes being prescanned and a position in them; reading past the end ends the prescan.
struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool at_end() const { return i >= s.size(); }
  unsigned char peek() const { return static_cast<unsigned char>(s[i]); }
  bool starts_with_ci(std::string_view word) const {
    if (s.size() - i < word.size()) return false;
    for (size_t k = 0; k < word.size(); ++k)
      if (ascii_lower(s[i + k]) != word[k]) return false;
    return true;
  }
};

struct Attribute {
  std::string name, value;
};

// "Get an attribute": false when there is none (at '>' or the end of the bytes).
bool get_attribute(Cursor& c, Attribute& a) {
  while (!c.at_end() && (is_ascii_space(c.peek()) || c.peek() == '/')) ++c.i;
  if (c.at_end() || c.peek() == '>') return false;
  a.name.clear();
  a.value.clear();
  while (true) {  // the name
    if (c.at_end()) return false;
    const unsigned char b = c.peek();
    if (b == '=' && !a.name.empty()) {
      ++c.i;
      break;
    }
    if (is_ascii_space(b)) {
      while (!c.at_end() && is_ascii_space(c.peek())) ++c.i;
      if (c.at_end()) return false;
      if (c.peek() != '=') return true;
      ++c.i;
      break;
    }
    if (b == '/' || b == '>') return true;
    a.name.push_back(ascii_lower(static_cast<char>(b)));
    ++c.i;
  }
  while (!c.at_end() && is_ascii_space(c.peek())) ++c.i;  // the value
  if (c.at_end()) return false;
  const unsigned char first = c.peek();
  if (first == '"' || first == '\'') {
    while (true) {
      ++c.i;
      if (c.at_end()) return false;
      if (c.peek() == first) {
        ++c.i;
        return true;
      }
      a.value.push_back(ascii_lower(static_cast<char>(c.peek())));
    }
  }
  if (first == '>') return true;
  while (!c.at_end() && !is_ascii_space(c.peek()) && c.peek() != '>') {
    a.value.push_back(ascii_lower(static_cast<char>(c.peek())));
    ++c.i;
  }
  return !c.at_end();
}

// "Extract a character encoding from a meta element", on the value of a content attribute.
const Encoding* encoding_from_meta_content(std::string_view content, std::string& label) {
  size_t pos = 0;
  while (true) {
    const size_t found = content.find("charset", pos);  // the value is lower-cased already
    if (found == std::string_view::npos) return nullptr;
    pos = found + 7;
    while (pos < content.size() && is_ascii_space(static_cast<unsigned char>(content[pos]))) ++pos;
    if (pos >= content.size() || content[pos] != '=') continue;
    ++pos;
    while (pos < content.size() && is_ascii_space(static_cast<unsigned char>(content[pos]))) ++pos;
    if (pos >= content.size()) return nullptr;
    if (content[pos] == '"' || content[pos] == '\'') {
      const size_t close = content.find(content[pos], pos + 1);
      if (close == std::string_view::npos) return nullptr;
      label = content.substr(pos + 1, close - pos - 1);
      return encoding_for_label(label);
    }
    size_t end = pos;
    while (end < content.size() && !is_ascii_space(static_cast<unsigned char>(content[end])) &&
           content[end] != ';')
      ++end;
    label = content.substr(pos, end - pos);
    return encoding_for_label(label);
  }
}

// Moves to the '>' closing what starts here; false at the end of the bytes.
bool skip_to_gt(Cursor& c) {
  const size_t gt = c.s.find('>', c.i);
  if (gt == std::string_view::npos) return false;
  c.i = gt;
  return true;
}

}  // namespace

const Encoding& utf8_encoding() {
  return kEncodings[kUtf8];
}

const Encoding* encoding_for_label(std::string_view label) {
  while (!label.empty() && is_ascii_space(static_cast<unsigned char>(label.front()))) label.remove_prefix(1);
  while (!label.empty() && is_ascii_space(static_cast<unsigned char>(label.back()))) label.remove_suffix(1);
  if (label.empty() || label.size() > 32) return nullptr;
  char buffer[32];
  for (size_t i = 0; i < label.size(); ++i) buffer[i] = ascii_lower(label[i]);
  const std::string_view key(buffer, label.size());
  const auto* end = std::end(kLabels);
  const auto* it = std::lower_bound(std::begin(kLabels), end, key,
                                    [](const Label& l, std::string_view k) { return l.label < k; });
  return it != end && it->label == key ? &kEncodings[it->encoding] : nullptr;
}

const Encoding* prescan_for_meta_charset(std::string_view bytes, std::string* label) {
  Cursor c{bytes.substr(0, kPrescanBytes)};
  for (; !c.at_end(); ++c.i) {
    if (c.peek() != '<') {
      const size_t lt = c.s.find('<', c.i);
      if (lt == std::string_view::npos) return nullptr;
      c.i = lt;
    }
    if (c.starts_with_ci("<!--")) {
      const size_t end = c.s.find("-->", c.i + 2);
      if (end == std::string_view::npos) return nullptr;
      c.i = end + 2;
    } else if (c.starts_with_ci("<meta") && c.i + 5 < c.s.size() &&
               (is_ascii_space(static_cast<unsigned char>(c.s[c.i + 5])) || c.s[c.i + 5] == '/')) {
      c.i += 5;
      std::vector<std::string> seen;
      bool got_pragma = false;
      int need_pragma = -1;  // -1: null, 0: false, 1: true
      const Encoding* charset = nullptr;
      std::string charset_label;
      Attribute a;
      while (get_attribute(c, a)) {
        if (std::find(seen.begin(), seen.end(), a.name) != seen.end()) continue;
        seen.push_back(a.name);
        if (a.name == "http-equiv") {
          if (a.value == "content-type") got_pragma = true;
        } else if (a.name == "content") {
          if (!charset) {
            std::string content_label;
            if (const Encoding* e = encoding_from_meta_content(a.value, content_label)) {
              charset = e;
              charset_label = std::move(content_label);
              need_pragma = 1;
            }
          }
        } else if (a.name == "charset") {
          charset = encoding_for_label(a.value);
          charset_label = a.value;
          need_pragma = 0;
        }
      }
      if (c.at_end()) return nullptr;
      if (need_pragma == -1 || (need_pragma == 1 && !got_pragma) || !charset) continue;
      if (label) *label = std::move(charset_label);
      const size_t i = index_of(charset);
      if (i == kUtf16Be || i == kUtf16Le) return &kEncodings[kUtf8];
      if (i == kUserDefined) return &kEncodings[kWindows1252];
      return charset;
    } else if (c.i + 1 < c.s.size() &&
               (is_ascii_alpha(c.s[c.i + 1]) ||
                (c.s[c.i + 1] == '/' && c.i + 2 < c.s.size() && is_ascii_alpha(c.s[c.i + 2])))) {
      while (!c.at_end() && !is_ascii_space(c.peek()) && c.peek() != '>') ++c.i;
      Attribute a;
      while (get_attribute(c, a)) {
      }
      if (c.at_end()) return nullptr;
    } else if (c.starts_with_ci("<!") || c.starts_with_ci("</") || c.starts_with_ci("<?")) {
      if (!skip_to_gt(c)) return nullptr;
    }
  }
  return nullptr;
}

bool is_decodable(const Encoding& encoding) {
  if (!encoding.iconv_name) return true;
  return converters().get(encoding) != Converters::kUnavailable;
}

SniffedEncoding sniff_encoding(std::string_view body, std::string_view http_label, BodyKind kind) {
  SniffedEncoding s;
  if (body.starts_with("\xEF\xBB\xBF")) {
    s.encoding = &kEncodings[kUtf8];
    s.bom_bytes = 3;
  } else if (body.starts_with("\xFE\xFF")) {
    s.encoding = &kEncodings[kUtf16Be];
    s.bom_bytes = 2;
  } else if (body.starts_with("\xFF\xFE")) {
    s.encoding = &kEncodings[kUtf16Le];
    s.bom_bytes = 2;
  }
  if (s.encoding) {
    s.source = EncodingSource::kBom;
    return s;
  }
  auto usable = [&](const Encoding* e, std::string_view where, std::string_view label) {
    if (!e) return false;
    if (index_of(e) == kReplacement) {
      s.problem = "charset \"" + std::string(label) + "\" in " + std::string(where) +
                  " names an encoding the Encoding Standard does not decode (\"replacement\"); the text is "
                  "one U+FFFD";
      return true;
    }
    if (is_decodable(*e)) return true;
    if (s.problem.empty())
      s.problem = "charset \"" + std::string(label) + "\" in " + std::string(where) + " (" +
                  std::string(e->name) + ") has no converter in this system's iconv";
    return false;
  };
  std::string meta_label;
  if (const Encoding* e = encoding_for_label(http_label); usable(e, "Content-Type", http_label)) {
    s.encoding = e;
    s.source = EncodingSource::kHttp;
  } else if (const Encoding* m =
                 kind == BodyKind::kHtml ? prescan_for_meta_charset(body, &meta_label) : nullptr;
             usable(m, "<meta>", meta_label)) {
    s.encoding = m;
    s.source = EncodingSource::kMeta;
  } else {
    s.encoding = &kEncodings[kUtf8];
    s.source = EncodingSource::kDefault;
  }
  if (!s.problem.empty() && index_of(s.encoding) != kReplacement)
    s.problem += "; decoded as " + std::string(s.encoding->name) +
                 (s.source == EncodingSource::kMeta ? " (from <meta>)" : " (the default)");
  return s;
}

std::string_view to_utf8(const Encoding& encoding, std::string_view bytes, std::string& storage) {
  const size_t index = index_of(&encoding);
  // Ill-formed bytes are U+FFFD here, as every other decoder makes them: a parser left to meet
  // them decides for itself (libxml2 switches the rest of the page to Latin-1).
  if (index == kUtf8) {
    if (is_valid_utf8(bytes)) return bytes;
    storage = valid_utf8(bytes);
    return storage;
  }
  if (index == kReplacement) {
    storage = bytes.empty() ? "" : kReplacementCharacter;
    return storage;
  }
  if (encoding.ascii_compatible && !has_non_ascii(bytes)) return bytes;
  if (index == kUserDefined) {  // bytes 0x80..0xFF are U+F780..U+F7FF
    storage.clear();
    storage.reserve(bytes.size() * 3);
    for (char c : bytes) {
      const auto b = static_cast<unsigned char>(c);
      if (b < 0x80) {
        storage.push_back(c);
      } else {  // U+F780 + (b - 0x80) is EF, 9E or 9F, then 80..BF
        storage.push_back(static_cast<char>(0xEF));
        storage.push_back(static_cast<char>(b < 0xC0 ? 0x9E : 0x9F));
        storage.push_back(static_cast<char>(0x80 | (b & 0x3F)));
      }
    }
    return storage;
  }
  const iconv_t cd = converters().get(encoding);
  if (cd == Converters::kUnavailable) return bytes;  // sniff_encoding never picks one of these
  convert(cd, bytes, storage, index == kWindows1252);
  return storage;
}

}  // namespace crawl::parsers
