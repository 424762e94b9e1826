// The testbed's synthetic site: what every request target serves, as pure functions. The server
// answers from describe(); tests link the same functions to compute what they should receive, so
// the two can never disagree.
//
// URL space (every route is GET and deterministic; a query string is ignored for routing):
//
//   /page/N              0 <= N < pages: 200 text/html, an HTML5 document titled "Page N" of exactly
//                        page_body_bytes(N) bytes (2 KiB..60 KiB) linking to page_links(N). N written
//                        without leading zeros; anything else, or N out of range: 404.
//   /delay/MS/REST       waits MS milliseconds (on a timer), then serves /REST.
//   /status/CODE         200 <= CODE <= 599: that status with a small HTML body titled "Status CODE"
//                        (no body for 204 and 304).
//   /redirect/K/REST     K > 0: 302 to /redirect/K-1/REST; K = 0 serves /REST.
//   /loop/N              302 to /loop/N+1, forever.   /loop-self: 302 to itself.
//   /slow/MS/BYTES       200 text/html, headers at once, then BYTES of chunked body spread evenly over
//                        MS milliseconds.
//   /hang                never answers; the server lets go when the client closes.
//   /reset               reads the request, then resets the connection (RST) without a response.
//   /reset-mid/BYTES     headers announcing 2*BYTES, BYTES of body, then RST.
//   /big/BYTES           200 text/html of BYTES bytes with Content-Length, generated piece by piece.
//   /big-chunked/BYTES   the same without Content-Length (chunked).
//   /gzip/N              page N's exact HTML sent with Content-Encoding: gzip, whatever the client
//                        accepts.   /gzip-bad: says gzip, but the body is not valid gzip.
//   /bin/N               200 application/octet-stream, page_body_bytes(N) bytes.
//   /text/N              200 text/plain, page_body_bytes(N) bytes.
//   /json/N              200 application/json, page_body_bytes(N) bytes.
//   /robots.txt          200 text/plain "User-agent: *\nDisallow: /private/\n".
//   /__stats             the server's counters as JSON (not counted, no added latency).
//   /__reset-stats       zeroes the counters.
//   anything else        404 text/html titled "Not Found".
//
// Methods other than GET get 405 (the server decides that; describe() sees only the target).
//
// The server may add a latency of its own to every request but /__stats and /__reset-stats
// (latency_for()), on top of any /delay.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crawl::testbed {

struct SiteOptions {
  uint64_t pages = 100000;  // /page/0 .. /page/pages-1 exist
};

// The largest --pages accepted: keeps every page's fixed markup well under its smallest size.
inline constexpr uint64_t kMaxPages = 1'000'000'000'000;
inline constexpr size_t kMinPageBytes = 2 * 1024;
inline constexpr size_t kMaxPageBytes = 60 * 1024;

std::string page_title(uint64_t n);  // "Page N"
// Size in bytes of page N's HTML, also the size of /bin/N, /text/N and /json/N.
size_t page_body_bytes(uint64_t n);
// Pages that page N links to, in document order: 5 to 15 distinct pages other than N (fewer when the
// site is smaller), the first always (N+1) mod pages so that following links from any page reaches
// every page.
std::vector<uint64_t> page_links(uint64_t n, const SiteOptions& site);
std::string page_html(uint64_t n, const SiteOptions& site);
// The small HTML document of status and error responses: `title` as its title and heading.
std::string small_html(std::string_view title);

// A body too large to hold in memory, produced piece by piece and identical on every request: an
// HTML document (`head`, filler text, `tail`) or, when `size` is too small for the markup, filler
// text only.
struct StreamedBody {
  uint64_t size = 0;
  std::string head;
  std::string tail;

  // Copies bytes [offset, offset + length) of the body to `out`; the range must lie within size.
  void read(uint64_t offset, char* out, size_t length) const;
};

// Every value Response::route takes: the first path segment of a known route, "other" last.
inline constexpr std::string_view kRouteNames[] = {
    "page", "delay", "status",    "redirect",   "loop",        "loop-self",     "slow",
    "hang", "reset", "reset-mid", "big",        "big-chunked", "gzip",          "gzip-bad",
    "bin",  "text",  "json",      "robots.txt", "__stats",     "__reset-stats", "other"};
inline constexpr size_t kRouteCount = std::size(kRouteNames);

enum class Behaviour {
  kComplete,       // status, headers and `body` at once, with Content-Length
  kStream,         // `stream` with Content-Length, written piece by piece
  kStreamChunked,  // `stream` chunked, without Content-Length
  kTrickle,        // `stream` chunked, its pieces spread evenly over `trickle`
  kResetMidBody,   // headers announcing stream.size, the first half of `stream`, then RST
  kHang,           // no answer at all, until the client goes away
  kReset,          // RST right after reading the request
  kStats,          // the server's counters as JSON
  kResetStats,     // zeroes the counters
};

enum class Encoding {
  kIdentity,
  kGzip,        // `body` is sent gzip-compressed with Content-Encoding: gzip
  kBrokenGzip,  // `body` is sent as is with Content-Encoding: gzip, and is not gzip
};

struct Response {
  Behaviour kind = Behaviour::kComplete;
  // The key this request is counted under in /__stats "responses_by_target_prefix": the route of the
  // target as received ("page", "delay", "robots.txt", ...), one of kRouteNames.
  std::string_view route = "other";
  int status = 200;
  std::string content_type;  // empty: no Content-Type header
  Encoding encoding = Encoding::kIdentity;
  std::string body;  // kComplete: the body before any encoding
  StreamedBody stream;
  std::optional<std::string> title;      // what an HTML parser should find, if the body is HTML
  std::string location;                  // redirects: the Location header
  std::chrono::milliseconds delay{0};    // wait before answering (/delay)
  std::chrono::milliseconds trickle{0};  // kTrickle: time over which the body is spread
};

// What `target` (path and optional query) serves.
Response describe(std::string_view target, const SiteOptions& site);

// The body a client that reads the whole response receives, after decoding: `body` for kComplete,
// the stream's bytes (half of them for kResetMidBody) otherwise. Meant for tests: it builds streamed
// bodies whole.
std::string received_body(const Response& response);

// Server-wide added latency: every request waits a duration in [min, max] chosen by its path.
struct Latency {
  std::chrono::milliseconds min{0};
  std::chrono::milliseconds max{0};
};

// Reads "0", "100ms", "2s" or a range "50ms-150ms"; throws crawl::UsageError naming --latency.
Latency parse_latency(std::string_view spec);
// The latency added to a request for `target`; depends on its path only, not on the query.
std::chrono::milliseconds latency_for(std::string_view target, const Latency& latency);

}  // namespace crawl::testbed
