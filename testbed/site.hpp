// The testbed's synthetic site: what every request target serves, as pure functions. The server
// answers from describe(); tests link the same functions to compute what they should receive, so
// the two can never disagree.
//
// URL space (every route is GET and deterministic; a query string is ignored for routing):
//
//   /page/N              0 <= N < pages: 200 text/html, an HTML5 document titled "Page N" of exactly
//                        page_body_bytes(N) bytes (2 KiB..60 KiB) linking to page_links(N). N written
//                        without leading zeros; anything else, or N out of range: 404. With an
//                        ETag (a hash of the body, quoted) and Last-Modified: kPagesLastModified.
//   /delay/MS/REST       waits MS milliseconds (on a timer), then serves /REST.
//   /status/CODE         200 <= CODE <= 999: that status with a small HTML body titled "Status CODE"
//                        (no body for 204 and 304). 600..999 are not HTTP statuses, but clients
//                        meet them (LinkedIn answers crawlers with 999).
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
//   /gzip-cut/N          /gzip/N's first half: a gzip stream that stops before its end, in a response
//                        framed whole (its Content-Length is what is sent), as a truncating cache sends it.
//   /gzip-bin/N          /bin/N's bytes sent gzip-compressed: random bytes, which gzip makes larger.
//   /empty-encoding/N    page N as is, with an empty "Content-Encoding:" line (RFC 9110 allows it).
//   /bin/N               200 application/octet-stream, page_body_bytes(N) bytes.
//   /text/N              200 text/plain, page_body_bytes(N) bytes.
//   /json/N              200 application/json, page_body_bytes(N) bytes.
//   /robots.txt          200 text/plain "User-agent: *\nDisallow: /private/\n".
//   /ratelimit/K/REST    the first K requests for this exact target (query included) on this host
//                        get 429 with a small HTML body titled "Too Many Requests"; later ones are
//                        served /REST. K = 0: always /REST.
//   /unavailable/K/REST  the same with 503, titled "Service Unavailable".
//   /ratelimit-after/K/SECS/REST, /unavailable-after/K/SECS/REST
//                        the same, the 429/503 carrying "Retry-After: SECS" (SECS <= 86400).
//   /ratelimit-date/K/SECS/REST, /unavailable-date/K/SECS/REST
//                        the same with Retry-After as an IMF-fixdate: the time of the answer plus
//                        SECS, rounded up to a whole second (so waiting until it waits >= SECS).
//                        These count in the server (throttle counters, zeroed by /__reset-stats); a
//                        target holds at most one of them (more: 404), anywhere among its /delay and
//                        /redirect prefixes, and its delays apply to the 429/503 answers too.
//   /__stats             the server's counters as JSON (not counted, no added latency).
//   /__hosts             per-host counters as JSON (not counted, no added latency):
//                        {"h3.localhost": {"requests": R, "in_progress": I, "peak_concurrent": P,
//                        "starts_ms": [...]}, ...}, keyed by the request's Host without its port
//                        (lowercased; hK.localhost names in their canonical spelling). A request is in
//                        progress from the moment its head has been read to the last byte of its
//                        answer; starts_ms lists when each began, in milliseconds since the server
//                        started, the first kMaxStartsPerHost of them. Hosts with nothing to report
//                        are left out.
//   /__reset-stats       zeroes the counters (/__stats, /__hosts, throttles); peaks restart from what
//                        is in progress now.
//   /__revision/R        the default site's pages change to revision R from the next request on
//                        (page_revision() says how); /__revision/0 puts them back. Not counted.
//
//   Malformed and oversized responses:
//   /bad-chunked         200 text/html, chunked: one valid chunk (the start of a page titled "Bad
//                        chunked"), then a chunk-size line that is not hexadecimal ("zz"); the
//                        server closes the connection after it.
//   /bad-redirect        302 to http://127.0.0.1:99999/, a URL no client can parse (no such port).
//   /huge-header/BYTES   BYTES <= kMaxHeaderFillerBytes: 200 text/html titled "Huge header" with one
//                        header line "X-Filler: " whose value is BYTES bytes (libcurl rejects a
//                        line over 100 KB).
//   /many-headers/BYTES  BYTES <= kMaxHeaderFillerBytes: 200 text/html titled "Many headers" with
//                        ceil(BYTES / 1024) header lines "X-Filler-K: ..." of exactly 1024 bytes
//                        each, CRLF included (libcurl 7.88 as Debian ships it rejects more than
//                        300 KB of headers in all).
//
//   anything else        404 text/html titled "Not Found".
//
// Pages in other character encodings (kCharsetSamples lists the LABELs and what each page holds):
//
//   /charset/LABEL       200 "text/html; charset=LABEL": charset_page_html(), the sample's title and
//                        a paragraph in that encoding, no <meta> (UTF-16 ones start with a BOM).
//   /charset-meta/LABEL  200 "text/html" (no charset): the same page with <meta charset="LABEL"> at
//                        the top of its <head>; only for samples with a meta variant.
//                        An unknown LABEL: 404. The samples are Latin-1, windows-1252, Shift_JIS,
//                        GB2312, EUC-KR, Big5, KOI8-R, UTF-16LE/BE, and ISO-2022-KR (which the
//                        Encoding Standard refuses to decode).
//
// Many hosts on one port. libcurl resolves every *.localhost name to loopback, so the server tells
// sites apart by the Host header (case and port ignored):
//
//   hK.localhost         K < hosts, no leading zeros: "site K", a small site of its own.
//   wJ.hK.localhost      J < kSubdomains: a subdomain of site K's domain hK.localhost, a host of its
//                        own (own pages, own robots.txt, own counters).
//   anything else        (127.0.0.1, localhost, unknown names, h100.localhost with --hosts 100):
//                        the single default site above, exactly as without hosts.
//
// On a named host every route above works as on the default site except:
//
//   /page/N              0 <= N < host_pages: host_page_html(), titled "Page N on NAME", linking as
//                        host_page_links() says (absolute, root-relative, relative and
//                        protocol-relative hrefs; on pages N % 4 == 1 a <base> naming /page/x/,
//                        absolute or root-relative, so that ignoring it leads to 404s;
//                        plus a link to the page itself with "#top" ("../N#top" under a base), a
//                        mailto: and a javascript: link, which lead nowhere new). From site K's hK:
//                          every page           (N+1) mod host_pages (with a #fragment) and 2..6
//                                               more pages of the host;
//                          N % 10 == 0          page 0 of h((K+1) mod hosts) (host name in capitals
//                                               when N % 20 == 10: normalise it);
//                          N % 10 == 5          one page of some other site;
//                          N % 10 == 3          /page/N on w((N/10) mod kSubdomains).hK;
//                          N % 10 == 7          /private/N of the same host (robots.txt forbids it).
//                        A subdomain wJ.hK links within itself the same way, to page 0 of hK on
//                        N % 10 == 0, and to /private/N on N % 10 == 7.
//   /private/N           0 <= N < host_pages: 200 text/html titled "Private N", no links.
//   /robots.txt          host_robots_kind() and host_robots_txt(); robots_allows() is the ground truth:
//                          hK, K == kHangingRobotsSite   never answers (like /hang)
//                          hK, K % 10 == 7               404 (allow everything)
//                          hK, K % 10 == 8               503 (disallow everything)
//                          hK otherwise                  "User-agent: *" disallowing /private/;
//                            K % 3 == 1: also a group "User-agent: crawl" disallowing /private/
//                                        and /page/1* (pages 1, 10-19, 100-199, ...);
//                            K % 4 == 2: "Crawl-delay: 0.2" in every group.
//                          wJ.hK                         "User-agent: *" disallowing /private/.
//
// ---- Link resolution (on every host, the default site and named ones) ----
//
//   /hrefs/K             0 <= K < href_cases(port).size(): 200 text/html titled "Hrefs K", whose
//                        <base href> is http://a.localhost:PORT/b/c/d;p?q (RFC 3986's example base
//                        on a loopback name) and whose single link is case K's href: every example
//                        of RFC 3986 5.4.1 and 5.4.2 (its host "g" spelt g.localhost:PORT) and the
//                        WHATWG URL standard's whitespace, backslash and "http:g" rules.
//   /hrefs/index.html    200 text/html titled "Hrefs", no <base>: links to itself written as "",
//                        " #top ", a tab and newline around "index.html" and "http:index.html".
//                        Resolving "" to the directory (/hrefs/) is the mistake it catches.
//
// Methods other than GET get 405 (the server decides that; describe() sees only the target).
//
// The server may add a latency of its own to every request but /__stats, /__hosts and
// /__reset-stats (latency_for()), on top of any /delay.
//
// ---- HTTPS (the server, not describe(): they depend on how it runs) ----
//
// With --tls-cert and --tls-key the server also listens for HTTPS (its own port, --tls-port):
// each connection's TLS handshake is completed there and its bytes relayed to the plain port, so
// every route above answers the same over HTTPS. /__stats adds tls_handshakes_full,
// tls_handshakes_resumed and tls_handshakes_failed (a client that refused the certificate).
//   /to-https/REST       on the plain port of a server with HTTPS: 301 to https://HOST:TLS_PORT/REST
//                        (HOST: the request's Host without its port).
//   /close/REST          serves /REST, then closes the connection (Connection: close): the next
//                        request needs a new connection, and over TLS a new (or resumed) handshake.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace crawl::testbed {

struct SiteOptions {
  uint64_t pages = 100000;    // /page/0 .. /page/pages-1 exist on the default site
  uint64_t hosts = 100;       // named hosts h0.localhost .. h(hosts-1).localhost
  uint64_t host_pages = 100;  // /page/0 .. /page/host_pages-1 exist on every named host
  // The default site's edition: 0 as started; /__revision/R moves it (see page_revision()).
  uint64_t revision = 0;
};

// What a revision of the site does to the default site's /page/N, so that two crawls of one list
// see pages change: from revision 1 on, N % 4 == 1 has other text (same title, same size), N % 4 == 2
// other text and the title "Page N, revision R", N % 4 == 3 is gone (404); N % 4 == 0 stays.
enum class PageRevision { kSame, kText, kTitle, kGone };
PageRevision page_revision(uint64_t n, const SiteOptions& site);

// The largest --pages accepted: keeps every page's fixed markup well under its smallest size.
inline constexpr uint64_t kMaxPages = 1'000'000'000'000;
inline constexpr size_t kMinPageBytes = 2 * 1024;
inline constexpr size_t kMaxPageBytes = 60 * 1024;
// The most header filler /huge-header and /many-headers send.
inline constexpr uint64_t kMaxHeaderFillerBytes = 64 * 1024 * 1024;
// The largest --hosts and --host-pages accepted.
inline constexpr uint64_t kMaxHosts = 100'000;
inline constexpr uint64_t kMaxHostPages = 1'000'000;
// Every site K has the subdomains w0.hK.localhost .. w(kSubdomains-1).hK.localhost.
inline constexpr uint64_t kSubdomains = 2;
// The one site whose robots.txt never answers.
inline constexpr uint64_t kHangingRobotsSite = 9;
// /__hosts keeps the start times of this many requests per host, the first ones.
inline constexpr size_t kMaxStartsPerHost = 100'000;

std::string page_title(uint64_t n);  // "Page N"
// Page N's title in the site's revision: "Page N", or "Page N, revision R" (page_revision()).
std::string page_title(uint64_t n, const SiteOptions& site);
// Size in bytes of page N's HTML, also the size of /bin/N, /text/N and /json/N.
size_t page_body_bytes(uint64_t n);
// Pages that page N links to, in document order: 5 to 15 distinct pages other than N (fewer when the
// site is smaller), the first always (N+1) mod pages so that following links from any page reaches
// every page.
std::vector<uint64_t> page_links(uint64_t n, const SiteOptions& site);
std::string page_html(uint64_t n, const SiteOptions& site);
// The small HTML document of status and error responses: `title` as its title and heading.
std::string small_html(std::string_view title);

// ---- Pages in other character encodings (/charset/LABEL, /charset-meta/LABEL) ----

struct CharsetSample {
  std::string_view label;     // as it appears in the URL, the Content-Type and the <meta>
  std::string_view title;     // the title in UTF-8: what a crawler must store; empty: none
  std::string_view encoded;   // the same text in the sample's encoding, as the page carries it
  std::string_view encoding;  // the Encoding Standard's name for the label, lower-cased
  bool meta_variant;          // /charset-meta/LABEL exists (not for UTF-16: a <meta> cannot name it)
};

// Every sample, in a fixed order.
std::span<const CharsetSample> charset_samples();
const CharsetSample* charset_sample(std::string_view label);  // nullptr for an unknown label
// The sample's page, in its encoding: `with_meta` puts <meta charset="LABEL"> in its head.
std::string charset_page_html(const CharsetSample& sample, bool with_meta);

// ---- Many hosts (see the top of this file) ----

// A named host: hK.localhost (site K, no sub) or wJ.hK.localhost (site K, sub J).
struct HostId {
  uint64_t site = 0;
  std::optional<uint64_t> sub;
  friend auto operator<=>(const HostId&, const HostId&) = default;
};

std::string host_name(const HostId& host);  // "h3.localhost", "w1.h3.localhost"
// The named host a Host header (or a URL's host, with or without ":PORT") names; case-insensitive.
// nullopt for the default site: IP addresses, localhost, unknown names, K >= hosts, J >= kSubdomains.
std::optional<HostId> parse_host(std::string_view host_header, const SiteOptions& site);
// The port a Host header names; 0 when it names none.
uint16_t host_header_port(std::string_view host_header);
// "http://NAME:PORT" + path; no ":PORT" when port is 0.
std::string host_url(const HostId& host, uint16_t port, std::string_view path);

// Where a link leads: a path ("/page/M", "/private/N") on a named host.
struct Link {
  HostId host;
  std::string path;
  friend auto operator<=>(const Link&, const Link&) = default;
};

std::string host_page_title(const HostId& host, uint64_t n);  // "Page N on h3.localhost"
size_t host_page_bytes(const HostId& host, uint64_t n);       // 2 KiB..60 KiB
// What page N of `host` links to, resolved and normalised (base applied, host lowercased, fragment
// dropped), distinct, in document order; without the page itself (its "#top" link) and without the
// mailto: and javascript: links.
std::vector<Link> host_page_link_targets(const HostId& host, uint64_t n, const SiteOptions& site);
// The same as absolute URLs, "http://NAME:PORT/page/M" (no ":PORT" when port is 0).
std::vector<std::string> host_page_links(const HostId& host, uint64_t n, const SiteOptions& site,
                                         uint16_t port);
// Of site K's main host hK.localhost.
std::vector<std::string> host_page_links(uint64_t site_number, uint64_t n, const SiteOptions& site,
                                         uint16_t port);
// The page as served when the request's Host header carries `port` (0: none).
std::string host_page_html(const HostId& host, uint64_t n, const SiteOptions& site, uint16_t port);

enum class RobotsKind {
  kRules,        // 200 with host_robots_txt()
  kNotFound,     // 404: everything is allowed
  kUnavailable,  // 503: everything is disallowed
  kHang,         // no answer: everything is disallowed (RFC 9309 treats it as unreachable)
};
RobotsKind host_robots_kind(const HostId& host);
std::string host_robots_txt(const HostId& host);  // the body for kRules
// Whether a crawler whose product token is `user_agent` (e.g. "crawl"; case-insensitive) may fetch
// `path` (query included) on `host`, following RFC 9309 for the host's robots.txt: the group naming
// the agent, else "*"; 4xx allows everything, 5xx and no answer disallow everything. /robots.txt
// itself is always allowed.
bool robots_allows(const HostId& host, std::string_view path, std::string_view user_agent);
// The Crawl-delay of the agent's group; 0 when none.
std::chrono::milliseconds robots_crawl_delay(const HostId& host, std::string_view user_agent);

enum class Scope {
  kHost,    // the start host only
  kDomain,  // hosts of the start host's site K: hK.localhost and every wJ.hK.localhost
  kAny,     // every named host
};
bool in_scope(const HostId& start, const HostId& other, Scope scope);

// The ground truth of a breadth-first crawl: every URL fetched when a crawl starts at /page/`page`
// of `start` (depth 0), follows the links of the pages it fetches up to `max_depth` hops, keeps to
// `scope` and, unless `user_agent` is empty, obeys robots_allows(). Maps each URL (as
// host_page_links writes them) to its depth, the fewest hops that reach it. robots.txt fetches are
// not included; /private/ pages have no links.
std::map<std::string, int> host_walk(const HostId& start, uint64_t page, int max_depth, Scope scope,
                                     std::string_view user_agent, const SiteOptions& site, uint16_t port);

// How a request reached the server: which named host (none: the default site) and the port its Host
// header carried (written into absolute links).
struct Origin {
  std::optional<HostId> host;
  uint16_t port = 0;
};

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
inline constexpr std::string_view kRouteNames[] = {"page",
                                                   "delay",
                                                   "status",
                                                   "redirect",
                                                   "loop",
                                                   "loop-self",
                                                   "slow",
                                                   "hang",
                                                   "reset",
                                                   "reset-mid",
                                                   "big",
                                                   "big-chunked",
                                                   "gzip",
                                                   "gzip-bad",
                                                   "gzip-cut",
                                                   "gzip-bin",
                                                   "empty-encoding",
                                                   "bin",
                                                   "text",
                                                   "json",
                                                   "robots.txt",
                                                   "ratelimit",
                                                   "unavailable",
                                                   "ratelimit-after",
                                                   "unavailable-after",
                                                   "ratelimit-date",
                                                   "unavailable-date",
                                                   "private",
                                                   "__stats",
                                                   "__hosts",
                                                   "__reset-stats",
                                                   "bad-chunked",
                                                   "bad-redirect",
                                                   "huge-header",
                                                   "many-headers",
                                                   "hrefs",
                                                   "charset",
                                                   "charset-meta",
                                                   "other"};
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
  kHosts,          // the server's per-host counters as JSON
  kResetStats,     // zeroes the counters
  kSetRevision,    // /__revision/R: the default site's pages change to revision R (`revision`)
  kBadChunked,     // chunked: `body` as one valid chunk, then a malformed chunk-size line, then close
};

// The answers /ratelimit... and /unavailable... give before they serve the rest of the target.
enum class RetryAfter { kNone, kSeconds, kDate };
struct Throttle {
  int status = 0;      // 429 or 503; 0: the response is not throttled
  uint64_t times = 0;  // the first `times` requests for the target get `status`
  RetryAfter retry_after = RetryAfter::kNone;
  uint64_t seconds = 0;
};

enum class Encoding {
  kIdentity,
  kGzip,        // `body` is sent gzip-compressed with Content-Encoding: gzip
  kBrokenGzip,  // `body` is sent as is with Content-Encoding: gzip, and is not gzip
  kGzipCut,     // the first half of `body`'s gzip stream is sent, with Content-Encoding: gzip
  kEmptyLabel,  // `body` is sent as is, with a Content-Encoding header that has no value
};

// The Last-Modified of every /page/N: the site never changes.
inline constexpr std::string_view kPagesLastModified = "Tue, 01 Dec 2026 00:00:00 GMT";

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
  std::string retry_after;               // the Retry-After header; empty: none
  Throttle throttle;                     // what the server answers while the target is throttled
  std::string extra_headers;             // header lines ("Name: value\r\n" each) sent after the others
  uint64_t revision = 0;                 // kSetRevision: the site's revision from now on
  // Validators (/page/N): sent as ETag and Last-Modified; a GET that names them back
  // (If-None-Match, or If-Modified-Since without it) is answered 304 (not_modified()).
  std::string etag;           // quoted, as sent
  std::string last_modified;  // an IMF-fixdate
};

// Whether a GET with these conditional headers ("" when absent) may be answered 304 for
// `response`: If-None-Match names its ETag (or is "*"), or, without If-None-Match, If-Modified-Since
// is an IMF-fixdate no earlier than its Last-Modified (RFC 9110, 13.1).
bool not_modified(const Response& response, std::string_view if_none_match,
                  std::string_view if_modified_since);
// The 304 that stands for `response`: no body, its validators kept.
Response as_not_modified(const Response& response);

// What `target` (path and optional query) serves on the host `origin` names.
Response describe(std::string_view target, const SiteOptions& site, const Origin& origin = {});

// The answer a throttled request gets in place of `response` (whose throttle.status is not 0): the
// 429 or 503 with its Retry-After as of `now`; route and delay stay.
Response throttled(const Response& response, std::chrono::system_clock::time_point now);
// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the time rounded down to the second.
std::string http_date(std::chrono::system_clock::time_point time);

// The body a client that reads the whole response receives, after decoding: `body` for kComplete
// (and the valid chunk of kBadChunked), the stream's bytes (half of them for kResetMidBody)
// otherwise. Meant for tests: it builds streamed bodies whole.
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

// ---- Link resolution: /hrefs (see the top of this file) ----

struct HrefCase {
  std::string href;      // as written in the page (may hold spaces, tabs, newlines, backslashes)
  std::string resolved;  // where it leads, normalised as the crawl stores links; "" when it is no
                         // http(s) URL and a crawler must drop it
};
// The cases of /hrefs/K, for the server on `port` (0: none in the URLs).
std::vector<HrefCase> href_cases(uint16_t port);
// /hrefs/K as served on `port`, and /hrefs/index.html.
std::string href_case_html(uint64_t k, uint16_t port);
std::string href_index_html();

}  // namespace crawl::testbed
