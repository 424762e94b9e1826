// What a re-crawl (`crawl run --since RUN`) knows of each URL from an earlier run: the validators
// it sends back (If-None-Match, If-Modified-Since) and the facts a 304 Not Modified carries forward.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

namespace crawl::storage {

struct EarlierPage {
  std::string etag;           // as the server sent it; empty: none
  std::string last_modified;  // likewise
  long status = 0;
  std::string content_type;
  std::string charset;
  int64_t wire_bytes = 0;
  int64_t body_bytes = 0;
  std::optional<int64_t> text_bytes;
  std::optional<std::string> title;
  std::optional<int64_t> link_count;
  std::string body_hash;
};

// By normalised URL.
using EarlierPages = std::unordered_map<std::string, EarlierPage>;

// The pages of run `run` in the database at `where` that can be asked about again: fetched without
// error, with an ETag or a Last-Modified. Throws crawl::UsageError when there is no such run, and
// StorageError when the database cannot be read.
EarlierPages load_earlier_pages(const std::string& where, int64_t run);

}  // namespace crawl::storage
