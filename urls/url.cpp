#include "urls/url.hpp"

#include <curl/curl.h>

#include <locale.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "common/text.hpp"
#include "common/utf8.hpp"

namespace crawl::urls {
namespace {

constexpr size_t kMaxUrlBytes = 8192;

struct UrlDeleter {
  void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
using UrlHandle = std::unique_ptr<CURLU, UrlDeleter>;

struct CurlStringDeleter {
  void operator()(char* s) const noexcept { curl_free(s); }
};
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

CurlString get_part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* out = nullptr;
  if (curl_url_get(u, part, &out, flags) != CURLUE_OK) return nullptr;
  return CurlString(out);
}

bool is_scheme_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
}

// The scheme `s` starts with by RFC 3986's grammar (ALPHA *(ALPHA / DIGIT / "+" / "-" / ".") ":"),
// lower-cased; empty when it starts with none.
std::string scheme_of(std::string_view s) {
  const auto colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || !std::isalpha(static_cast<unsigned char>(s[0])))
    return "";
  for (size_t i = 1; i < colon; ++i)
    if (!is_scheme_char(s[i])) return "";
  std::string scheme(s.substr(0, colon));
  for (char& c : scheme) c = ascii_lower(c);
  return scheme;
}

bool has_scheme(std::string_view s) {
  if (scheme_of(s).empty()) return false;
  // "localhost:8080/x" has a "scheme" by the grammar; a port-looking suffix means it has none.
  auto rest = s.substr(s.find(':') + 1);
  return !(rest.size() > 0 && std::isdigit(static_cast<unsigned char>(rest[0])));
}

bool is_http(std::string_view scheme) {
  return scheme == "http" || scheme == "https";
}

// A list line without a scheme is fetched as http:// (as curl guesses) only when its host looks
// like one: localhost or *.localhost, an IP literal, or a dotted name ending in a top-level label of
// two or more letters (or an IDN one, xn--...). A bare word ("le", "todo") or number would otherwise
// become a DNS query, which the resolver may even extend with the search domains.
// `written` is the host as the line spells it, `host` as libcurl read it (lower case, punycode).
bool looks_like_a_host(std::string_view written, std::string_view host) {
  if (host == "localhost" || host.ends_with(".localhost")) return true;
  if (host.starts_with('[')) return true;                         // IPv6
  if (written.find('.') == std::string_view::npos) return false;  // libcurl reads "1234" as 0.0.4.210
  // libcurl writes an IPv4 address as four dotted numbers; "1.2.3.4.5" would be a name to look up.
  if (host.find_first_not_of("0123456789.") == std::string_view::npos)
    return std::count(host.begin(), host.end(), '.') == 3;
  if (host.ends_with('.')) host.remove_suffix(1);
  const auto dot = host.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  const std::string_view tld = host.substr(dot + 1);
  if (tld.starts_with("xn--")) return true;
  return tld.size() >= 2 && std::all_of(tld.begin(), tld.end(),
                                        [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
}

// The host of `u` in its ASCII (punycode) form, or nullopt when it is not a valid IDN. libcurl 7.88
// converts with libidn2's idn2_lookup_ul, which reads the name in the character set of the current
// locale: in the C locale a crawl usually runs in, every non-ASCII host would fail. So the conversion
// runs under a UTF-8 LC_CTYPE for this thread only (uselocale), which leaves the rest of the process
// alone.
std::optional<std::string> ascii_host(CURLU* u, std::string_view written) {
  // libcurl 7.88 leaks its copy of the host when the conversion fails; bytes that are not UTF-8,
  // the usual reason, are refused here before it is asked.
  if (!is_valid_utf8(written)) return std::nullopt;
  static const locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t{});
  if (utf8 == locale_t{}) return std::nullopt;
  const locale_t previous = uselocale(utf8);
  auto host = get_part(u, CURLUPART_HOST, CURLU_PUNYCODE);
  uselocale(previous);
  if (!host) return std::nullopt;
  return std::string(host.get());
}

// Builds the normal form from a parsed handle; `error` set on failure. `guessed_from` is the line
// when it had no scheme and http:// was put in front: its host must then look like one.
NormalisedUrl finish(CURLU* u, std::optional<std::string_view> guessed_from = std::nullopt) {
  auto scheme = get_part(u, CURLUPART_SCHEME);
  if (!scheme) return {"", "no scheme"};
  std::string s = scheme.get();
  for (char& c : s) c = ascii_lower(c);
  if (!is_http(s)) return {"", "unsupported scheme '" + s + "': only http and https"};
  auto host = get_part(u, CURLUPART_HOST);
  if (!host || !*host.get()) return {"", "no host"};
  std::string h = host.get();
  if (std::any_of(h.begin(), h.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
    auto ascii = ascii_host(u, h);
    if (!ascii) return {"", "host '" + h + "' is not a valid internationalised domain name"};
    h = std::move(*ascii);
  }
  for (char& c : h) c = ascii_lower(c);
  if (guessed_from && !looks_like_a_host(host_of("http://" + std::string(*guessed_from)), h))
    return {"", "no scheme, and '" + std::string(*guessed_from) +
                    "' names no dotted host, IP address or localhost (write http:// to fetch it anyway)"};
  curl_url_set(u, CURLUPART_HOST, h.c_str(), 0);
  curl_url_set(u, CURLUPART_FRAGMENT, nullptr, 0);
  auto full = get_part(u, CURLUPART_URL, CURLU_NO_DEFAULT_PORT);
  if (!full) return {"", "cannot be assembled"};
  std::string out = full.get();
  if (out.size() > kMaxUrlBytes) return {"", "longer than 8 KiB"};
  return {std::move(out), ""};
}

std::string describe(CURLUcode rc) {
  switch (rc) {
    case CURLUE_BAD_HOSTNAME:
      return "bad host name";
    case CURLUE_BAD_PORT_NUMBER:
      return "bad port number";
    case CURLUE_MALFORMED_INPUT:
      return "malformed URL";
    case CURLUE_NO_HOST:
      return "no host";
    case CURLUE_BAD_SCHEME:
      return "bad scheme";
    default:
      return curl_url_strerror(rc);
  }
}

// ---- Resolving references (RFC 3986 5.2, with the WHATWG URL standard's rules for http(s)) ----

// A URL reference split by RFC 3986 Appendix B, the fragment left out. Views into the text.
struct Components {
  std::string scheme;  // lower-cased; empty when the reference has none
  std::optional<std::string_view> authority;
  std::string_view path;
  std::optional<std::string_view> query;
};

Components split(std::string_view s) {
  Components c;
  c.scheme = scheme_of(s);
  if (!c.scheme.empty()) s.remove_prefix(c.scheme.size() + 1);
  s = s.substr(0, s.find('#'));
  if (const auto q = s.find('?'); q != std::string_view::npos) {
    c.query = s.substr(q + 1);
    s = s.substr(0, q);
  }
  if (s.starts_with("//")) {
    // WHATWG: in an http(s) URL any number of slashes (RFC 3986: exactly two) leads the authority.
    const auto host = s.find_first_not_of('/');
    s.remove_prefix(host == std::string_view::npos ? s.size() : host);
    const auto end = s.find('/');
    c.authority = s.substr(0, end);
    s = end == std::string_view::npos ? std::string_view() : s.substr(end);
  }
  c.path = s;
  return c;
}

// WHATWG also spells a dot segment with percent-encoded dots.
bool is_dot(std::string_view segment) {
  return segment == "." || iequals(segment, "%2e");
}
bool is_dot_dot(std::string_view segment) {
  return segment == ".." || iequals(segment, ".%2e") || iequals(segment, "%2e.") ||
         iequals(segment, "%2e%2e");
}

// RFC 3986 5.2.4 on an absolute path ("/b/c/./../g" -> "/b/g"), segment by segment: a path that
// ends in a dot segment keeps its trailing slash ("/b/c/.." -> "/b/").
std::string remove_dot_segments(std::string_view path) {
  std::vector<std::string_view> kept;
  bool ends_in_slash = false;
  if (path.starts_with('/')) path.remove_prefix(1);
  for (;;) {
    const auto slash = path.find('/');
    const std::string_view segment = path.substr(0, slash);
    const bool last = slash == std::string_view::npos;
    if (is_dot_dot(segment)) {
      if (!kept.empty()) kept.pop_back();
      ends_in_slash = last;
    } else if (is_dot(segment)) {
      ends_in_slash = last;
    } else {
      kept.push_back(segment);
    }
    if (last) break;
    path.remove_prefix(slash + 1);
  }
  std::string out = "/";
  for (size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) out += '/';
    out += kept[i];
  }
  if (ends_in_slash && !kept.empty()) out += '/';
  return out;
}

// What a browser does to an href before parsing it (WHATWG URL parser): C0 controls and spaces at
// either end go, tabs and newlines anywhere go, and in an http(s) URL a backslash before the query
// is a slash.
std::string clean_reference(std::string_view reference) {
  while (!reference.empty() && static_cast<unsigned char>(reference.front()) <= 0x20)
    reference.remove_prefix(1);
  while (!reference.empty() && static_cast<unsigned char>(reference.back()) <= 0x20)
    reference.remove_suffix(1);
  std::string out;
  out.reserve(reference.size());
  for (char c : reference)
    if (c != '\t' && c != '\n' && c != '\r') out += c;
  const std::string scheme = scheme_of(out);
  if (scheme.empty() || is_http(scheme)) {
    const auto end = std::min(out.find('?'), out.find('#'));
    std::replace(out.begin(), end == std::string::npos ? out.end() : out.begin() + end, '\\', '/');
  }
  return out;
}

}  // namespace

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_lower_alpha(char c) {
  return c >= 'a' && c <= 'z';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// A decimal number without leading zeros, at most `max`.
bool is_plain_number(std::string_view s, unsigned max) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return false;
  unsigned value = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= max;
}

// A host libcurl keeps as it is: lower-case labels of letters, digits and hyphens, each starting
// with a letter (libcurl reads a host whose labels are numbers, 0x... included, as an IPv4 address
// and rewrites it), or an IPv4 address in its usual four decimal parts. No trailing dot.
bool is_plain_host(std::string_view host) {
  if (host.empty()) return false;
  bool all_numeric = true;
  int labels = 0;
  for (size_t start = 0; start <= host.size();) {
    const size_t dot = std::min(host.find('.', start), host.size());
    const std::string_view label = host.substr(start, dot - start);
    if (label.empty()) return false;
    ++labels;
    if (is_plain_number(label, 255)) {
      // numeric label: fine only in a dotted quad, checked below
    } else {
      if (!is_lower_alpha(label[0])) return false;
      for (char c : label)
        if (!is_lower_alpha(c) && !is_digit(c) && c != '-') return false;
      all_numeric = false;
    }
    start = dot + 1;
  }
  return all_numeric ? labels == 4 : true;
}

// Characters of a path or query that libcurl neither encodes nor decodes: RFC 3986's unreserved
// characters, sub-delimiters, ':', '@', '/' and '?' ('%' is checked apart).
bool is_plain_path_char(char c) {
  if (is_lower_alpha(c) || is_digit(c) || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case ':':
    case '@':
    case '/':
    case '?':
      return true;
    default:
      return false;
  }
}

}  // namespace

bool detail::in_normal_form(std::string_view url) {
  if (url.size() > kMaxUrlBytes) return false;
  std::string_view rest;
  std::string_view default_port;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
    default_port = "80";
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
    default_port = "443";
  } else {
    return false;
  }
  // The authority ends at the path, which must be there ("http://a" becomes "http://a/").
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return false;
  std::string_view host = rest.substr(0, slash);
  if (const size_t colon = host.find(':'); colon != std::string_view::npos) {
    const std::string_view port = host.substr(colon + 1);
    if (!is_plain_number(port, 65535) || port == "0" || port == default_port) return false;
    host = host.substr(0, colon);
  }
  if (!is_plain_host(host)) return false;
  const std::string_view path_and_query = rest.substr(slash);
  const size_t query = std::min(path_and_query.find('?'), path_and_query.size());
  if (query + 1 == path_and_query.size()) return false;  // an empty query, which libcurl drops
  for (size_t i = 0; i < path_and_query.size(); ++i) {
    const char c = path_and_query[i];
    if (c == '%') {
      if (i + 2 >= path_and_query.size() || !is_hex(path_and_query[i + 1]) || !is_hex(path_and_query[i + 2]))
        return false;
      i += 2;
    } else if (!is_plain_path_char(c)) {
      return false;  // a fragment, a space, a byte past ASCII, ... : libcurl changes them
    }
  }
  // Dot segments, which libcurl removes.
  const std::string_view path = path_and_query.substr(0, query);
  for (size_t start = 1; start <= path.size();) {
    const size_t end = std::min(path.find('/', start), path.size());
    const std::string_view segment = path.substr(start, end - start);
    if (segment == "." || segment == "..") return false;
    start = end + 1;
  }
  return true;
}

NormalisedUrl detail::normalise_with_curl(std::string_view input) {
  if (input.empty()) return {"", "empty URL"};
  if (input.size() > kMaxUrlBytes) return {"", "longer than 8 KiB"};
  for (unsigned char c : input) {
    // Every other byte of a UTF-16 list is NUL: the rows of such a list should say what it is.
    if (c == 0) return {"", "NUL byte in URL (a UTF-16 list? convert it: iconv -f UTF-16 -t UTF-8)"};
    if (c < 0x20 || c == 0x7f) return {"", "control character in URL"};
  }
  UrlHandle u(curl_url());
  if (!u) return {"", "out of memory"};
  std::string text(input);
  const bool guessed = !has_scheme(text);
  // "javascript:", "mailto:x", "data:,": libcurl, asked to parse them as URLs with an authority,
  // would say only "Unsupported number of slashes following scheme".
  if (!guessed) {
    const std::string scheme = scheme_of(text);
    if (!is_http(scheme) && !text.substr(scheme.size() + 1).starts_with("//"))
      return {"", "unsupported scheme '" + scheme + "': only http and https"};
  }
  if (guessed) text = "http://" + text;
  // NON_SUPPORT_SCHEME lets us name the scheme we refuse instead of a generic parse error.
  CURLUcode rc =
      curl_url_set(u.get(), CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME | CURLU_URLENCODE);
  if (rc != CURLUE_OK) return {"", describe(rc)};
  return finish(u.get(), guessed ? std::optional<std::string_view>(input) : std::nullopt);
}

NormalisedUrl normalise(std::string_view input) {
  // Most URLs a crawl meets (the links of a site, resolved) are in normal form already: libcurl's
  // parse and reassembly, five calls and a dozen allocations, is then skipped.
  if (detail::in_normal_form(input)) return {std::string(input), ""};
  return detail::normalise_with_curl(input);
}

// Transforms the reference itself (RFC 3986 5.2.2) and leaves only the parsing and normalising of
// the absolute result to libcurl, whose own relative resolution (7.88) gets "", "#s", "?y", "http:g"
// and "1a:x" wrong.
NormalisedUrl resolve(std::string_view base, std::string_view reference) {
  if (reference.size() > kMaxUrlBytes) return {"", "longer than 8 KiB"};
  const Components b = split(base);
  if (b.scheme.empty() || !b.authority) return {"", "bad base URL"};
  std::string ref = clean_reference(reference);
  std::string target_scheme = b.scheme;
  if (const std::string scheme = scheme_of(ref); !scheme.empty()) {
    if (!is_http(scheme)) return {"", "unsupported scheme '" + scheme + "': only http and https"};
    ref.erase(0, scheme.size() + 1);
    // WHATWG: "http:g" on an http page is the relative "g"; on an https page (or "https:g" on an
    // http one) it is absolute, with or without slashes before its host.
    if (scheme != b.scheme && !ref.starts_with("//")) ref.insert(0, "//");
    target_scheme = scheme;
  }
  const Components r = split(ref);
  std::string target = target_scheme + "://";
  if (r.authority) {
    target.append(*r.authority).append(remove_dot_segments(r.path));
    if (r.query) target.append("?").append(*r.query);
  } else {
    target.append(*b.authority);
    if (r.path.empty()) {
      target.append(b.path.empty() ? "/" : b.path);
      if (r.query)
        target.append("?").append(*r.query);
      else if (b.query)
        target.append("?").append(*b.query);
    } else {
      if (r.path.starts_with('/')) {
        target.append(remove_dot_segments(r.path));
      } else {
        // RFC 3986 5.2.3: the base's path up to its last slash, then the reference's.
        const auto slash = b.path.rfind('/');
        const std::string merged = slash == std::string_view::npos
                                       ? "/" + std::string(r.path)
                                       : std::string(b.path.substr(0, slash + 1)) + std::string(r.path);
        target.append(remove_dot_segments(merged));
      }
      if (r.query) target.append("?").append(*r.query);
    }
  }
  return normalise(target);
}

std::string host_of(std::string_view normalised_url) {
  auto start = normalised_url.find("://");
  if (start == std::string_view::npos) return "";
  start += 3;
  auto end = normalised_url.find_first_of(":/?#", start);
  auto at = normalised_url.find('@', start);
  if (at != std::string_view::npos && (end == std::string_view::npos || at < end)) {
    start = at + 1;
    end = normalised_url.find_first_of(":/?#", start);
  }
  if (start < normalised_url.size() && normalised_url[start] == '[') {  // IPv6 literal
    auto close = normalised_url.find(']', start);
    return std::string(
        normalised_url.substr(start, close == std::string_view::npos ? close : close - start + 1));
  }
  return std::string(normalised_url.substr(start, end == std::string_view::npos ? end : end - start));
}

SeenSet::SeenSet() : slots_(1024, 0) {}

uint64_t SeenSet::hash(std::string_view url) {
  uint64_t h = std::hash<std::string_view>{}(url);
  return h == 0 ? 1 : h;  // 0 marks empty slots
}

bool SeenSet::insert(std::string_view url) {
  // Grow at 70% so probes stay short; the doubling is what bounds bytes per URL.
  if ((size_ + 1) * 10 > slots_.size() * 7) grow();
  uint64_t h = hash(url);
  size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    if (slots_[i] == h) return false;
    if (slots_[i] == 0) {
      slots_[i] = h;
      ++size_;
      return true;
    }
  }
}

bool SeenSet::contains(std::string_view url) const {
  uint64_t h = hash(url);
  size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    if (slots_[i] == h) return true;
    if (slots_[i] == 0) return false;
  }
}

void SeenSet::grow() {
  std::vector<uint64_t> old(slots_.size() * 2, 0);
  old.swap(slots_);
  size_t mask = slots_.size() - 1;
  for (uint64_t h : old) {
    if (h == 0) continue;
    size_t i = h & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = h;
  }
}

std::string without_password(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const size_t authority = scheme_end + 3;
  const std::string_view rest = url.substr(authority);
  const std::string_view userinfo_and_host = rest.substr(0, rest.find_first_of("/?#"));
  const size_t at = userinfo_and_host.rfind('@');
  const size_t colon = userinfo_and_host.find(':');
  if (at == std::string_view::npos || colon == std::string_view::npos || colon > at) return std::string(url);
  std::string shown(url);
  shown.replace(authority + colon + 1, at - colon - 1, "***");
  return shown;
}

std::string_view origin_of(std::string_view normalised_url) {
  const auto start = normalised_url.find("://");
  if (start == std::string_view::npos) return normalised_url;
  return normalised_url.substr(0, normalised_url.find('/', start + 3));
}

}  // namespace crawl::urls
