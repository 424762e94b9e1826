// The testbed HTTP/1.1 server (Boost.Beast on Asio): serves the synthetic site of site.hpp with
// keep-alive, one io_context per thread, and holds tens of thousands of connections.
#pragma once

#include <cstdint>
#include <string>

#include "testbed/site.hpp"

namespace crawl::testbed {

struct ServerOptions {
  std::string bind = "127.0.0.1";
  uint16_t port = 0;     // 0: the kernel picks a free port
  int threads = 1;       // io_context threads; each owns the connections it accepted
  Latency latency;       // added to every request but /__stats, /__hosts and /__reset-stats
  std::string log_path;  // one JSON line per answered request; empty: no log
  SiteOptions site;
  // HTTPS beside HTTP when both are given: the certificate chain (PEM, leaf first) and its key.
  std::string tls_cert;
  std::string tls_key;
  uint16_t tls_port = 0;  // 0: the kernel picks a free port
};

// Listens, prints "listening on http://ADDR:PORT" on stdout (flushed), then with TLS a second line
// "listening on https://ADDR:PORT", and serves until SIGINT or
// SIGTERM; then closes every connection and returns 0. Raises this process's open-files soft limit
// to the hard limit first. Throws crawl::UsageError when the options cannot be used (bad address,
// port taken, log not writable).
int serve(const ServerOptions& options);

}  // namespace crawl::testbed
