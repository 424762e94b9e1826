#include "urls/url.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <functional>
#include <memory>

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

bool has_scheme(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  if (!std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (size_t i = 1; i < colon; ++i) {
    char c = s[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return false;
  }
  // "localhost:8080/x" has a "scheme" by the grammar; a port-looking suffix means it has none.
  auto rest = s.substr(colon + 1);
  return !(rest.size() > 0 && std::isdigit(static_cast<unsigned char>(rest[0])));
}

// Builds the normal form from a parsed handle; `error` set on failure.
NormalisedUrl finish(CURLU* u) {
  auto scheme = get_part(u, CURLUPART_SCHEME);
  if (!scheme) return {"", "no scheme"};
  std::string s = scheme.get();
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s != "http" && s != "https") return {"", "unsupported scheme '" + s + "': only http and https"};
  auto host = get_part(u, CURLUPART_HOST);
  if (!host || !*host.get()) return {"", "no host"};
  std::string h = host.get();
  std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return std::tolower(c); });
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

}  // namespace

NormalisedUrl normalise(std::string_view input) {
  if (input.empty()) return {"", "empty URL"};
  if (input.size() > kMaxUrlBytes) return {"", "longer than 8 KiB"};
  for (unsigned char c : input)
    if (c < 0x20 || c == 0x7f) return {"", "control character in URL"};
  UrlHandle u(curl_url());
  if (!u) return {"", "out of memory"};
  std::string text(input);
  if (!has_scheme(text)) text = "http://" + text;
  // NON_SUPPORT_SCHEME lets us name the scheme we refuse instead of a generic parse error.
  CURLUcode rc =
      curl_url_set(u.get(), CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME | CURLU_URLENCODE);
  if (rc != CURLUE_OK) return {"", describe(rc)};
  return finish(u.get());
}

NormalisedUrl resolve(std::string_view base, std::string_view reference) {
  if (reference.size() > kMaxUrlBytes) return {"", "longer than 8 KiB"};
  // libcurl 7.88 resolves "#frag" and "?query" like relative paths, dropping the base's last
  // segment ("#top" on /page/0 gives /page/#top); RFC 3986 5.2.2 keeps the base's path for both.
  if (!reference.empty() && (reference.front() == '#' || reference.front() == '?')) {
    std::string joined(base.substr(0, base.find('#')));
    if (reference.front() == '?') joined = joined.substr(0, joined.find('?')) + std::string(reference);
    return normalise(joined);
  }
  UrlHandle u(curl_url());
  if (!u) return {"", "out of memory"};
  std::string b(base), r(reference);
  if (curl_url_set(u.get(), CURLUPART_URL, b.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
    return {"", "bad base URL"};
  CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, r.c_str(), CURLU_NON_SUPPORT_SCHEME | CURLU_URLENCODE);
  if (rc != CURLUE_OK) return {"", describe(rc)};
  return finish(u.get());
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

std::string_view origin_of(std::string_view normalised_url) {
  const auto start = normalised_url.find("://");
  if (start == std::string_view::npos) return normalised_url;
  return normalised_url.substr(0, normalised_url.find('/', start + 3));
}

}  // namespace crawl::urls
