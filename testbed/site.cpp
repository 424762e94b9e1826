#include "testbed/site.hpp"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <ctime>
#include <deque>
#include <iterator>
#include <set>
#include <stdexcept>

#include "common/units.hpp"
#include "common/usage_error.hpp"

namespace crawl::testbed {
namespace {

constexpr std::string_view kHtml = "text/html; charset=utf-8";
constexpr std::string_view kText = "text/plain; charset=utf-8";
constexpr std::string_view kJson = "application/json";
constexpr std::string_view kBinary = "application/octet-stream";
constexpr std::string_view kRobots = "User-agent: *\nDisallow: /private/\n";

// Longer waits are refused (404) so that sums of delays stay far from overflowing milliseconds.
constexpr uint64_t kMaxWaitMs = 24ull * 3600 * 1000;
// Caps /reset-mid so that the announced 2*BYTES still fits in 64 bits.
constexpr uint64_t kMaxStreamBytes = uint64_t{1} << 62;

// Salts keep the different things derived from one page number independent of each other.
constexpr uint64_t kSizeSalt = 0x51e5;
constexpr uint64_t kLinkCountSalt = 0x11c0;
constexpr uint64_t kLinkSalt = 0x11ee;
constexpr uint64_t kTextSalt = 0x7e87;
constexpr uint64_t kBinarySalt = 0xb1a5;
constexpr uint64_t kHostSizeSalt = 0x4057;
constexpr uint64_t kHostLinkCountSalt = 0x40c0;
constexpr uint64_t kHostLinkSalt = 0x40ee;
constexpr uint64_t kOtherSiteSalt = 0xc055;
constexpr uint64_t kHeaderFillerSeed = 0x4eade7;

// SplitMix64's finaliser: cheap, and every input bit reaches every output bit.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t hash_text(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, then mixed for better low bits
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ull;
  return mix(h);
}

// `wanted` (< pages) distinct pages among 0..pages-1 other than n, the first (n+1) mod pages, the
// others drawn from `seed`.
std::vector<uint64_t> links_among(uint64_t n, uint64_t pages, uint64_t wanted, uint64_t seed) {
  std::vector<uint64_t> links;
  if (pages < 2 || wanted == 0) return links;
  links.push_back((n + 1) % pages);
  for (uint64_t i = 1; links.size() < wanted; ++i) {
    uint64_t m = mix(seed + i) % pages;
    // Probing onwards terminates: fewer than pages-1 pages are taken.
    while (m == n || std::find(links.begin(), links.end(), m) != links.end()) m = (m + 1) % pages;
    links.push_back(m);
  }
  return links;
}

// Filler text repeats with this period; big enough that pages do not visibly repeat themselves.
constexpr size_t kFillerBytes = 16 * 1024;

const std::string& filler() {
  static const std::string text = [] {
    static constexpr std::string_view kWords[] = {
        "river",  "stone",   "lantern", "garden", "orbit",   "paper",  "window", "signal",
        "meadow", "copper",  "harbour", "thread", "compass", "amber",  "valley", "engine",
        "winter", "pattern", "candle",  "market", "silver",  "forest", "bridge", "letter",
        "island", "quiet",   "morning", "ladder", "cloud",   "marble", "tunnel", "voyage"};
    std::string s;
    s.reserve(kFillerBytes + 16);
    uint64_t state = 0;
    size_t line = 0;
    while (s.size() < kFillerBytes) {
      std::string_view word = kWords[mix(state++) % std::size(kWords)];
      s += word;
      line += word.size() + 1;
      if (line > 72) {
        s += '\n';
        line = 0;
      } else {
        s += ' ';
      }
    }
    s.resize(kFillerBytes);
    return s;
  }();
  return text;
}

// Copies `length` bytes of the endless filler text, starting `position` bytes into it.
void copy_filler(uint64_t position, char* out, size_t length) {
  const std::string& text = filler();
  size_t at = position % kFillerBytes;
  while (length > 0) {
    size_t n = std::min(length, kFillerBytes - at);
    std::copy_n(text.data() + at, n, out);
    out += n;
    length -= n;
    at = 0;
  }
}

void append_filler(std::string& out, uint64_t position, size_t length) {
  const std::string& text = filler();
  size_t at = position % kFillerBytes;
  while (length > 0) {
    const size_t n = std::min(length, kFillerBytes - at);
    out.append(text, at, n);
    length -= n;
    at = 0;
  }
}

// Appends `length` bytes of text split into paragraphs; the caller has opened the first <p> and
// closes the last.
void append_paragraphs(std::string& out, uint64_t position, size_t length) {
  constexpr size_t kParagraphBytes = 1024;
  constexpr std::string_view kBreak = "</p>\n<p>";
  while (length > kParagraphBytes + kBreak.size() + kParagraphBytes / 4) {
    append_filler(out, position, kParagraphBytes);
    position += kParagraphBytes;
    out += kBreak;
    length -= kParagraphBytes + kBreak.size();
  }
  append_filler(out, position, length);
}

// Digits only, no sign, no leading zeros: one spelling per number, so one URL per resource.
std::optional<uint64_t> parse_number(std::string_view text) {
  if (text.empty() || text.size() > 19 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

// "/a/b/c" -> {"a", "/b/c"}; "/a" -> {"a", ""}.
struct Split {
  std::string_view first;
  std::string_view rest;
};

Split split_first(std::string_view path) {
  if (path.empty() || path[0] != '/') return {{}, path};
  path.remove_prefix(1);
  size_t slash = path.find('/');
  if (slash == std::string_view::npos) return {path, {}};
  return {path.substr(0, slash), path.substr(slash)};
}

// The segments of `rest` ("/x/y") when it has exactly `count` of them.
std::optional<std::vector<std::string_view>> segments(std::string_view rest, size_t count) {
  std::vector<std::string_view> out;
  while (!rest.empty()) {
    Split s = split_first(rest);
    if (s.first.empty()) return std::nullopt;
    out.push_back(s.first);
    rest = s.rest;
  }
  if (out.size() != count) return std::nullopt;
  return out;
}

std::optional<uint64_t> one_number(std::string_view rest) {
  auto parts = segments(rest, 1);
  if (!parts) return std::nullopt;
  return parse_number((*parts)[0]);
}

std::string_view route_name(std::string_view first_segment) {
  for (std::string_view route : kRouteNames)
    if (route == first_segment) return route;
  return kRouteNames[kRouteCount - 1];
}

Response not_found() {
  Response r;
  r.status = 404;
  r.content_type = kHtml;
  r.title = "Not Found";
  r.body = small_html("Not Found");
  return r;
}

Response complete(std::string_view content_type, std::string body,
                  std::optional<std::string> title = std::nullopt) {
  Response r;
  r.content_type = content_type;
  r.body = std::move(body);
  r.title = std::move(title);
  return r;
}

// A page's validators, as a server that knows its files sends them: an ETag that changes with the
// bytes (FNV-1a of the body) and a Last-Modified that the unchanging site never moves.
Response with_validators(Response r) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const unsigned char c : r.body) hash = (hash ^ c) * 0x100000001b3ULL;
  char etag[32];
  std::snprintf(etag, sizeof etag, "\"%016llx\"", static_cast<unsigned long long>(hash));
  r.etag = etag;
  r.last_modified = kPagesLastModified;
  return r;
}

// Seconds since the epoch of an IMF-fixdate ("Tue, 01 Dec 2026 00:00:00 GMT"); nullopt otherwise.
std::optional<int64_t> imf_fixdate_seconds(std::string_view text) {
  std::tm tm{};
  const std::string copy(text);
  const char* end = strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

Response redirect_to(std::string location) {
  Response r;
  r.status = 302;
  r.location = std::move(location);
  return r;
}

StreamedBody streamed_html(std::string_view title, uint64_t size) {
  StreamedBody body;
  body.size = size;
  body.head = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>";
  body.head += title;
  body.head += "</title>\n</head>\n<body>\n<p>";
  body.tail = "</p>\n</body>\n</html>\n";
  if (body.head.size() + body.tail.size() > size) {
    body.head.clear();
    body.tail.clear();
  }
  return body;
}

Response streamed(Behaviour kind, std::string_view title, uint64_t size) {
  Response r;
  r.kind = kind;
  r.content_type = kHtml;
  r.stream = streamed_html(title, size);
  if (!r.stream.head.empty()) r.title = std::string(title);
  return r;
}

std::string text_body(uint64_t n) {
  const size_t total = page_body_bytes(n);
  std::string text = page_title(n) + "\n\n";
  append_filler(text, mix(n ^ kTextSalt), total - text.size());
  return text;
}

std::string json_body(uint64_t n, const SiteOptions& site) {
  const size_t total = page_body_bytes(n);
  std::string json = "{\"page\":" + std::to_string(n) + ",\"title\":\"" + page_title(n) + "\",\"links\":[";
  bool first = true;
  for (uint64_t m : page_links(n, site)) {
    if (!first) json += ',';
    first = false;
    json += std::to_string(m);
  }
  json += "],\"text\":\"";
  constexpr std::string_view kEnd = "\"}\n";
  size_t start = json.size();
  append_filler(json, mix(n ^ kTextSalt), total - start - kEnd.size());
  // A JSON string may not hold a raw newline.
  std::replace(json.begin() + static_cast<std::ptrdiff_t>(start), json.end(), '\n', ' ');
  json += kEnd;
  return json;
}

std::string binary_body(uint64_t n) {
  const size_t total = page_body_bytes(n);
  std::string bytes(total, '\0');
  for (size_t i = 0; i < total; i += 8) {
    uint64_t word = mix((n ^ kBinarySalt) * 0x100000 + i / 8);
    for (size_t j = 0; j < 8 && i + j < total; ++j) bytes[i + j] = static_cast<char>(word >> (8 * j));
  }
  return bytes;
}

// A valid gzip header followed by a deflate block of the reserved type 3, which every inflater
// rejects.
std::string broken_gzip() {
  std::string body("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
  body += '\xff';
  body += "this is not deflate data";
  return body;
}

// One header line whose value is `bytes` bytes of filler text.
std::string huge_header(uint64_t bytes) {
  std::string line = "X-Filler: ";
  line.reserve(line.size() + bytes + 2);
  append_filler(line, kHeaderFillerSeed, static_cast<size_t>(bytes));
  std::replace(line.begin(), line.end(), '\n', ' ');
  line += "\r\n";
  return line;
}

// ceil(bytes / 1024) header lines of exactly kHeaderLineBytes bytes each, CRLF included.
std::string many_headers(uint64_t bytes) {
  constexpr size_t kHeaderLineBytes = 1024;
  const uint64_t lines = (bytes + kHeaderLineBytes - 1) / kHeaderLineBytes;
  std::string out;
  out.reserve(static_cast<size_t>(lines * kHeaderLineBytes));
  for (uint64_t k = 0; k < lines; ++k) {
    const size_t start = out.size();
    out += "X-Filler-" + std::to_string(k) + ": ";
    append_filler(out, kHeaderFillerSeed + k, kHeaderLineBytes - 2 - (out.size() - start));
    std::replace(out.begin() + static_cast<std::ptrdiff_t>(start), out.end(), '\n', ' ');
    out += "\r\n";
  }
  return out;
}

// The throttle a route's first segment asks for, without its counts; nullopt for other routes.
std::optional<Throttle> throttle_kind(std::string_view segment) {
  Throttle t;
  std::string_view variant;
  if (segment.starts_with("ratelimit")) {
    t.status = 429;
    variant = segment.substr(9);
  } else if (segment.starts_with("unavailable")) {
    t.status = 503;
    variant = segment.substr(11);
  } else {
    return std::nullopt;
  }
  if (variant == "-after") {
    t.retry_after = RetryAfter::kSeconds;
  } else if (variant == "-date") {
    t.retry_after = RetryAfter::kDate;
  } else if (!variant.empty()) {
    return std::nullopt;
  }
  return t;
}

// What `path` (no query, no /delay, /redirect/0 or throttle prefix left) serves.
Response serve_path(std::string_view path, std::string_view query, const SiteOptions& site,
                    const Origin& origin) {
  const Split split = split_first(path);
  const std::string_view name = split.first;
  const std::string_view rest = split.rest;
  auto page_number = [&]() -> std::optional<uint64_t> {
    auto n = one_number(rest);
    if (n && *n < site.pages) return n;
    return std::nullopt;
  };
  auto host_page_number = [&]() -> std::optional<uint64_t> {
    auto n = one_number(rest);
    if (n && *n < site.host_pages) return n;
    return std::nullopt;
  };

  if (name == "page" && origin.host) {
    if (auto n = host_page_number())
      return with_validators(complete(kHtml, host_page_html(*origin.host, *n, site, origin.port),
                                      host_page_title(*origin.host, *n)));
  } else if (name == "private" && origin.host) {
    if (auto n = host_page_number()) {
      std::string title = "Private " + std::to_string(*n);
      return complete(kHtml, small_html(title), title);
    }
  } else if (name == "robots.txt" && origin.host) {
    if (rest.empty()) {
      switch (host_robots_kind(*origin.host)) {
        case RobotsKind::kRules:
          return complete(kText, host_robots_txt(*origin.host));
        case RobotsKind::kNotFound:
          return not_found();
        case RobotsKind::kUnavailable: {
          Response r = complete(kHtml, small_html("Service Unavailable"), "Service Unavailable");
          r.status = 503;
          return r;
        }
        case RobotsKind::kHang: {
          Response r;
          r.kind = Behaviour::kHang;
          r.status = 0;
          return r;
        }
      }
    }
  } else if (name == "hrefs") {
    if (rest == "/index.html") return complete(kHtml, href_index_html(), "Hrefs");
    auto k = one_number(rest);
    if (k && *k < href_cases(origin.port).size())
      return complete(kHtml, href_case_html(*k, origin.port), "Hrefs " + std::to_string(*k));
  } else if (name == "page") {
    if (auto n = page_number()) {
      if (page_revision(*n, site) == PageRevision::kGone) return not_found();
      return with_validators(complete(kHtml, page_html(*n, site), page_title(*n, site)));
    }
  } else if (name == "status") {
    auto code = one_number(rest);
    if (code && *code >= 200 && *code <= 999) {
      Response r;
      r.status = static_cast<int>(*code);
      if (r.status != 204 && r.status != 304) {
        std::string title = "Status " + std::to_string(*code);
        r.content_type = kHtml;
        r.body = small_html(title);
        r.title = std::move(title);
      }
      return r;
    }
  } else if (name == "loop") {
    if (auto n = one_number(rest)) return redirect_to("/loop/" + std::to_string(*n + 1) + std::string(query));
  } else if (name == "loop-self") {
    if (rest.empty()) return redirect_to("/loop-self" + std::string(query));
  } else if (name == "slow") {
    auto parts = segments(rest, 2);
    if (parts) {
      auto ms = parse_number((*parts)[0]);
      auto bytes = parse_number((*parts)[1]);
      if (ms && bytes && *ms <= kMaxWaitMs && *bytes <= kMaxStreamBytes) {
        Response r = streamed(Behaviour::kTrickle, "Slow", *bytes);
        r.trickle = std::chrono::milliseconds(*ms);
        return r;
      }
    }
  } else if (name == "hang" || name == "reset") {
    if (rest.empty()) {
      Response r;
      r.kind = name == "hang" ? Behaviour::kHang : Behaviour::kReset;
      r.status = 0;
      return r;
    }
  } else if (name == "reset-mid") {
    auto bytes = one_number(rest);
    if (bytes && *bytes <= kMaxStreamBytes) return streamed(Behaviour::kResetMidBody, "Reset", 2 * *bytes);
  } else if (name == "big" || name == "big-chunked") {
    auto bytes = one_number(rest);
    if (bytes && *bytes <= kMaxStreamBytes) {
      return name == "big" ? streamed(Behaviour::kStream, "Big", *bytes)
                           : streamed(Behaviour::kStreamChunked, "Big chunked", *bytes);
    }
  } else if (name == "gzip") {
    if (auto n = page_number()) {
      Response r = complete(kHtml, page_html(*n, site), page_title(*n));
      r.encoding = Encoding::kGzip;
      return r;
    }
  } else if (name == "gzip-bin") {
    if (auto n = page_number()) {
      Response r = complete(kBinary, binary_body(*n));
      r.encoding = Encoding::kGzip;
      return r;
    }
  } else if (name == "empty-encoding") {
    if (auto n = page_number()) {
      Response r = complete(kHtml, page_html(*n, site), page_title(*n));
      r.encoding = Encoding::kEmptyLabel;
      return r;
    }
  } else if (name == "gzip-cut") {
    if (auto n = page_number()) {
      Response r = complete(kHtml, page_html(*n, site));
      r.encoding = Encoding::kGzipCut;
      return r;
    }
  } else if (name == "gzip-bad") {
    if (rest.empty()) {
      Response r = complete(kHtml, broken_gzip());
      r.encoding = Encoding::kBrokenGzip;
      return r;
    }
  } else if (name == "bin") {
    if (auto n = page_number()) return complete(kBinary, binary_body(*n));
  } else if (name == "text") {
    if (auto n = page_number()) return complete(kText, text_body(*n));
  } else if (name == "json") {
    if (auto n = page_number()) return complete(kJson, json_body(*n, site));
  } else if (name == "robots.txt") {
    if (rest.empty()) return complete(kText, std::string(kRobots));
  } else if (name == "charset" || name == "charset-meta") {
    const CharsetSample* sample = charset_sample(rest.empty() ? rest : rest.substr(1));
    if (sample && (name == "charset" || sample->meta_variant)) {
      const bool meta = name == "charset-meta";
      return complete(meta ? "text/html" : "text/html; charset=" + std::string(sample->label),
                      charset_page_html(*sample, meta),
                      sample->title.empty() ? std::nullopt : std::optional<std::string>(sample->title));
    }
  } else if (name == "__revision") {
    if (auto revision = one_number(rest)) {
      Response r;
      r.kind = Behaviour::kSetRevision;
      r.content_type = kJson;
      r.revision = *revision;
      return r;
    }
  } else if (name == "__stats" || name == "__hosts" || name == "__reset-stats") {
    if (rest.empty()) {
      Response r;
      r.kind = name == "__stats"   ? Behaviour::kStats
               : name == "__hosts" ? Behaviour::kHosts
                                   : Behaviour::kResetStats;
      r.content_type = kJson;
      return r;
    }
  }

  // ---- Malformed and oversized responses ----
  if (name == "bad-redirect" && rest.empty()) return redirect_to("http://127.0.0.1:99999/");  // no such port
  if (name == "bad-chunked" && rest.empty()) {
    // Cut short of its end: the malformed chunk-size line comes where the rest of the page would.
    const std::string page = small_html("Bad chunked");
    Response r = complete(kHtml, page.substr(0, page.find("</body>")), "Bad chunked");
    r.kind = Behaviour::kBadChunked;
    return r;
  }
  if (name == "huge-header" || name == "many-headers") {
    auto bytes = one_number(rest);
    if (bytes && *bytes <= kMaxHeaderFillerBytes) {
      const std::string title = name == "huge-header" ? "Huge header" : "Many headers";
      Response r = complete(kHtml, small_html(title), title);
      r.extra_headers = name == "huge-header" ? huge_header(*bytes) : many_headers(*bytes);
      return r;
    }
  }
  return not_found();
}

}  // namespace

std::string page_title(uint64_t n) {
  return "Page " + std::to_string(n);
}

PageRevision page_revision(uint64_t n, const SiteOptions& site) {
  if (site.revision == 0) return PageRevision::kSame;
  switch (n % 4) {
    case 1:
      return PageRevision::kText;
    case 2:
      return PageRevision::kTitle;
    case 3:
      return PageRevision::kGone;
    default:
      return PageRevision::kSame;
  }
}

std::string page_title(uint64_t n, const SiteOptions& site) {
  if (page_revision(n, site) == PageRevision::kTitle)
    return page_title(n) + ", revision " + std::to_string(site.revision);
  return page_title(n);
}

size_t page_body_bytes(uint64_t n) {
  // Squaring a uniform draw skews sizes towards small pages, as on real sites.
  const uint64_t draw = mix(n ^ kSizeSalt) >> 48;  // 16 bits
  return kMinPageBytes + static_cast<size_t>((draw * draw * (kMaxPageBytes - kMinPageBytes)) >> 32);
}

std::vector<uint64_t> page_links(uint64_t n, const SiteOptions& site) {
  if (site.pages < 2) return {};
  const uint64_t wanted = std::min<uint64_t>(5 + mix(n ^ kLinkCountSalt) % 11, site.pages - 1);
  return links_among(n, site.pages, wanted, mix(n ^ kLinkSalt));
}

std::string page_html(uint64_t n, const SiteOptions& site) {
  const size_t total = page_body_bytes(n);
  const std::string title = page_title(n, site);
  const PageRevision revision = page_revision(n, site);
  // A revised page's text comes from another seed: other words, the same size.
  const uint64_t text_seed =
      revision == PageRevision::kSame ? mix(n ^ kTextSalt) : mix(n ^ kTextSalt ^ (site.revision << 40));
  std::string html;
  html.reserve(total);
  html += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>";
  html += title;
  html += "</title>\n</head>\n<body>\n<h1>";
  html += title;
  html += "</h1>\n<ul>\n";
  for (uint64_t m : page_links(n, site)) {
    const std::string number = std::to_string(m);
    html += "<li><a href=\"/page/";
    html += number;
    html += "\">Page ";
    html += number;
    html += "</a></li>\n";
  }
  html += "</ul>\n<p>";
  constexpr std::string_view kEnd = "</p>\n</body>\n</html>\n";
  // Holds while pages <= kMaxPages: the markup above stays under 1.5 KiB.
  assert(html.size() + kEnd.size() <= total);
  append_paragraphs(html, text_seed, total - html.size() - kEnd.size());
  html += kEnd;
  return html;
}

std::string small_html(std::string_view title) {
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>";
  html += title;
  html += "</title>\n</head>\n<body>\n<h1>";
  html += title;
  html += "</h1>\n</body>\n</html>\n";
  return html;
}

// ---- Many hosts ----

namespace {

// One number per host name: site K is K * (kSubdomains + 1), its subdomain J that plus J + 1.
uint64_t host_key(const HostId& host) {
  return host.site * (kSubdomains + 1) + (host.sub ? *host.sub + 1 : 0);
}

std::string port_suffix(uint16_t port) {
  return port == 0 ? std::string() : ":" + std::to_string(port);
}

// The number after `letter` in a host name label ("h12" -> 12).
std::optional<uint64_t> label_number(std::string_view label, char letter) {
  if (label.size() < 2 || label[0] != letter) return std::nullopt;
  return parse_number(label.substr(1));
}

bool has_base(uint64_t n) {
  return n % 4 == 1;
}

// One <a> of a host page: its href as written, its text, and where it leads (nullopt: nowhere a
// crawler goes; mailto: and javascript:).
struct Anchor {
  std::string href;
  std::string text;
  std::optional<Link> target;
};

std::vector<Anchor> host_anchors(const HostId& host, uint64_t n, const SiteOptions& site, uint16_t port) {
  const std::string name = host_name(host);
  const std::string authority = name + port_suffix(port);
  const bool base = has_base(n);
  std::vector<Anchor> anchors;

  // Pages of the same host, in every href form a crawler must resolve.
  const uint64_t pages = site.host_pages;
  const uint64_t key = host_key(host);
  const uint64_t wanted =
      std::min<uint64_t>(3 + mix(mix(key ^ kHostLinkCountSalt) + n) % 5, pages > 0 ? pages - 1 : 0);
  const auto same = links_among(n, pages, wanted, mix(mix(key ^ kHostLinkSalt) + n));
  for (size_t i = 0; i < same.size(); ++i) {
    const std::string m = std::to_string(same[i]);
    std::string href;
    switch ((n + i) % 5) {
      case 0:
        href = "http://" + authority + "/page/" + m;
        break;
      case 1:
        href = "/page/" + m;
        break;
      case 2:
        href = (base ? "../" : "") + m;  // the base is /page/x/
        break;
      case 3:
        href = (base ? "../../page/" : "../page/") + m;
        break;
      default:
        href = "//" + authority + "/page/" + m;
        break;
    }
    if (i == 0) href += "#part-2";
    anchors.push_back({std::move(href), "Page " + m, Link{host, "/page/" + m}});
  }

  auto absolute = [&](const HostId& to, std::string path, bool capitals = false) {
    std::string to_name = host_name(to);
    if (capitals)
      std::transform(to_name.begin(), to_name.end(), to_name.begin(),
                     [](char c) { return static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c); });
    std::string href = "http://" + to_name + port_suffix(port) + path;
    std::string text = "Page " + path.substr(path.rfind('/') + 1) + " on " + host_name(to);
    anchors.push_back({std::move(href), std::move(text), Link{to, std::move(path)}});
  };
  if (!host.sub) {
    if (n % 10 == 0 && site.hosts > 1)
      absolute({.site = (host.site + 1) % site.hosts}, "/page/0", n % 20 == 10);
    if (n % 10 == 5 && site.hosts > 1) {
      const uint64_t draw = mix(mix(key ^ kOtherSiteSalt) + n);
      const uint64_t other = (host.site + 1 + draw % (site.hosts - 1)) % site.hosts;
      absolute({.site = other}, "/page/" + std::to_string(mix(draw) % pages));
    }
    if (n % 10 == 3 && kSubdomains > 0)
      absolute({.site = host.site, .sub = (n / 10) % kSubdomains}, "/page/" + std::to_string(n));
  } else if (n % 10 == 0) {
    absolute({.site = host.site}, "/page/0");
  }
  if (n % 10 == 7) {
    const std::string number = std::to_string(n);
    anchors.push_back({(base ? "../../private/" : "../private/") + number, "Private " + number,
                       Link{host, "/private/" + number}});
  }
  // A bare "#top" resolves against the <base>, not the page: pages with one write the way back.
  anchors.push_back(
      {base ? "../" + std::to_string(n) + "#top" : "#top", "Top", Link{host, "/page/" + std::to_string(n)}});
  anchors.push_back({"mailto:webmaster@" + name, "Write to us", std::nullopt});
  anchors.push_back({"javascript:void(0)", "Do nothing", std::nullopt});
  return anchors;
}

bool is_crawl_agent(std::string_view user_agent) {
  constexpr std::string_view kCrawl = "crawl";
  if (user_agent.size() != kCrawl.size()) return false;
  for (size_t i = 0; i < kCrawl.size(); ++i) {
    const char c = user_agent[i];
    if ((c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c) != kCrawl[i]) return false;
  }
  return true;
}

bool has_crawl_group(const HostId& host) {
  return !host.sub && host.site % 3 == 1;
}

bool has_crawl_delay(const HostId& host) {
  return !host.sub && host.site % 4 == 2;
}

}  // namespace

std::string host_name(const HostId& host) {
  std::string name;
  if (host.sub) name = "w" + std::to_string(*host.sub) + ".";
  name += "h" + std::to_string(host.site) + ".localhost";
  return name;
}

std::optional<HostId> parse_host(std::string_view host_header, const SiteOptions& site) {
  std::string_view h = host_header;
  if (h.starts_with('[')) return std::nullopt;  // an IPv6 address
  if (const size_t colon = h.rfind(':'); colon != std::string_view::npos) h = h.substr(0, colon);
  if (h.ends_with('.')) h.remove_suffix(1);
  if (h.size() > 64) return std::nullopt;
  std::string lower(h);
  for (char& c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  std::string_view rest = lower;
  constexpr std::string_view kSuffix = ".localhost";
  if (!rest.ends_with(kSuffix)) return std::nullopt;
  rest.remove_suffix(kSuffix.size());
  HostId host;
  if (const size_t dot = rest.find('.'); dot != std::string_view::npos) {
    const auto sub = label_number(rest.substr(0, dot), 'w');
    if (!sub || *sub >= kSubdomains) return std::nullopt;
    host.sub = *sub;
    rest.remove_prefix(dot + 1);
  }
  const auto number = label_number(rest, 'h');
  if (!number || *number >= site.hosts) return std::nullopt;
  host.site = *number;
  return host;
}

uint16_t host_header_port(std::string_view host_header) {
  const size_t colon = host_header.rfind(':');
  if (colon == std::string_view::npos || host_header.find(']', colon) != std::string_view::npos) return 0;
  const auto port = parse_number(host_header.substr(colon + 1));
  return port && *port <= 65535 ? static_cast<uint16_t>(*port) : 0;
}

std::string host_url(const HostId& host, uint16_t port, std::string_view path) {
  return "http://" + host_name(host) + port_suffix(port) + std::string(path);
}

std::string host_page_title(const HostId& host, uint64_t n) {
  return "Page " + std::to_string(n) + " on " + host_name(host);
}

size_t host_page_bytes(const HostId& host, uint64_t n) {
  return page_body_bytes(mix(host_key(host) ^ kHostSizeSalt) ^ n);
}

std::vector<Link> host_page_link_targets(const HostId& host, uint64_t n, const SiteOptions& site) {
  const Link self{host, "/page/" + std::to_string(n)};
  std::vector<Link> links;
  for (Anchor& anchor : host_anchors(host, n, site, 0)) {
    if (!anchor.target || *anchor.target == self) continue;
    if (std::find(links.begin(), links.end(), *anchor.target) != links.end()) continue;
    links.push_back(std::move(*anchor.target));
  }
  return links;
}

std::vector<std::string> host_page_links(const HostId& host, uint64_t n, const SiteOptions& site,
                                         uint16_t port) {
  std::vector<std::string> urls;
  for (const Link& link : host_page_link_targets(host, n, site))
    urls.push_back(host_url(link.host, port, link.path));
  return urls;
}

std::vector<std::string> host_page_links(uint64_t site_number, uint64_t n, const SiteOptions& site,
                                         uint16_t port) {
  return host_page_links(HostId{.site = site_number}, n, site, port);
}

std::string host_page_html(const HostId& host, uint64_t n, const SiteOptions& site, uint16_t port) {
  const size_t total = host_page_bytes(host, n);
  const std::string title = host_page_title(host, n);
  std::string html;
  html.reserve(total);
  html += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  if (has_base(n)) {
    // Absolute on half the pages, root-relative on the others: both resolve to /page/x/.
    html += "<base href=\"";
    if (n % 8 == 1) html += "http://" + host_name(host) + port_suffix(port);
    html += "/page/x/\">\n";
  }
  html += "<title>";
  html += title;
  html += "</title>\n</head>\n<body>\n<h1 id=\"top\">";
  html += title;
  html += "</h1>\n<ul>\n";
  for (const Anchor& anchor : host_anchors(host, n, site, port)) {
    html += "<li><a href=\"";
    html += anchor.href;
    html += "\">";
    html += anchor.text;
    html += "</a></li>\n";
  }
  html += "</ul>\n<p>";
  constexpr std::string_view kEnd = "</p>\n</body>\n</html>\n";
  // Holds for hosts <= kMaxHosts and host_pages <= kMaxHostPages: the markup stays under 2 KiB.
  assert(html.size() + kEnd.size() <= total);
  append_paragraphs(html, mix(host_key(host) ^ n ^ kTextSalt), total - html.size() - kEnd.size());
  html += kEnd;
  return html;
}

RobotsKind host_robots_kind(const HostId& host) {
  if (host.sub) return RobotsKind::kRules;
  if (host.site == kHangingRobotsSite) return RobotsKind::kHang;
  if (host.site % 10 == 7) return RobotsKind::kNotFound;
  if (host.site % 10 == 8) return RobotsKind::kUnavailable;
  return RobotsKind::kRules;
}

std::string host_robots_txt(const HostId& host) {
  const std::string_view delay = has_crawl_delay(host) ? "Crawl-delay: 0.2\n" : "";
  std::string text = "User-agent: *\nDisallow: /private/\n";
  text += delay;
  if (has_crawl_group(host)) {
    text += "\nUser-agent: crawl\nDisallow: /private/\nDisallow: /page/1*\n";
    text += delay;
  }
  return text;
}

bool robots_allows(const HostId& host, std::string_view path, std::string_view user_agent) {
  if (path == "/robots.txt") return true;
  switch (host_robots_kind(host)) {
    case RobotsKind::kNotFound:
      return true;
    case RobotsKind::kUnavailable:
    case RobotsKind::kHang:
      return false;
    case RobotsKind::kRules:
      break;
  }
  if (path.starts_with("/private/")) return false;
  return !(has_crawl_group(host) && is_crawl_agent(user_agent) && path.starts_with("/page/1"));
}

std::chrono::milliseconds robots_crawl_delay(const HostId& host, std::string_view /*user_agent*/) {
  // Every group of a host with a delay carries the same one.
  if (host_robots_kind(host) != RobotsKind::kRules || !has_crawl_delay(host))
    return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(200);
}

bool in_scope(const HostId& start, const HostId& other, Scope scope) {
  switch (scope) {
    case Scope::kHost:
      return start == other;
    case Scope::kDomain:
      return start.site == other.site;
    case Scope::kAny:
      return true;
  }
  return false;
}

std::map<std::string, int> host_walk(const HostId& start, uint64_t page, int max_depth, Scope scope,
                                     std::string_view user_agent, const SiteOptions& site, uint16_t port) {
  std::map<std::string, int> fetched;
  std::set<Link> seen;
  std::deque<std::pair<Link, int>> todo;
  auto visit = [&](const Link& link, int depth) {
    if (!in_scope(start, link.host, scope) || !seen.insert(link).second) return;
    if (!user_agent.empty() && !robots_allows(link.host, link.path, user_agent)) return;
    fetched.emplace(host_url(link.host, port, link.path), depth);
    todo.emplace_back(link, depth);
  };
  visit(Link{start, "/page/" + std::to_string(page)}, 0);
  while (!todo.empty()) {
    const auto [link, depth] = todo.front();
    todo.pop_front();
    if (depth >= max_depth || !link.path.starts_with("/page/")) continue;
    const auto n = parse_number(std::string_view(link.path).substr(6));
    if (!n || *n >= site.host_pages) continue;
    for (const Link& next : host_page_link_targets(link.host, *n, site)) visit(next, depth + 1);
  }
  return fetched;
}

void StreamedBody::read(uint64_t offset, char* out, size_t length) const {
  const uint64_t middle_end = size - tail.size();
  while (length > 0) {
    size_t n = 0;
    if (offset < head.size()) {
      n = std::min<uint64_t>(length, head.size() - offset);
      std::copy_n(head.data() + offset, n, out);
    } else if (offset < middle_end) {
      n = std::min<uint64_t>(length, middle_end - offset);
      copy_filler(offset - head.size(), out, n);
    } else {
      n = std::min<uint64_t>(length, size - offset);
      if (n == 0) throw std::out_of_range("StreamedBody::read past the end of the body");
      std::copy_n(tail.data() + (offset - middle_end), n, out);
    }
    out += n;
    offset += n;
    length -= n;
  }
}

Response describe(std::string_view target, const SiteOptions& site, const Origin& origin) {
  const size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  const std::string_view query = question == std::string_view::npos ? "" : target.substr(question);
  std::string_view route = route_name(split_first(path).first);
  // /private/N exists on named hosts only; elsewhere it stays the "other" it always was.
  if (route == "private" && !origin.host) route = kRouteNames[kRouteCount - 1];

  std::chrono::milliseconds delay{0};
  Throttle throttle;
  // Peel /delay/MS, /redirect/0 and throttle prefixes off in a loop: a target may stack any number
  // of delays and redirects, and one throttle.
  for (;;) {
    const Split split = split_first(path);
    const std::optional<Throttle> kind = throttle_kind(split.first);
    if (split.first != "delay" && split.first != "redirect" && !kind) break;
    const Split amount = split_first(split.rest);
    const auto number = parse_number(amount.first);
    if (!number || (split.first == "delay" && *number > kMaxWaitMs) || (kind && throttle.status != 0)) {
      path = {};  // malformed: not found
      break;
    }
    std::string_view after = amount.rest;
    if (kind) {
      throttle = *kind;
      throttle.times = *number;
      if (throttle.retry_after != RetryAfter::kNone) {
        const Split secs = split_first(after);
        const auto seconds = parse_number(secs.first);
        if (!seconds || *seconds > kMaxWaitMs / 1000) {
          path = {};
          break;
        }
        throttle.seconds = *seconds;
        after = secs.rest;
      }
    }
    if (split.first == "redirect" && *number > 0) {
      Response r = redirect_to("/redirect/" + std::to_string(*number - 1) + std::string(amount.rest) +
                               std::string(query));
      r.route = route;
      r.delay = delay;
      if (throttle.times > 0) r.throttle = throttle;
      return r;
    }
    if (split.first == "delay") delay += std::chrono::milliseconds(*number);
    path = after.empty() ? std::string_view("/") : after;
  }

  Response r = serve_path(path, query, site, origin);
  r.route = route;
  r.delay = delay;
  if (throttle.times > 0) r.throttle = throttle;
  return r;
}

Response throttled(const Response& response, std::chrono::system_clock::time_point now) {
  const Throttle& throttle = response.throttle;
  const std::string title = throttle.status == 429 ? "Too Many Requests" : "Service Unavailable";
  Response r = complete(kHtml, small_html(title), title);
  r.status = throttle.status;
  r.route = response.route;
  r.delay = response.delay;
  if (throttle.retry_after == RetryAfter::kSeconds) {
    r.retry_after = std::to_string(throttle.seconds);
  } else if (throttle.retry_after == RetryAfter::kDate) {
    r.retry_after =
        http_date(std::chrono::ceil<std::chrono::seconds>(now) + std::chrono::seconds(throttle.seconds));
  }
  return r;
}

bool not_modified(const Response& response, std::string_view if_none_match,
                  std::string_view if_modified_since) {
  if (response.status != 200 || (response.etag.empty() && response.last_modified.empty())) return false;
  if (!if_none_match.empty()) {
    if (if_none_match == "*") return true;
    // A list of entity tags, compared weakly (W/ prefixes ignored) as RFC 9110 asks for GET.
    auto strip_weak = [](std::string_view tag) { return tag.starts_with("W/") ? tag.substr(2) : tag; };
    const std::string_view own = strip_weak(response.etag);
    size_t at = 0;
    while (at < if_none_match.size()) {
      size_t comma = if_none_match.find(',', at);
      if (comma == std::string_view::npos) comma = if_none_match.size();
      std::string_view tag = if_none_match.substr(at, comma - at);
      while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
      while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
      if (!own.empty() && strip_weak(tag) == own) return true;
      at = comma + 1;
    }
    return false;
  }
  if (if_modified_since.empty() || response.last_modified.empty()) return false;
  const auto since = imf_fixdate_seconds(if_modified_since);
  const auto modified = imf_fixdate_seconds(response.last_modified);
  return since && modified && *modified <= *since;
}

Response as_not_modified(const Response& response) {
  Response r;
  r.route = response.route;
  r.status = 304;
  r.etag = response.etag;
  r.last_modified = response.last_modified;
  r.delay = response.delay;
  return r;
}

std::string http_date(std::chrono::system_clock::time_point time) {
  static constexpr std::string_view kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(time));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[40];
  std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday].data(),
                tm.tm_mday, kMonths[tm.tm_mon].data(), tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return text;
}

std::string received_body(const Response& response) {
  switch (response.kind) {
    case Behaviour::kComplete:
    case Behaviour::kBadChunked:
      return response.body;
    case Behaviour::kStream:
    case Behaviour::kStreamChunked:
    case Behaviour::kTrickle:
    case Behaviour::kResetMidBody: {
      const uint64_t size =
          response.kind == Behaviour::kResetMidBody ? response.stream.size / 2 : response.stream.size;
      std::string body(size, '\0');
      response.stream.read(0, body.data(), body.size());
      return body;
    }
    case Behaviour::kHang:
    case Behaviour::kReset:
    case Behaviour::kStats:
    case Behaviour::kHosts:
    case Behaviour::kResetStats:
    case Behaviour::kSetRevision:
      break;
  }
  return {};
}

Latency parse_latency(std::string_view spec) {
  Latency latency;
  const size_t dash = spec.find('-');
  try {
    if (dash == std::string_view::npos) {
      latency.min = latency.max = parse_duration(spec, "--latency");
    } else {
      latency.min = parse_duration(spec.substr(0, dash), "--latency");
      latency.max = parse_duration(spec.substr(dash + 1), "--latency");
    }
  } catch (const UsageError&) {
    throw UsageError("--latency: '" + std::string(spec) +
                     "' is not a latency (write 0, 100ms, 2s or a range such as 50ms-150ms)");
  }
  if (latency.min > latency.max)
    throw UsageError("--latency: the range '" + std::string(spec) +
                     "' must go from low to high, e.g. 50ms-150ms");
  return latency;
}

std::chrono::milliseconds latency_for(std::string_view target, const Latency& latency) {
  if (latency.max <= latency.min) return latency.min;
  const auto span = static_cast<uint64_t>((latency.max - latency.min).count()) + 1;
  const std::string_view path = target.substr(0, target.find('?'));
  return latency.min + std::chrono::milliseconds(hash_text(path) % span);
}

// ---- Link resolution: /hrefs ----

namespace {

std::string attribute_text(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '&')
      out += "&amp;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

std::string href_page(std::string_view title, std::string_view base, const std::vector<std::string>& hrefs) {
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  if (!base.empty()) html += "<base href=\"" + attribute_text(base) + "\">\n";
  html += "<title>" + std::string(title) + "</title>\n</head>\n<body>\n<ul>\n";
  for (const auto& href : hrefs) html += "<li><a href=\"" + attribute_text(href) + "\">link</a></li>\n";
  html += "</ul>\n</body>\n</html>\n";
  return html;
}

}  // namespace

std::vector<HrefCase> href_cases(uint16_t port) {
  const std::string a = "http://a.localhost" + port_suffix(port);
  const std::string g = "g.localhost" + port_suffix(port);
  return {
      // RFC 3986 5.4.1, against http://a/b/c/d;p?q; the fragment dropped as the crawl drops it.
      {"g:h", ""},
      {"g", a + "/b/c/g"},
      {"./g", a + "/b/c/g"},
      {"g/", a + "/b/c/g/"},
      {"/g", a + "/g"},
      {"//" + g, "http://" + g + "/"},
      {"?y", a + "/b/c/d;p?y"},
      {"g?y", a + "/b/c/g?y"},
      {"#s", a + "/b/c/d;p?q"},
      {"g#s", a + "/b/c/g"},
      {"g?y#s", a + "/b/c/g?y"},
      {";x", a + "/b/c/;x"},
      {"g;x", a + "/b/c/g;x"},
      {"g;x?y#s", a + "/b/c/g;x?y"},
      {"", a + "/b/c/d;p?q"},
      {".", a + "/b/c/"},
      {"./", a + "/b/c/"},
      {"..", a + "/b/"},
      {"../", a + "/b/"},
      {"../g", a + "/b/g"},
      {"../..", a + "/"},
      {"../../", a + "/"},
      {"../../g", a + "/g"},
      // RFC 3986 5.4.2; "http:g" as browsers take it.
      {"../../../g", a + "/g"},
      {"../../../../g", a + "/g"},
      {"/./g", a + "/g"},
      {"/../g", a + "/g"},
      {"g.", a + "/b/c/g."},
      {".g", a + "/b/c/.g"},
      {"g..", a + "/b/c/g.."},
      {"..g", a + "/b/c/..g"},
      {"./../g", a + "/b/g"},
      {"./g/.", a + "/b/c/g/"},
      {"g/./h", a + "/b/c/g/h"},
      {"g/../h", a + "/b/c/h"},
      {"g;x=1/./y", a + "/b/c/g;x=1/y"},
      {"g;x=1/../y", a + "/b/c/y"},
      {"g?y/./x", a + "/b/c/g?y/./x"},
      {"g?y/../x", a + "/b/c/g?y/../x"},
      {"g#s/./x", a + "/b/c/g"},
      {"g#s/../x", a + "/b/c/g"},
      {"http:g", a + "/b/c/g"},
      // The WHATWG URL standard's rules for http(s).
      {"  g  ", a + "/b/c/g"},
      {"\tg\n", a + "/b/c/g"},
      {"g\th", a + "/b/c/gh"},
      {"../\ng?y\n#s", a + "/b/g?y"},
      {"HTTP:g", a + "/b/c/g"},
      {"http:/g", a + "/g"},
      {"\\g", a + "/g"},
      {"////" + g + "/x", "http://" + g + "/x"},
      {"1a:x", a + "/b/c/1a:x"},
      {"%2e%2E/g", a + "/b/g"},
      {"mailto:x@a.localhost", ""},
      {" javascript:void(0)", ""},
  };
}

std::string href_case_html(uint64_t k, uint16_t port) {
  return href_page("Hrefs " + std::to_string(k), "http://a.localhost" + port_suffix(port) + "/b/c/d;p?q",
                   {href_cases(port).at(k).href});
}

std::string href_index_html() {
  return href_page("Hrefs", "", {"", " #top ", "\tindex.html\n", "http:index.html"});
}

// ---- Pages in other character encodings ----

namespace {

using namespace std::string_view_literals;

// Written out byte by byte, so the testbed does not depend on the converter the crawler uses.
constexpr CharsetSample kCharsetSamples[] = {
    {"iso-8859-1", "caf\u00e9 cr\u00e8me", "caf\xE9 cr\xE8me"sv, "windows-1252", true},
    {"windows-1252", "\u201ccaf\u00e9\u201d \u20ac5",
     "\x93"
     "caf\xE9\x94 \x80"
     "5"sv,
     "windows-1252", true},
    {"shift_jis", "\u65e5\u672c\u8a9e\u306e\u30da\u30fc\u30b8",
     "\x93\xFA\x96{\x8C\xEA\x82\xCC\x83y\x81[\x83W"sv, "shift_jis", true},
    {"gb2312", "\u4e2d\u6587\u7f51\u9875", "\xD6\xD0\xCE\xC4\xCD\xF8\xD2\xB3"sv, "gbk", true},
    {"euc-kr", "\ud55c\uad6d\uc5b4 \ud398\uc774\uc9c0", "\xC7\xD1\xB1\xB9\xBE\xEE \xC6\xE4\xC0\xCC\xC1\xF6"sv,
     "euc-kr", true},
    {"big5", "\u7e41\u9ad4\u4e2d\u6587",
     "\xC1"
     "c\xC5\xE9\xA4\xA4\xA4\xE5"sv,
     "big5", true},
    {"koi8-r", "\u041f\u0440\u0438\u0432\u0435\u0442", "\xF0\xD2\xC9\xD7\xC5\xD4"sv, "koi8-r", true},
    {"utf-16le", "\u00dcn\u00efcode",
     "\xDC\0n\0\xEF\0"
     "c\0o\0d\0"
     "e\0"sv,
     "utf-16le", false},
    {"utf-16be", "\u00dcn\u00efcode",
     "\0\xDC\0n\0\xEF\0"
     "c\0o\0d\0"
     "e"sv,
     "utf-16be", false},
    // ISO-2022-KR ("\ud55c"): the Encoding Standard decodes it to nothing but U+FFFD.
    {"iso-2022-kr", "", "\x1B$)C\x0EGQ\x0F"sv, "replacement", true},
};

}  // namespace

std::span<const CharsetSample> charset_samples() {
  return kCharsetSamples;
}

const CharsetSample* charset_sample(std::string_view label) {
  for (const auto& sample : kCharsetSamples)
    if (sample.label == label) return &sample;
  return nullptr;
}

std::string charset_page_html(const CharsetSample& sample, bool with_meta) {
  std::string head = "<!DOCTYPE html>\n<html>\n<head>\n";
  if (with_meta) head += "<meta charset=\"" + std::string(sample.label) + "\">\n";
  head += "<title>";
  const std::string_view middle = "</title>\n</head>\n<body>\n<h1>";
  const std::string_view tail = "</h1>\n</body>\n</html>\n";
  const bool le = sample.encoding == "utf-16le", be = sample.encoding == "utf-16be";
  // The markup is ASCII: in UTF-16 each character takes a zero byte after (LE) or before (BE) it.
  auto markup = [&](std::string& out, std::string_view ascii) {
    for (char c : ascii) {
      if (be) out.push_back('\0');
      out.push_back(c);
      if (le) out.push_back('\0');
    }
  };
  std::string html = le ? "\xFF\xFE" : be ? "\xFE\xFF" : "";
  markup(html, head);
  html += sample.encoded;
  markup(html, middle);
  html += sample.encoded;
  markup(html, tail);
  return html;
}

}  // namespace crawl::testbed
