// ContentDecoder against data made by the real compressors (zlib, brotli, zstd): whole streams
// decode to what went in however they are split, and a stream cut anywhere is never complete.
#include "crawler/content_decoder.hpp"

#include <brotli/encode.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <random>
#include <stdexcept>
#include <string>

namespace crawl {
namespace {

// Text that compresses as pages do: repeated words with some variety.
std::string sample_text(size_t bytes) {
  std::mt19937 random(7);
  static const char* words[] = {"crawl ", "<a href=\"/page/", "\">link</a> ", "fiber ", "thread ", "\n"};
  std::string text;
  while (text.size() < bytes) {
    text += words[random() % std::size(words)];
    text += std::to_string(random() % 1000);
  }
  text.resize(bytes);
  return text;
}

// window_bits: 15 + 16 for gzip, 15 for zlib (HTTP's deflate), -15 for raw deflate.
std::string zlib_compress(const std::string& data, int window_bits) {
  z_stream stream{};
  if (deflateInit2(&stream, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2");
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate");
  return out;
}

std::string gzip(const std::string& data) {
  return zlib_compress(data, 15 + 16);
}

std::string brotli(const std::string& data) {
  std::string out(BrotliEncoderMaxCompressedSize(data.size()), '\0');
  size_t size = out.size();
  if (!BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, data.size(),
                             reinterpret_cast<const uint8_t*>(data.data()), &size,
                             reinterpret_cast<uint8_t*>(out.data())))
    throw std::runtime_error("BrotliEncoderCompress");
  out.resize(size);
  return out;
}

std::string zstd(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t size = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  if (ZSTD_isError(size)) throw std::runtime_error("ZSTD_compress");
  out.resize(size);
  return out;
}

// A zstd frame whose header asks for a window of 2^window_log bytes (its size is left unknown, so
// the window is not shrunk to fit the content).
std::string zstd_with_window(const std::string& data, int window_log) {
  ZSTD_CCtx* context = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(context, ZSTD_c_windowLog, window_log);
  std::string out(ZSTD_compressBound(data.size()) + 64, '\0');
  ZSTD_outBuffer output{out.data(), out.size(), 0};
  ZSTD_inBuffer input{data.data(), data.size(), 0};
  ZSTD_compressStream2(context, &output, &input, ZSTD_e_continue);
  ZSTD_inBuffer none{nullptr, 0, 0};
  while (ZSTD_compressStream2(context, &output, &none, ZSTD_e_end) != 0) {
  }
  ZSTD_freeCCtx(context);
  out.resize(output.pos);
  return out;
}

struct Collect final : ContentDecoder::Output {
  std::string text;
  size_t limit = std::string::npos;  // stops once this much has arrived
  bool write(const char* data, size_t size) override {
    text.append(data, size);
    return text.size() < limit;
  }
};

struct Coded {
  const char* coding;
  std::string (*encode)(const std::string&);
  size_t trailer = 0;  // checksum bytes after the compressed data
};

const Coded kCodings[] = {
    {"gzip", &gzip, 8},
    {"deflate", [](const std::string& d) { return zlib_compress(d, 15); }, 4},
    {"deflate", [](const std::string& d) { return zlib_compress(d, -15); }},  // raw, as some servers send it
    {"br", &brotli},
    {"zstd", &zstd},
};

TEST(ContentDecoder, DecodesEveryCodingHoweverTheBodyIsSplit) {
  const std::string text = sample_text(200 * 1024);
  std::mt19937 random(11);
  for (const Coded& c : kCodings) {
    SCOPED_TRACE(c.coding);
    const std::string coded = c.encode(text);
    ASSERT_LT(coded.size(), text.size());
    for (int split = 0; split < 3; ++split) {
      ContentDecoder decoder(c.coding);
      ASSERT_FALSE(decoder.identity());
      Collect out;
      // At once, byte by byte over the start then whole, and in random pieces.
      size_t at = 0;
      while (at < coded.size()) {
        size_t piece = split == 0   ? coded.size()
                       : split == 1 ? (at < 64 ? 1 : coded.size())
                                    : 1 + random() % 5000;
        piece = std::min(piece, coded.size() - at);
        ASSERT_TRUE(decoder.feed(std::string_view(coded).substr(at, piece), out)) << decoder.error();
        at += piece;
      }
      EXPECT_TRUE(decoder.complete());
      EXPECT_EQ(out.text, text);
      EXPECT_EQ(decoder.error(), "");
    }
  }
}

// A stream is whole when its compressed data has ended; without its checksum trailer too (browsers
// take such a gzip body whole), never when cut inside the data.
TEST(ContentDecoder, AStreamCutInsideItsDataIsNeverComplete) {
  const std::string text = sample_text(3000);
  for (const Coded& c : kCodings) {
    SCOPED_TRACE(c.coding);
    const std::string coded = c.encode(text);
    for (size_t cut = 1; cut < coded.size(); ++cut) {
      ContentDecoder decoder(c.coding);
      Collect out;
      // What arrived is valid so far; only its end is missing.
      ASSERT_TRUE(decoder.feed(std::string_view(coded).substr(0, cut), out)) << "cut at " << cut;
      const bool data_whole = cut >= coded.size() - c.trailer;
      EXPECT_EQ(decoder.complete(), data_whole) << "cut at " << cut << " of " << coded.size();
      if (data_whole)
        EXPECT_EQ(out.text, text);
      else
        EXPECT_EQ(decoder.unfinished_coding(), c.coding);
      EXPECT_TRUE(text.starts_with(out.text));
    }
  }
}

TEST(ContentDecoder, ATrailerThatIsThereMustMatch) {
  const std::string text = sample_text(3000);
  const std::string gz = gzip(text);
  struct Case {
    size_t at;  // the byte of the trailer changed
    const char* message;
  } cases[] = {{gz.size() - 8, "invalid gzip data: incorrect data check"},
               {gz.size() - 1, "invalid gzip data: incorrect length check"}};
  for (const Case& c : cases) {
    std::string changed = gz;
    changed[c.at] = static_cast<char>(changed[c.at] ^ 1);
    ContentDecoder decoder("gzip");
    Collect out;
    EXPECT_FALSE(decoder.feed(changed, out));
    EXPECT_EQ(decoder.error(), c.message);
    EXPECT_FALSE(decoder.complete());
  }
  std::string z = zlib_compress(text, 15);
  z.back() = static_cast<char>(z.back() ^ 1);
  ContentDecoder decoder("deflate");
  Collect out;
  EXPECT_FALSE(decoder.feed(z, out));
  EXPECT_EQ(decoder.error(), "invalid deflate data: incorrect data check");
}

TEST(ContentDecoder, UndoesChainsInReverseOrder) {
  const std::string text = sample_text(50 * 1024);
  // "gzip, br": gzip was applied first, so br is undone first.
  ContentDecoder decoder("gzip, br");
  Collect out;
  ASSERT_TRUE(decoder.feed(brotli(gzip(text)), out)) << decoder.error();
  EXPECT_TRUE(decoder.complete());
  EXPECT_EQ(out.text, text);

  // Case, spaces, identity and x-gzip as RFC 9110 allows them.
  ContentDecoder spelled(" identity ,X-GZIP,\tZstd ");
  Collect out2;
  ASSERT_TRUE(spelled.feed(zstd(gzip(text)), out2)) << spelled.error();
  EXPECT_TRUE(spelled.complete());
  EXPECT_EQ(out2.text, text);

  // A chain cut short names the coding whose stream is unfinished.
  const std::string both = brotli(gzip(text));
  ContentDecoder cut("gzip, br");
  Collect out3;
  ASSERT_TRUE(cut.feed(std::string_view(both).substr(0, both.size() - 3), out3));
  EXPECT_FALSE(cut.complete());
  EXPECT_EQ(cut.unfinished_coding(), "br");
}

TEST(ContentDecoder, JoinsGzipMembersAndIgnoresWhatFollowsTheEnd) {
  const std::string a = sample_text(10000), b = "second member";
  const std::string two = gzip(a) + gzip(b);
  // Split inside the second member's magic bytes too.
  for (size_t split : {size_t{0}, gzip(a).size() + 1, two.size()}) {
    ContentDecoder decoder("gzip");
    Collect out;
    ASSERT_TRUE(decoder.feed(std::string_view(two).substr(0, split), out)) << decoder.error();
    ASSERT_TRUE(decoder.feed(std::string_view(two).substr(split), out)) << decoder.error();
    EXPECT_TRUE(decoder.complete());
    EXPECT_EQ(out.text, a + b);
  }
  // A second member cut short leaves the body incomplete.
  ContentDecoder half("gzip");
  Collect out;
  ASSERT_TRUE(half.feed(gzip(a) + gzip(b).substr(0, 12), out));
  EXPECT_FALSE(half.complete());

  for (const std::string& after :
       {std::string("\n"), std::string(4, '\0'), std::string("\x1f"), std::string("\x1f garbage")}) {
    ContentDecoder decoder("gzip");
    Collect out2;
    ASSERT_TRUE(decoder.feed(gzip(a) + after, out2)) << decoder.error();
    EXPECT_TRUE(decoder.complete());
    EXPECT_EQ(out2.text, a);
  }
}

TEST(ContentDecoder, IgnoresWhatFollowsTheEndOfEveryCoding) {
  const std::string text = sample_text(5000);
  for (const Coded& c : kCodings) {
    for (const std::string& after : {std::string(64, '\0'), std::string("garbage"), std::string("\n")}) {
      SCOPED_TRACE(std::string(c.coding) + " + " + std::to_string(after.size()) + " bytes");
      ContentDecoder decoder(c.coding);
      Collect out;
      ASSERT_TRUE(decoder.feed(c.encode(text), out)) << decoder.error();
      ASSERT_TRUE(decoder.feed(after, out)) << decoder.error();
      EXPECT_TRUE(decoder.complete());
      EXPECT_EQ(out.text, text);
    }
  }
  // Within a zstd frame the same bytes are no end: the frame is not whole.
  const std::string frame = zstd(text);
  ContentDecoder inside("zstd");
  Collect out;
  inside.feed(frame.substr(0, frame.size() / 2) + std::string(64, '\0'), out);
  EXPECT_FALSE(inside.complete());
}

TEST(ContentDecoder, InvalidDataIsRefusedWithTheCodingsMessage) {
  const std::string text = sample_text(20000);
  std::string gz = gzip(text);
  gz[gz.size() / 2] = static_cast<char>(gz[gz.size() / 2] ^ 0x55);
  gz[gz.size() / 2 + 1] = static_cast<char>(gz[gz.size() / 2 + 1] ^ 0x55);
  ContentDecoder decoder("gzip");
  Collect out;
  EXPECT_FALSE(decoder.feed(gz, out));
  EXPECT_TRUE(decoder.error().starts_with("invalid gzip data: ")) << decoder.error();
  EXPECT_FALSE(decoder.complete());

  struct Bad {
    const char* coding;
    std::string data;
    const char* message;
  } bad[] = {
      {"gzip", "not gzip at all", "invalid gzip data: incorrect header check"},
      {"br", std::string("\xff\xff\xff\xff", 4), "invalid br data: "},
      {"zstd", "not a zstd frame", "invalid zstd data: Unknown frame descriptor"},
      {"zstd", zstd_with_window(text, 24), "the zstd data needs a window over 8 MB"},
      // In a chain, the failure is reported by the coding whose data is bad.
      {"gzip, zstd", zstd("not gzip either"), "invalid gzip data: "},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.coding);
    ContentDecoder d(b.coding);
    Collect o;
    EXPECT_FALSE(d.feed(b.data, o));
    EXPECT_TRUE(d.error().starts_with(b.message)) << d.error();
  }
  // The same window, within the limit, decodes.
  ContentDecoder within("zstd");
  Collect o;
  EXPECT_TRUE(within.feed(zstd_with_window(text, 23), o)) << within.error();
  EXPECT_EQ(o.text, text);
}

TEST(ContentDecoder, RefusesCodingsItDoesNotKnowAndLongChains) {
  ContentDecoder unknown("gzip, compress");
  Collect out;
  EXPECT_FALSE(unknown.identity());
  EXPECT_FALSE(unknown.feed("data", out));
  EXPECT_EQ(unknown.error(),
            "unsupported Content-Encoding 'compress' (crawl decodes deflate, gzip, br, zstd)");
  EXPECT_EQ(out.text, "");

  ContentDecoder chain("gzip, gzip, gzip, gzip, gzip, gzip");
  EXPECT_FALSE(chain.feed("data", out));
  EXPECT_EQ(chain.error(), "more than 5 codings in Content-Encoding");

  for (const char* none : {"", "identity", " IDENTITY , "}) {
    ContentDecoder identity(none);
    EXPECT_TRUE(identity.identity()) << none;
    EXPECT_TRUE(identity.feed("as is", out));
    EXPECT_TRUE(identity.complete());
  }
  EXPECT_EQ(out.text, "as isas isas is");
}

TEST(ContentDecoder, StopsWhenTheOutputWantsNoMore) {
  const std::string text = sample_text(100 * 1024);
  for (const Coded& c : kCodings) {
    SCOPED_TRACE(c.coding);
    ContentDecoder decoder(c.coding);
    Collect out;
    out.limit = 1000;
    EXPECT_FALSE(decoder.feed(c.encode(text), out));
    EXPECT_EQ(decoder.error(), "") << "stopping is not a decoding error";
    // It stops at the first piece past the limit: one stage's chunk at most.
    EXPECT_GE(out.text.size(), 1000u);
    EXPECT_LE(out.text.size(), 16u * 1024);
    EXPECT_TRUE(text.starts_with(out.text));
  }
}

}  // namespace
}  // namespace crawl
