// Error categories: every failure a crawl meets is stored as one of these names (pages.error) with a
// message, so runs can be compared and queried by category.
#pragma once

#include <string>
#include <string_view>

namespace crawl {

namespace category {
inline constexpr std::string_view kBadUrl = "bad_url";       // the input line is not an http(s) URL
inline constexpr std::string_view kDuplicate = "duplicate";  // the same URL was taken earlier in the run
inline constexpr std::string_view kDns = "dns";              // the host name does not resolve
inline constexpr std::string_view kConnect = "connect";      // refused or unreachable
inline constexpr std::string_view kTimeout = "timeout";      // connect or total timeout
inline constexpr std::string_view kReset = "reset";          // connection reset / closed early / empty reply
inline constexpr std::string_view kTls = "tls";              // handshake or certificate failure
inline constexpr std::string_view kHttp4xx = "http_4xx";
inline constexpr std::string_view kHttp5xx = "http_5xx";
// A final status outside 100-599, which HTTP does not define (LinkedIn answers crawlers with 999).
inline constexpr std::string_view kHttpOther = "http_other";
inline constexpr std::string_view kRedirects = "too_many_redirects";  // a loop or a chain over the limit
// A body over --max-size (after decoding), or response headers over libcurl's limits.
inline constexpr std::string_view kTooLarge = "too_large";
inline constexpr std::string_view kDecode = "decode";  // bad Content-Encoding data
// Malformed HTTP (a status line, a chunked body), an unsupported redirect target.
inline constexpr std::string_view kProtocol = "protocol";
// The page declares a character encoding that cannot be used: one the Encoding Standard maps to
// "replacement" (ISO-2022-KR and the like), or one this system's iconv lacks. The page is still
// measured, decoded as the message says.
inline constexpr std::string_view kCharset = "charset";
inline constexpr std::string_view kInterrupted = "interrupted";   // the run was stopped before it was fetched
inline constexpr std::string_view kWorkerCrash = "worker_crash";  // its worker process died (twice)
inline constexpr std::string_view kRobots = "robots";             // robots.txt disallows it
inline constexpr std::string_view kExcluded = "excluded";         // --include/--exclude left it out
inline constexpr std::string_view kMaxPages = "max_pages";        // --max-pages was reached first
inline constexpr std::string_view kOther = "other";
}  // namespace category

// Whether a row with this category counts as a failed page in the run's totals. Duplicates, URLs an
// interrupted run never fetched, and URLs the crawl's own rules kept it from (robots.txt,
// --include/--exclude, --max-pages) are skipped work, not failures.
inline bool is_failure(std::string_view error) {
  return !error.empty() && error != category::kDuplicate && error != category::kInterrupted &&
         error != category::kRobots && error != category::kExcluded && error != category::kMaxPages;
}

// The category for an HTTP status that completed the transfer (empty for 1xx–3xx; http_other for a
// status HTTP does not define, outside 100–599).
std::string_view category_for_status(long status);

}  // namespace crawl
