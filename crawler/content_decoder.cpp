#include "crawler/content_decoder.hpp"

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <array>
#include <cstdint>

#include "common/text.hpp"

namespace crawl {
namespace {

// Each stage decodes into a buffer of this size and hands it on before decoding more.
constexpr size_t kChunk = 16 * 1024;

// RFC 9659 (zstd in HTTP): a decoder need not accept, and should refuse, windows over 8 MB. It bounds
// the memory one response can make a transfer hold, whatever its frame header asks for.
constexpr int kZstdWindowLogMax = 23;

}  // namespace

std::string_view decodable_codings() {
  return "deflate, gzip, br, zstd";
}

class ContentDecoder::Stage {
 public:
  // Where a stage's output goes: the next stage, or the decoder's Output.
  struct Next {
    ContentDecoder* decoder;
    size_t index;
    Output* out;
    bool operator()(const char* data, size_t size) const {
      return decoder->feed_stage(index, {data, size}, *out);
    }
  };

  virtual ~Stage() = default;
  virtual std::string_view name() const = 0;
  // Decodes all of `data`. False when it is invalid (error() says why) or `next` asked to stop.
  virtual bool feed(std::string_view data, const Next& next) = 0;
  // Whether the coded stream has reached its end.
  virtual bool ended() const = 0;
  const std::string& error() const { return error_; }

 protected:
  std::string error_;
  std::array<char, kChunk> buffer_;
};

namespace {

// gzip (RFC 1952) and deflate (RFC 9110: the zlib format of RFC 1950; servers that send raw deflate
// instead are read too, as browsers and libcurl read them).
class ZlibStage final : public ContentDecoder::Stage {
 public:
  explicit ZlibStage(bool gzip) : gzip_(gzip) {}
  ~ZlibStage() override {
    if (started_) inflateEnd(&stream_);
  }

  std::string_view name() const override { return gzip_ ? "gzip" : "deflate"; }
  // The compressed data is whole when its final block has ended. The checksum trailer after it
  // (gzip's CRC-32 and length, zlib's Adler-32) must match when it is there, but a stream that
  // lacks it is taken whole, as browsers take it (curl issue 2719: a large site's front page).
  bool ended() const override { return ended_ || data_ended_; }

  bool feed(std::string_view data, const Next& next) override {
    if (!started_) {
      // deflate's wrapper is told from its first two bytes; gzip needs no look ahead.
      const size_t wanted = gzip_ ? 0 : 2;
      const size_t take = std::min(wanted - head_.size(), data.size());
      head_.append(data.substr(0, take));
      data.remove_prefix(take);
      if (head_.size() < wanted) return true;
      if (!start()) return false;
      if (!head_.empty() && !inflate_some(head_, next)) return false;
    }
    return inflate_some(data, next);
  }

 private:
  bool start() {
    int window_bits = 15 + 16;  // the gzip wrapper
    if (!gzip_) {
      const auto cmf = static_cast<unsigned char>(head_[0]);
      const auto flg = static_cast<unsigned char>(head_[1]);
      const bool zlib_header = (cmf & 0x0f) == Z_DEFLATED && (cmf >> 4) <= 7 && (cmf * 256 + flg) % 31 == 0;
      window_bits = zlib_header ? 15 : -15;
    }
    if (inflateInit2(&stream_, window_bits) != Z_OK) {
      error_ = std::string("cannot start a ") + std::string(name()) + " decoder (out of memory)";
      return false;
    }
    started_ = true;
    return true;
  }

  bool inflate_some(std::string_view data, const Next& next) {
    if (ended_) {
      // gzip allows members one after another (RFC 1952, 2.2), which gzip -d joins; anything else
      // after the end is ignored, as browsers ignore it.
      if (!gzip_ || trailing_ || data.empty()) return true;
      if (magic_seen_ == 0 && data[0] != '\x1f') {
        trailing_ = true;
        return true;
      }
      if (magic_seen_ == 0) {
        magic_seen_ = 1;
        data.remove_prefix(1);
        if (data.empty()) return true;
      }
      if (data[0] != '\x8b') {
        trailing_ = true;
        return true;
      }
      // The next member: its first byte was taken above.
      inflateReset(&stream_);
      ended_ = false;
      data_ended_ = false;
      magic_seen_ = 0;
      if (!inflate_some(std::string_view("\x1f", 1), next)) return false;
    }
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream_.avail_in = static_cast<uInt>(data.size());
    for (;;) {
      stream_.next_out = reinterpret_cast<Bytef*>(buffer_.data());
      stream_.avail_out = static_cast<uInt>(buffer_.size());
      // Z_BLOCK stops at each block's end, where data_type tells when the final one has ended.
      const int rc = inflate(&stream_, Z_BLOCK);
      if ((stream_.data_type & kFinalBlockEnded) == kFinalBlockEnded) data_ended_ = true;
      const size_t produced = buffer_.size() - stream_.avail_out;
      if (produced > 0 && !next(buffer_.data(), produced)) return false;
      if (rc == Z_STREAM_END) {
        ended_ = true;
        const std::string_view rest(reinterpret_cast<const char*>(stream_.next_in), stream_.avail_in);
        return inflate_some(rest, next);
      }
      if (rc == Z_NEED_DICT) {
        error_ = std::string("the ") + std::string(name()) +
                 " data needs a preset dictionary, which HTTP does not give";
        return false;
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        error_ = std::string("invalid ") + std::string(name()) +
                 " data: " + (stream_.msg ? stream_.msg : "zlib error " + std::to_string(rc));
        return false;
      }
      if (stream_.avail_in == 0 && stream_.avail_out != 0) return true;
    }
  }

  const bool gzip_;
  z_stream stream_{};
  bool started_ = false;
  // inflate's data_type after a stop: 64, in or after the final block; 128, at a block's end.
  static constexpr int kFinalBlockEnded = 64 | 128;

  bool ended_ = false;       // the stream has ended, trailer and all
  bool data_ended_ = false;  // the final block of the compressed data has ended
  bool trailing_ = false;    // bytes after the end that are not another member: ignored
  int magic_seen_ = 0;       // of the next gzip member's two magic bytes, how many have arrived
  std::string head_;         // deflate: the first bytes, until the wrapper is known
};

class BrotliStage final : public ContentDecoder::Stage {
 public:
  BrotliStage() : state_(BrotliDecoderCreateInstance(nullptr, nullptr, nullptr)) {}
  ~BrotliStage() override {
    if (state_) BrotliDecoderDestroyInstance(state_);
  }

  std::string_view name() const override { return "br"; }
  bool ended() const override { return ended_; }

  bool feed(std::string_view data, const Next& next) override {
    if (!state_) {
      error_ = "cannot start a brotli decoder (out of memory)";
      return false;
    }
    if (ended_) return true;  // bytes after the end of the stream are ignored
    size_t available_in = data.size();
    const auto* next_in = reinterpret_cast<const uint8_t*>(data.data());
    for (;;) {
      size_t available_out = buffer_.size();
      auto* next_out = reinterpret_cast<uint8_t*>(buffer_.data());
      const BrotliDecoderResult result =
          BrotliDecoderDecompressStream(state_, &available_in, &next_in, &available_out, &next_out, nullptr);
      const size_t produced = buffer_.size() - available_out;
      if (produced > 0 && !next(buffer_.data(), produced)) return false;
      switch (result) {
        case BROTLI_DECODER_RESULT_SUCCESS:
          ended_ = true;
          return true;
        case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
          return true;
        case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
          continue;
        case BROTLI_DECODER_RESULT_ERROR:
          error_ =
              std::string("invalid br data: ") + BrotliDecoderErrorString(BrotliDecoderGetErrorCode(state_));
          return false;
      }
    }
  }

 private:
  BrotliDecoderState* state_;
  bool ended_ = false;
};

class ZstdStage final : public ContentDecoder::Stage {
 public:
  ZstdStage() : context_(ZSTD_createDCtx()) {
    if (context_) ZSTD_DCtx_setParameter(context_, ZSTD_d_windowLogMax, kZstdWindowLogMax);
  }
  ~ZstdStage() override { ZSTD_freeDCtx(context_); }

  std::string_view name() const override { return "zstd"; }
  bool ended() const override { return frame_done_; }

  bool feed(std::string_view data, const Next& next) override {
    if (!context_) {
      error_ = "cannot start a zstd decoder (out of memory)";
      return false;
    }
    if (trailing_) return true;
    // Frames may follow one another (RFC 8878, 3.1); each must be whole.
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    for (;;) {
      ZSTD_outBuffer out{buffer_.data(), buffer_.size(), 0};
      const size_t rc = ZSTD_decompressStream(context_, &out, &in);
      // Bytes after a whole frame that begin no frame are ignored, as after the other codings.
      if (ZSTD_isError(rc) && frame_done_ && ZSTD_getErrorCode(rc) == ZSTD_error_prefix_unknown) {
        trailing_ = true;
        return true;
      }
      if (ZSTD_isError(rc)) {
        if (ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge)
          error_ = "the zstd data needs a window over 8 MB, which RFC 9659 lets a client refuse";
        else
          error_ = std::string("invalid zstd data: ") + ZSTD_getErrorName(rc);
        return false;
      }
      if (out.pos > 0 && !next(buffer_.data(), out.pos)) return false;
      // 0: a frame has ended and all of it was handed out.
      frame_done_ = rc == 0;
      if (in.pos == in.size && out.pos < out.size) return true;
    }
  }

 private:
  ZSTD_DCtx* context_;
  bool frame_done_ = false;  // the bytes so far end with a whole frame
  bool trailing_ = false;    // bytes after the last frame that are no frame: ignored
};

}  // namespace

ContentDecoder::ContentDecoder(std::string_view content_encoding) {
  std::vector<std::unique_ptr<Stage>> applied;
  while (!content_encoding.empty()) {
    const size_t comma = content_encoding.find(',');
    std::string_view coding = trim_blanks(content_encoding.substr(0, comma));
    content_encoding =
        comma == std::string_view::npos ? std::string_view{} : content_encoding.substr(comma + 1);
    if (coding.empty() || iequals(coding, "identity")) continue;
    if (applied.size() == kMaxCodings) {
      error_ = "more than " + std::to_string(kMaxCodings) + " codings in Content-Encoding";
      return;
    }
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip"))
      applied.push_back(std::make_unique<ZlibStage>(true));
    else if (iequals(coding, "deflate"))
      applied.push_back(std::make_unique<ZlibStage>(false));
    else if (iequals(coding, "br"))
      applied.push_back(std::make_unique<BrotliStage>());
    else if (iequals(coding, "zstd"))
      applied.push_back(std::make_unique<ZstdStage>());
    else {
      error_ = "unsupported Content-Encoding '" + std::string(coding) + "' (crawl decodes " +
               std::string(decodable_codings()) + ")";
      return;
    }
  }
  stages_.assign(std::make_move_iterator(applied.rbegin()), std::make_move_iterator(applied.rend()));
}

ContentDecoder::~ContentDecoder() = default;

bool ContentDecoder::feed(std::string_view data, Output& out) {
  if (!error_.empty()) return false;
  return feed_stage(0, data, out);
}

bool ContentDecoder::feed_stage(size_t index, std::string_view data, Output& out) {
  if (index == stages_.size()) return out.write(data.data(), data.size());
  Stage& stage = *stages_[index];
  if (stage.feed(data, Stage::Next{this, index + 1, &out})) return true;
  // The innermost failure is the one to report: outer stages see only that the next one stopped.
  if (error_.empty()) error_ = stage.error();
  return false;
}

bool ContentDecoder::complete() const {
  if (!error_.empty()) return false;
  for (const auto& stage : stages_)
    if (!stage->ended()) return false;
  return true;
}

std::string_view ContentDecoder::unfinished_coding() const {
  for (const auto& stage : stages_)
    if (!stage->ended()) return stage->name();
  return {};
}

}  // namespace crawl
