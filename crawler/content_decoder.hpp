// Undoing a response's Content-Encoding as its bytes arrive (gzip, deflate, br, zstd, and chains of
// them), and telling a body whose coded stream ends early from a whole one.
//
// libcurl decodes bodies too, but its 7.88 takes a gzip, deflate or brotli stream that stops before
// its end for a whole body: a page cut short by a server or a cache was stored as fetched, with the
// hash of half a page. The crawler turns libcurl's decoding off and decodes here instead.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace crawl {

// The codings this build decodes, as an Accept-Encoding value: "gzip, deflate, br, zstd".
std::string_view decodable_codings();

class ContentDecoder {
 public:
  // Where decoded bytes go; returning false stops decoding (the body is not wanted any further).
  class Output {
   public:
    virtual bool write(const char* data, size_t size) = 0;

   protected:
    ~Output() = default;
  };

  // For a Content-Encoding header's value: codings in the order they were applied, separated by
  // commas ("gzip", "gzip, br"). "identity" and empty entries add nothing; x-gzip is gzip. A coding
  // this build does not decode, or more than kMaxCodings of them, make a decoder that refuses every
  // byte with a message that says so.
  explicit ContentDecoder(std::string_view content_encoding);
  ~ContentDecoder();
  ContentDecoder(const ContentDecoder&) = delete;
  ContentDecoder& operator=(const ContentDecoder&) = delete;

  // Whether bytes pass through unchanged (no coding, or identity only).
  bool identity() const { return stages_.empty() && error_.empty(); }
  // Decodes the next bytes of the body into `out`. False when they are not valid in their coding
  // (error() says why) or `out` asked to stop (error() stays empty).
  bool feed(std::string_view data, Output& out);
  // At the end of the body: whether every coding's stream ended. A body cut short inside a stream
  // has not, nor has a decoder fed nothing (the crawler makes one only once a body's bytes arrive:
  // an empty body is whole whatever it announces).
  bool complete() const;
  // What went wrong, for the row; empty while nothing has.
  const std::string& error() const { return error_; }
  // The coding whose stream is unfinished, for the message of a body cut short ("gzip").
  std::string_view unfinished_coding() const;

  static constexpr size_t kMaxCodings = 5;

  // One coding's decoder; the first applied is decoded last.
  class Stage;

 private:
  bool feed_stage(size_t index, std::string_view data, Output& out);

  std::vector<std::unique_ptr<Stage>> stages_;  // in decoding order: the last coding applied first
  std::string error_;
};

}  // namespace crawl
