// The testbed server (`crawl testbed`) as a child process for tests, and a small libcurl client to
// talk to it on loopback.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/process.hpp"

namespace crawl::test {

struct HttpOptions {
  std::chrono::milliseconds timeout{10'000};
  bool decode_gzip = false;  // send Accept-Encoding: gzip and let libcurl decode the body
  bool follow_redirects = false;
  long max_redirects = 10;
};

struct HttpResult {
  int curl_code = 0;  // a CURLcode; 0 is success
  std::string error;  // libcurl's message when curl_code != 0
  long status = 0;
  std::string headers;       // the raw header block(s), status lines included
  std::string body;          // as received, or decoded when decode_gzip was asked
  long new_connections = 0;  // 0 when the transfer reused a kept-alive connection
  long redirects = 0;
  std::string effective_url;

  bool ok() const { return curl_code == 0; }
  // The last value of header `name` (case-insensitive), or "" when absent.
  std::string header(std::string_view name) const;
};

// A libcurl easy handle kept between requests, so that it keeps its connection alive.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResult get(const std::string& url, const HttpOptions& options = {});

 private:
  struct Handle;
  std::unique_ptr<Handle> handle_;
};

// One GET on a fresh connection.
HttpResult http_get(const std::string& url, const HttpOptions& options = {});

// `crawl testbed --port 0 [extra args]` running as a child process; stopped with SIGTERM when the
// object goes away.
class Testbed {
 public:
  // Starts the server and waits for its "listening on" line; throws std::runtime_error if it does
  // not come within 10 s.
  static Testbed start(std::vector<std::string> extra_args = {});
  // The same, also serving HTTPS with this certificate chain and key (--tls-cert, --tls-key).
  static Testbed start_https(const std::string& cert_file, const std::string& key_file,
                             std::vector<std::string> extra_args = {});
  Testbed(Testbed&&) noexcept = default;
  Testbed& operator=(Testbed&&) = delete;
  ~Testbed();

  std::string base_url() const;  // "http://127.0.0.1:PORT"
  uint16_t port() const { return port_; }
  std::string url(std::string_view path) const { return base_url() + std::string(path); }
  uint16_t https_port() const { return https_port_; }
  // "https://localhost:HTTPS_PORT" + path (or another host name that resolves to loopback).
  std::string https_url(std::string_view path, std::string_view host = "localhost") const;
  // The URL of `path` on a named host of the multi-host site ("h3.localhost", "w1.h3.localhost"),
  // which libcurl resolves to loopback, on this testbed's port.
  std::string host_url(std::string_view host, std::string_view path) const;
  // GET /__stats (on a connection of its own, which the counts of open connections include).
  nlohmann::json stats() const;
  // GET /__hosts: the per-host counters.
  nlohmann::json hosts() const;
  void reset_stats() const;
  // Sends SIGTERM and returns the server's exit code (0 after a clean shutdown).
  int stop();

 private:
  Testbed(std::unique_ptr<Child> child, uint16_t port) : child_(std::move(child)), port_(port) {}

  std::unique_ptr<Child> child_;
  uint16_t port_ = 0;
  uint16_t https_port_ = 0;
};

// A list of `count` URLs of the testbed at `base` (Testbed::base_url) that each answer after
// `delay_ms`: BASE/delay/MS/page/I, a line each.
std::string delayed_list(const std::string& base, int count, int delay_ms);

// Whether `testbed` has received `count` requests in all (its /__stats counter, which its own
// /__stats requests are not part of) within `within`. A test that signals a crawl counting on its
// list being read or its fetches being under way waits for this first: that the crawl's process,
// its run row or its workers are there says nothing of whether a URL has gone out, and on a loaded
// machine (a sanitizer build beside busy processes) none may have for a second or more.
bool wait_for_requests(const Testbed& testbed, int64_t count,
                       std::chrono::seconds within = std::chrono::seconds(60));

}  // namespace crawl::test
