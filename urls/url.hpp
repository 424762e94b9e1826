// URL validation and normalisation with libcurl's URL API (curl_url), and the per-run seen-set.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crawl::urls {

struct NormalisedUrl {
  std::string url;    // the normalised URL; empty when `error` is set
  std::string error;  // why the input is not a usable http(s) URL
  bool ok() const { return error.empty(); }
};

// Parses `input` as an absolute http or https URL and returns its normal form: scheme and host in
// lower case, an internationalised host in its ASCII (punycode) form as it goes on the wire, default
// port dropped, empty path as "/", fragment removed, unsafe characters percent-encoded. A line
// without a scheme is taken as http when its host looks like one ("example.com/x", "127.0.0.1:8080",
// "localhost:8080/x", "bücher.localhost"), and is an error when it does not ("le", "todo/x"): a bare
// word is more likely a typo than a host. Anything else (other schemes, no host, spaces in the host,
// over 8 KiB) is an error with a message.
NormalisedUrl normalise(std::string_view input);

// Resolves `reference` (e.g. an href) against the absolute `base` URL as browsers do (RFC 3986 5.2
// with the WHATWG URL standard's rules for http(s): surrounding whitespace and inner tabs and
// newlines dropped, "\" as "/", "http:g" relative on an http page, any number of slashes before a
// host), then normalises it.
NormalisedUrl resolve(std::string_view base, std::string_view reference);

// The lower-cased host of a normalised URL ("" if it has none).
std::string host_of(std::string_view normalised_url);
// scheme://host[:port] of a normalised URL: the unit of politeness, connection reuse and robots.txt
// (RFC 9309 2.3). A view into the argument.
std::string_view origin_of(std::string_view normalised_url);

// `url` with the password of its user information shown as *** ("http://ann:***@host/"), as
// crawl prints URLs and stores its command line: a list's credentials stay out of terminals and
// logs. Anything else is returned as it is.
std::string without_password(std::string_view url);

namespace detail {
// Whether `url` is already in the form normalise() gives it, so that normalise() may return it as
// it is: checked conservatively (a URL in normal form may still answer false, never the reverse).
bool in_normal_form(std::string_view url);
// normalise() without that shortcut: libcurl parses and reassembles every URL.
NormalisedUrl normalise_with_curl(std::string_view input);
}  // namespace detail

// Remembers which URLs a run has already taken. It stores a 64-bit hash per URL in an
// open-addressing table (no strings), so memory is 8 bytes / load factor per URL: between about
// 11.5 and 23 bytes per URL as the table doubles (see bytes_per_url()). Two different URLs share a
// hash with probability about n²/2^65 (≈3e-6 for 10 million URLs); such a URL would be skipped as a
// duplicate, which the README states.
class SeenSet {
 public:
  SeenSet();
  // True if `url` was not seen before (and is now remembered).
  bool insert(std::string_view url);
  bool contains(std::string_view url) const;
  size_t size() const { return size_; }
  size_t memory_bytes() const { return slots_.size() * sizeof(uint64_t); }

 private:
  static uint64_t hash(std::string_view url);
  void grow();
  std::vector<uint64_t> slots_;  // 0 marks an empty slot
  size_t size_ = 0;
};

}  // namespace crawl::urls
