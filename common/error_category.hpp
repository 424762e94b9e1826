// Error categories: every failure a crawl meets is one of these, with a message. The pipeline passes
// and counts the enum; its name is what rows store (pages.error) and what users read and query.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string_view>

namespace crawl {

enum class ErrorCategory : uint8_t {
  none,                // the fetch succeeded: no category (NULL in pages.error)
  bad_url,             // the input line is not an http(s) URL
  duplicate,           // the same URL was taken earlier in the run
  dns,                 // the host name does not resolve
  connect,             // refused or unreachable
  timeout,             // connect or total timeout
  reset,               // connection reset / closed early / empty reply
  tls,                 // handshake or certificate failure
  http_4xx,            //
  http_5xx,            //
  http_other,          // a final status outside 100-599, which HTTP does not define (LinkedIn's 999)
  too_many_redirects,  // a loop or a chain over the limit
  too_large,           // a body over --max-size (after decoding), or headers over libcurl's limits
  decode,              // bad Content-Encoding data
  protocol,            // malformed HTTP (a status line, a chunked body), an unsupported redirect target
  // The page declares a character encoding that cannot be used: one the Encoding Standard maps to
  // "replacement" (ISO-2022-KR and the like), or one this system's iconv lacks. The page is still
  // measured, decoded as the message says.
  charset,
  interrupted,   // the run was stopped before it was fetched
  worker_crash,  // its worker process died (twice)
  robots,        // robots.txt disallows it
  excluded,      // --include/--exclude left it out
  max_pages,     // --max-pages was reached first
  other,
};

inline constexpr size_t kErrorCategories = static_cast<size_t>(ErrorCategory::other) + 1;

// The stored name ("timeout", "http_4xx"...); empty for none.
std::string_view name_of(ErrorCategory category);
// The category a stored name stands for ("" is none); nullopt for a name no category has.
std::optional<ErrorCategory> category_named(std::string_view name);
// Its name (or "none"), for messages and test output.
std::ostream& operator<<(std::ostream& out, ErrorCategory category);

// Whether a row with this category counts as a failed page in the run's totals. Duplicates, URLs an
// interrupted run never fetched, and URLs the crawl's own rules kept it from (robots.txt,
// --include/--exclude, --max-pages) are skipped work, not failures.
constexpr bool is_failure(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::none:
    case ErrorCategory::duplicate:
    case ErrorCategory::interrupted:
    case ErrorCategory::robots:
    case ErrorCategory::excluded:
    case ErrorCategory::max_pages:
      return false;
    default:
      return true;
  }
}

// Whether a row with this category is a fetch that began and was abandoned before it ended (a stop,
// a dead worker): it keeps its start and its time so far, but has no outcome, so it counts in no
// rate and no latency.
constexpr bool cuts_fetch_short(ErrorCategory category) {
  return category == ErrorCategory::interrupted || category == ErrorCategory::worker_crash;
}

}  // namespace crawl
