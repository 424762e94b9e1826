// The testbed's HTTPS port: a TLS front that completes each handshake (counting it in the server's
// Stats as full, resumed or failed) and relays the decrypted bytes to the testbed's own plain port
// on loopback, so HTTPS serves exactly the site and behaviours HTTP does (resets included) without
// a second copy of the HTTP server. Internal to testbed/.
#pragma once

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <string>

#include "testbed/stats.hpp"

namespace crawl::testbed {

class TlsFront {
 public:
  // Loads the certificate chain (PEM, leaf first) and its private key; throws crawl::UsageError
  // saying which file could not be used.
  TlsFront(const std::string& cert_chain_file, const std::string& key_file);

  // Serves one accepted connection until either side closes it.
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket,
                                     boost::asio::ip::tcp::endpoint backend, Stats& stats);

 private:
  // One context for every connection: its session cache and ticket keys are what let a client
  // resume a session on its next connection.
  boost::asio::ssl::context context_;
};

}  // namespace crawl::testbed
