// Pages in legacy encodings: every byte string below is real text in the named encoding.
#include "parsers/charset.hpp"

#include <gtest/gtest.h>

#include <string>

#include "parsers/html.hpp"

namespace crawl::parsers {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

const ParseOptions kOptions{};

std::string name_for(std::string_view label) {
  const Encoding* e = encoding_for_label(label);
  return e ? std::string(e->name) : "(none)";
}

PageFacts parse(const std::string& body, std::string_view content_type = "text/html") {
  return parse_page(body, content_type, kOptions);
}

TEST(EncodingForLabel, FollowsTheEncodingStandardsTable) {
  for (const char* label : {"latin1", "ISO-8859-1", "ascii", "us-ascii", "windows-1252", "cp1252", "l1"})
    EXPECT_EQ(name_for(label), "windows-1252") << label;
  for (const char* label : {"gbk", "GB2312", "chinese", "x-gbk"}) EXPECT_EQ(name_for(label), "gbk") << label;
  EXPECT_EQ(name_for("gb18030"), "gb18030");
  for (const char* label : {"shift_jis", "sjis", "Shift-JIS", "ms932", "windows-31j"})
    EXPECT_EQ(name_for(label), "shift_jis") << label;
  for (const char* label : {"euc-kr", "ks_c_5601-1987", "windows-949"}) EXPECT_EQ(name_for(label), "euc-kr");
  for (const char* label : {"big5", "big5-hkscs", "x-x-big5"}) EXPECT_EQ(name_for(label), "big5");
  for (const char* label : {"utf-8", "UTF8", " utf-8\t", "unicode-1-1-utf-8"})
    EXPECT_EQ(name_for(label), "utf-8");
  for (const char* label : {"utf-16", "utf-16le", "unicode", "ucs-2"}) EXPECT_EQ(name_for(label), "utf-16le");
  EXPECT_EQ(name_for("utf-16be"), "utf-16be");
  EXPECT_EQ(name_for("koi8-r"), "koi8-r");
  EXPECT_EQ(name_for("koi8-u"), "koi8-u");
  EXPECT_EQ(name_for("windows-1251"), "windows-1251");
  EXPECT_EQ(name_for("iso-8859-9"), "windows-1254");  // the standard reads Latin-5 as windows-1254
  EXPECT_EQ(name_for("iso-8859-2"), "iso-8859-2");
  EXPECT_EQ(name_for("tis-620"), "windows-874");
  EXPECT_EQ(name_for("iso-2022-kr"), "replacement");
  for (const char* label : {"", "x-unknown", "utf-7", "utf8mb4", "utf-8;"})
    EXPECT_EQ(name_for(label), "(none)");
}

TEST(EncodingForLabel, EveryEncodingHasAConverterHere) {
  for (const char* label :
       {"ibm866",       "iso-8859-2",     "iso-8859-3",   "iso-8859-4",     "iso-8859-5",   "iso-8859-6",
        "iso-8859-7",   "iso-8859-8",     "iso-8859-8-i", "iso-8859-10",    "iso-8859-13",  "iso-8859-14",
        "iso-8859-15",  "iso-8859-16",    "koi8-r",       "koi8-u",         "macintosh",    "windows-874",
        "windows-1250", "windows-1251",   "windows-1252", "windows-1253",   "windows-1254", "windows-1255",
        "windows-1256", "windows-1257",   "windows-1258", "x-mac-cyrillic", "gbk",          "gb18030",
        "big5",         "euc-jp",         "iso-2022-jp",  "shift_jis",      "euc-kr",       "utf-16be",
        "utf-16le",     "x-user-defined", "replacement",  "utf-8"})
    EXPECT_TRUE(is_decodable(*encoding_for_label(label))) << label;
}

TEST(DecodePage, Windows1252FromContentType) {
  const auto f = parse("<title>caf\xE9 cr\xE8me</title><p>caf\xE9 \x80", "text/html; charset=iso-8859-1");
  EXPECT_EQ(f.title, "café crème");
  EXPECT_EQ(f.charset, "windows-1252");
  EXPECT_TRUE(f.charset_problem.empty());
  EXPECT_EQ(f.text_bytes, 5 + 1 + 3);  // "café €" in UTF-8
}

TEST(ToUtf8, Windows1252GivesTheFiveUndefinedBytesTheirC1ControlsAsTheStandardDoes) {
  std::string storage;
  EXPECT_EQ(to_utf8(*encoding_for_label("windows-1252"), "\x80\x81\x8D\x8F\x90\x9D\x9F", storage),
            "\u20AC\u0081\u008D\u008F\u0090\u009D\u0178");
}

TEST(ToUtf8, UndecodableBytesBecomeReplacementCharacters) {
  std::string storage;
  // 0x80 is not a Shift_JIS lead byte; 0x82 at the end starts a character that never comes.
  EXPECT_EQ(to_utf8(*encoding_for_label("shift_jis"),
                    "a\x80"
                    "b\x82",
                    storage),
            "a\uFFFDb\uFFFD");
  EXPECT_EQ(to_utf8(*encoding_for_label("utf-16le"), "a\0b"sv, storage), "a\uFFFD");  // an odd byte left
  EXPECT_EQ(to_utf8(*encoding_for_label("x-user-defined"), "a\x80\xFF", storage), "a\uF780\uF7FF");
}

TEST(ToUtf8, NoConversionForUtf8OrAsciiInAnAsciiCompatibleEncoding) {
  std::string storage;
  const std::string_view ascii = "<p>plain</p>";
  EXPECT_EQ(to_utf8(*encoding_for_label("shift_jis"), ascii, storage).data(), ascii.data());
  const std::string_view utf8 = "caf\xC3\xA9";
  EXPECT_EQ(to_utf8(*encoding_for_label("utf-8"), utf8, storage).data(), utf8.data());
  EXPECT_EQ(to_utf8(*encoding_for_label("utf-16le"), "a\0"sv, storage), "a");  // UTF-16 always converts
}

TEST(DecodePage, ShiftJisFromContentType) {
  // Trail bytes '{' and '[' must not be read as ASCII.
  const auto f = parse("<title>\x93\xFA\x96{\x8C\xEA\x82\xCC\x83y\x81[\x83W</title><p>\x93\xFA\x96{",
                       "text/html; charset=Shift_JIS");
  EXPECT_EQ(f.title, "日本語のページ");
  EXPECT_EQ(f.charset, "shift_jis");
  EXPECT_EQ(f.text_bytes, 6);  // 日本: two characters of three UTF-8 bytes
}

TEST(DecodePage, GbkFromContentType) {
  const auto f = parse("<title>\xD6\xD0\xCE\xC4\xCD\xF8\xD2\xB3</title>", "text/html; charset=gb2312");
  EXPECT_EQ(f.title, "中文网页");
  EXPECT_EQ(f.charset, "gbk");
}

TEST(DecodePage, EucKrFromContentType) {
  const auto f =
      parse("<title>\xC7\xD1\xB1\xB9\xBE\xEE \xC6\xE4\xC0\xCC\xC1\xF6</title>", "text/html; charset=euc-kr");
  EXPECT_EQ(f.title, "한국어 페이지");
  EXPECT_EQ(f.charset, "euc-kr");
}

TEST(DecodePage, Big5FromContentType) {
  const auto f = parse(
      "<title>\xC1"
      "c\xC5\xE9\xA4\xA4\xA4\xE5</title>",
      "text/html; charset=big5");
  EXPECT_EQ(f.title, "繁體中文");
  EXPECT_EQ(f.charset, "big5");
}

TEST(DecodePage, Utf16WithByteOrderMarks) {
  const std::string le =
      "\xFF\xFE<\x00t\x00i\x00t\x00l\x00"
      "e\x00>\x00\xDC\x00n\x00\xEF\x00"
      "c\x00o\x00"
      "d\x00"
      "e\x00<\x00/"
      "\x00t\x00i\x00t\x00l\x00"
      "e\x00>\x00<\x00p\x00>\x00\xDC\x00n\x00\xEF\x00"s;
  const std::string be =
      "\xFE\xFF\x00<\x00t\x00i\x00t\x00l\x00"
      "e\x00>\x00\xDC\x00n\x00\xEF\x00"
      "c\x00o\x00"
      "d\x00"
      "e\x00<\x00/"
      "\x00t\x00i\x00t\x00l\x00"
      "e\x00>\x00<\x00p\x00>\x00\xDC\x00n\x00\xEF"s;
  for (const auto& [body, name] : {std::pair{le, "utf-16le"}, std::pair{be, "utf-16be"}}) {
    const auto f = parse(body, "text/html");
    EXPECT_EQ(f.title, "Ünïcode") << name;
    EXPECT_EQ(f.charset, name);
    EXPECT_EQ(f.text_bytes, 5);  // Ünï
  }
}

TEST(DecodePage, MetaCharsetAlone) {
  const auto f =
      parse("<!doctype html><html><head><meta charset=\"koi8-r\"><title>\xF0\xD2\xC9\xD7\xC5\xD4</title>");
  EXPECT_EQ(f.title, "Привет");
  EXPECT_EQ(f.charset, "koi8-r");
}

TEST(DecodePage, MetaHttpEquivAlone) {
  const auto f = parse(
      "<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=EUC-KR\">"
      "<title>\xC7\xD1\xB1\xB9\xBE\xEE</title>");
  EXPECT_EQ(f.title, "한국어");
  EXPECT_EQ(f.charset, "euc-kr");
  // A content attribute without http-equiv names nothing.
  EXPECT_EQ(parse("<meta content=\"text/html; charset=euc-kr\"><p>x").charset, "utf-8");
}

TEST(DecodePage, ContentTypeWinsOverMeta) {
  const auto f = parse("<meta charset=utf-8><title>caf\xE9</title>", "text/html; charset=windows-1252");
  EXPECT_EQ(f.title, "café");
  EXPECT_EQ(f.charset, "windows-1252");
  const auto g = parse("<meta charset=shift_jis><title>\xD6\xD0\xCE\xC4</title>", "text/html; charset=gbk");
  EXPECT_EQ(g.title, "中文");
}

TEST(DecodePage, ByteOrderMarkWinsOverContentTypeAndMeta) {
  const auto f =
      parse("\xEF\xBB\xBF<meta charset=gbk><title>caf\xC3\xA9</title>", "text/html; charset=iso-8859-1");
  EXPECT_EQ(f.title, "café");
  EXPECT_EQ(f.charset, "utf-8");
}

TEST(DecodePage, UnknownLabelsAreSkippedAsTheStandardSays) {
  const auto f = parse("<meta charset=windows-1252><title>caf\xE9</title>", "text/html; charset=x-unknown");
  EXPECT_EQ(f.title, "café");
  EXPECT_EQ(f.charset, "windows-1252");
  EXPECT_TRUE(f.charset_problem.empty());
  // Nothing usable at all: UTF-8, each invalid byte one U+FFFD.
  const auto g = parse(
      "<meta charset=nonsense><title>caf\xE9</title><p>a\xFF"
      "b",
      "text/html; charset=utf8mb4");
  EXPECT_EQ(g.title, "caf\uFFFD");
  EXPECT_EQ(g.charset, "utf-8");
  EXPECT_EQ(g.text_bytes, 5);
  EXPECT_TRUE(g.charset_problem.empty());
}

TEST(DecodePage, TheReplacementEncodingIsRecordedAsAProblem) {
  const auto f = parse("<title>\x1B$)C\x0EGQ\x0F</title><a href=/x>x</a>", "text/html; charset=iso-2022-kr");
  EXPECT_EQ(f.charset, "replacement");
  EXPECT_NE(f.charset_problem.find("iso-2022-kr"), std::string::npos) << f.charset_problem;
  EXPECT_FALSE(f.title.has_value());
  EXPECT_EQ(f.link_count, 0);
  EXPECT_EQ(f.text_bytes, 3);  // one U+FFFD
  const auto meta = parse("<meta charset=ISO-2022-KR><p>x");
  EXPECT_EQ(meta.charset, "replacement");
  EXPECT_NE(meta.charset_problem.find("\"iso-2022-kr\" in <meta>"), std::string::npos)
      << meta.charset_problem;
}

TEST(DecodePage, MetaPastThePrescanWindowChangesATentativeEncoding) {
  const std::string head = "<head><script>" + std::string(2000, ' ') + "</script>";
  const auto f = parse(head + "<meta charset=windows-1252><title>caf\xE9</title>");
  EXPECT_EQ(f.title, "café");
  EXPECT_EQ(f.charset, "windows-1252");
  // Content-Type is certain: a later <meta> does not change it.
  EXPECT_EQ(parse(head + "<meta charset=windows-1252><p>x", "text/html; charset=utf-8").charset, "utf-8");
}

TEST(DecodePage, PrescanSkipsCommentsAndOtherTagsAttributes) {
  EXPECT_EQ(parse("<!-- <meta charset=gbk> --><meta charset=koi8-r><p>x").charset, "koi8-r");
  EXPECT_EQ(parse("<div title='<meta charset=gbk>'><meta charset=euc-kr>").charset, "euc-kr");
  // UTF-16 named in a <meta> means UTF-8 (the bytes are evidently ASCII-compatible).
  EXPECT_EQ(parse("<meta charset=utf-16le><title>caf\xC3\xA9</title>").title, "café");
  EXPECT_EQ(
      prescan_for_meta_charset("<meta http-equiv=content-type content='text/html;charset=\"big5\"'>")->name,
      "big5");
  EXPECT_EQ(prescan_for_meta_charset("<meta charset=big5"), nullptr);  // cut short
}

TEST(DecodePage, PlainTextIsCountedInUtf8) {
  const auto f = parse("caf\xE9", "text/plain; charset=latin1");
  EXPECT_EQ(f.charset, "windows-1252");
  EXPECT_EQ(f.text_bytes, 5);
  EXPECT_EQ(parse("caf\xE9", "text/plain").text_bytes, 6);  // UTF-8 by default: é is invalid, U+FFFD
}

TEST(DecodePage, NonTextKeepsTheDeclaredLabel) {
  EXPECT_EQ(parse("{}", "application/json; charset=Latin1").charset, "latin1");
  EXPECT_EQ(parse("{}", "application/json").charset, "");
}

// Ill-formed UTF-8 reaches the parsers as U+FFFD, so that both read the same text: libxml2 met
// with a bad byte read the rest of the page as Latin-1 ("caf\xE9" gave "café" where gumbo gave
// "caf\uFFFD").
TEST(DecodePage, IllFormedUtf8IsReplacedBeforeEitherParserSeesIt) {
  std::string storage;
  EXPECT_EQ(to_utf8(utf8_encoding(), "caf\xE9 ok", storage), "caf\xEF\xBF\xBD ok");
}

}  // namespace
}  // namespace crawl::parsers
