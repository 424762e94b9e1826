// Debian's nginx as a real HTTP/2 server for tests (the testbed speaks HTTP/1.1 only): started on
// 127.0.0.1 and a free port with a configuration written for the test, serving TLS with the test's
// certificate, and logging which connection carried each request so tests can count connections as
// the server saw them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "tests/support/process.hpp"

namespace crawl::test {

class Nginx {
 public:
  struct Options {
    std::string cert_file;  // chain, leaf first
    std::string key_file;
    int max_streams = 128;  // http2_max_concurrent_streams (nginx's default)
  };
  // Null when nginx or its echo module (/delay/) is not installed (scripts/setup installs both).
  // Throws std::runtime_error when it is installed but does not start.
  static std::unique_ptr<Nginx> start(const std::string& dir, const Options& options);
  ~Nginx();
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;

  uint16_t port() const { return port_; }
  // https://localhost:PORT + path (or another *.localhost name as `host`). Paths: /delay/ANY waits 200 ms,
  // then a small page; anything else a small page at once.
  std::string url(const std::string& path, const std::string& host = "localhost") const;

  struct Seen {
    int requests = 0;
    int connections = 0;  // distinct connections that carried them
    int http2_requests = 0;
  };
  // What the access log says so far.
  Seen seen() const;

 private:
  Nginx() = default;
  std::string dir_;
  uint16_t port_ = 0;
  std::unique_ptr<Child> child_;
};

}  // namespace crawl::test
