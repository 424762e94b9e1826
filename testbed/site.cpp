#include "testbed/site.hpp"

#include <algorithm>
#include <cassert>
#include <iterator>
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

// What `path` (no query, no /delay or /redirect/0 prefix left) serves.
Response serve_path(std::string_view path, std::string_view query, const SiteOptions& site) {
  const Split split = split_first(path);
  const std::string_view name = split.first;
  const std::string_view rest = split.rest;
  auto page_number = [&]() -> std::optional<uint64_t> {
    auto n = one_number(rest);
    if (n && *n < site.pages) return n;
    return std::nullopt;
  };

  if (name == "page") {
    if (auto n = page_number()) return complete(kHtml, page_html(*n, site), page_title(*n));
  } else if (name == "status") {
    auto code = one_number(rest);
    if (code && *code >= 200 && *code <= 599) {
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
  } else if (name == "__stats" || name == "__reset-stats") {
    if (rest.empty()) {
      Response r;
      r.kind = name == "__stats" ? Behaviour::kStats : Behaviour::kResetStats;
      r.content_type = kJson;
      return r;
    }
  }
  return not_found();
}

}  // namespace

std::string page_title(uint64_t n) {
  return "Page " + std::to_string(n);
}

size_t page_body_bytes(uint64_t n) {
  // Squaring a uniform draw skews sizes towards small pages, as on real sites.
  const uint64_t draw = mix(n ^ kSizeSalt) >> 48;  // 16 bits
  return kMinPageBytes + static_cast<size_t>((draw * draw * (kMaxPageBytes - kMinPageBytes)) >> 32);
}

std::vector<uint64_t> page_links(uint64_t n, const SiteOptions& site) {
  std::vector<uint64_t> links;
  if (site.pages < 2) return links;
  const uint64_t wanted = std::min<uint64_t>(5 + mix(n ^ kLinkCountSalt) % 11, site.pages - 1);
  links.push_back((n + 1) % site.pages);
  for (uint64_t i = 1; links.size() < wanted; ++i) {
    uint64_t m = mix(mix(n ^ kLinkSalt) + i) % site.pages;
    // Probing onwards terminates: fewer than pages-1 pages are taken.
    while (m == n || std::find(links.begin(), links.end(), m) != links.end()) m = (m + 1) % site.pages;
    links.push_back(m);
  }
  return links;
}

std::string page_html(uint64_t n, const SiteOptions& site) {
  const size_t total = page_body_bytes(n);
  const std::string title = page_title(n);
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
  append_paragraphs(html, mix(n ^ kTextSalt), total - html.size() - kEnd.size());
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

Response describe(std::string_view target, const SiteOptions& site) {
  const size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  const std::string_view query = question == std::string_view::npos ? "" : target.substr(question);
  const std::string_view route = route_name(split_first(path).first);

  std::chrono::milliseconds delay{0};
  // Peel /delay/MS and /redirect/0 prefixes off in a loop: a target may stack any number of them.
  for (;;) {
    const Split split = split_first(path);
    if (split.first != "delay" && split.first != "redirect") break;
    const Split amount = split_first(split.rest);
    const auto number = parse_number(amount.first);
    if (!number || (split.first == "delay" && *number > kMaxWaitMs)) {
      path = {};  // malformed: not found
      break;
    }
    if (split.first == "redirect" && *number > 0) {
      Response r = redirect_to("/redirect/" + std::to_string(*number - 1) + std::string(amount.rest) +
                               std::string(query));
      r.route = route;
      r.delay = delay;
      return r;
    }
    if (split.first == "delay") delay += std::chrono::milliseconds(*number);
    path = amount.rest.empty() ? std::string_view("/") : amount.rest;
  }

  Response r = serve_path(path, query, site);
  r.route = route;
  r.delay = delay;
  return r;
}

std::string received_body(const Response& response) {
  switch (response.kind) {
    case Behaviour::kComplete:
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
    case Behaviour::kResetStats:
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

}  // namespace crawl::testbed
