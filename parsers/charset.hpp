// Which character encoding a page is in, and its text in UTF-8: the WHATWG Encoding Standard's labels
// and the HTML standard's sniffing order (BOM, Content-Type, <meta> prescan, default UTF-8), with
// glibc's iconv doing the conversion.
#pragma once

#include <string>
#include <string_view>

namespace crawl::parsers {

// One encoding of the Encoding Standard.
struct Encoding {
  std::string_view name;   // its standard name, lower-cased: "utf-8", "windows-1252", "shift_jis", "gbk"
  const char* iconv_name;  // what glibc calls the converter; nullptr for the ones decoded here
  bool ascii_compatible;   // bytes below 0x80 are ASCII, so a body without others needs no conversion
};

const Encoding& utf8_encoding();

// The encoding a label names ("latin1", " Shift_JIS ", "gb2312"), as the standard's table says;
// nullptr for a label it does not know.
const Encoding* encoding_for_label(std::string_view label);

// The encoding the first <meta charset> or <meta http-equiv=Content-Type content="...charset=...">
// of the first 1024 bytes names (the HTML standard's prescan); nullptr when there is none. UTF-16
// there means UTF-8 and x-user-defined means windows-1252, as the standard says. `label`, when
// given, receives the label as written (lower-cased).
const Encoding* prescan_for_meta_charset(std::string_view bytes, std::string* label = nullptr);

// Where the encoding a page is decoded with came from.
enum class EncodingSource { kBom, kHttp, kMeta, kDefault };

struct SniffedEncoding {
  const Encoding* encoding = nullptr;  // never null
  EncodingSource source = EncodingSource::kDefault;
  size_t bom_bytes = 0;  // to drop from the front of the body before decoding
  // Set when a declared encoding could not be used: the "replacement" encoding (ISO-2022-KR and
  // others the standard refuses to decode), or one this system's iconv lacks. Says what was declared
  // where and what the page was decoded as instead.
  std::string problem;
};

// What a body is: HTML is also searched for a <meta> naming its encoding, plain text is not.
enum class BodyKind { kHtml, kPlainText };

// The HTML standard's encoding sniffing: a byte order mark, then the Content-Type charset
// (`http_label`, as sent), then, for HTML, a <meta> in the first 1024 bytes, else UTF-8. A label
// nobody knows is skipped, as the standard says; one naming an encoding that cannot be decoded here
// is skipped too, and `problem` says so.
SniffedEncoding sniff_encoding(std::string_view body, std::string_view http_label, BodyKind kind);

// Whether `encoding` can be used here (its iconv converter opens; "replacement" can always be).
bool is_decodable(const Encoding& encoding);

// `bytes` in UTF-8. Returns `bytes` itself when no conversion is needed (UTF-8, or only ASCII bytes
// in an ASCII-compatible encoding); otherwise converts into `storage` and returns a view of it.
// Undecodable bytes become U+FFFD, in UTF-8 input too (valid UTF-8, the usual case, is passed
// through as it is). The "replacement" encoding gives one U+FFFD for any non-empty input.
std::string_view to_utf8(const Encoding& encoding, std::string_view bytes, std::string& storage);

}  // namespace crawl::parsers
