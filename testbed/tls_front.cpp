#include "testbed/tls_front.hpp"

#include "testbed/asio_warnings.hpp"

#include <openssl/ssl.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <memory>

#include "common/usage_error.hpp"

namespace crawl::testbed {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

auto redirect(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

// The two ends of one relayed connection; each direction's coroutine holds it.
struct Relay {
  Relay(tcp::socket client, ssl::context& context)
      : outer(std::move(client), context), inner(outer.get_executor()) {}
  ssl::stream<tcp::socket> outer;
  tcp::socket inner;
};

// Client to server. When the client closes, the server hears end of file on its side, as it would
// on a plain connection.
asio::awaitable<void> client_to_server(std::shared_ptr<Relay> link) {
  std::array<char, 16 * 1024> buffer{};
  for (;;) {
    error_code ec;
    const size_t n = co_await link->outer.async_read_some(asio::buffer(buffer), redirect(ec));
    if (ec) break;
    co_await asio::async_write(link->inner, asio::buffer(buffer.data(), n), redirect(ec));
    if (ec) break;
  }
  error_code ignored;
  link->inner.shutdown(tcp::socket::shutdown_send, ignored);
}

// Server to client. A reset from the server (/reset, /reset-mid) is passed on as a reset; an
// orderly close as a close.
asio::awaitable<void> server_to_client(std::shared_ptr<Relay> link) {
  std::array<char, 16 * 1024> buffer{};
  error_code ec;
  for (;;) {
    const size_t n = co_await link->inner.async_read_some(asio::buffer(buffer), redirect(ec));
    if (ec) break;
    co_await asio::async_write(link->outer, asio::buffer(buffer.data(), n), redirect(ec));
    if (ec) break;
  }
  error_code ignored;
  if (ec == asio::error::connection_reset)
    link->outer.lowest_layer().set_option(asio::socket_base::linger(true, 0), ignored);
  // No close_notify: waiting for the client's would hold the connection open; a client reads the
  // end of a response from its framing, as with nginx's lingering close.
  link->outer.lowest_layer().close(ignored);
  link->inner.close(ignored);
}

}  // namespace

TlsFront::TlsFront(const std::string& cert_chain_file, const std::string& key_file)
    : context_(ssl::context::tls_server) {
  context_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3);
  error_code ec;
  context_.use_certificate_chain_file(cert_chain_file, ec);
  if (ec)
    throw UsageError("--tls-cert: cannot use '" + cert_chain_file + "': " + ec.message() +
                     " (give the server's certificate chain as PEM, leaf first)");
  context_.use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec)
    throw UsageError("--tls-key: cannot use '" + key_file + "': " + ec.message() +
                     " (give the PEM private key of --tls-cert's certificate)");
  // TLS 1.2 session ids resume from this cache; TLS 1.3 tickets from the context's ticket keys.
  SSL_CTX_set_session_cache_mode(context_.native_handle(), SSL_SESS_CACHE_SERVER);
  static const unsigned char kSessionContext[] = "crawl-testbed";
  SSL_CTX_set_session_id_context(context_.native_handle(), kSessionContext, sizeof kSessionContext - 1);
}

asio::awaitable<void> TlsFront::serve(tcp::socket socket, tcp::endpoint backend, Stats& stats) {
  auto link = std::make_shared<Relay>(std::move(socket), context_);
  error_code ec;
  co_await link->outer.async_handshake(ssl::stream_base::server, redirect(ec));
  if (ec) {
    stats.count_handshake(Stats::Handshake::kFailed);
    co_return;
  }
  stats.count_handshake(SSL_session_reused(link->outer.native_handle()) ? Stats::Handshake::kResumed
                                                                        : Stats::Handshake::kFull);
  co_await link->inner.async_connect(backend, redirect(ec));
  if (ec) co_return;
  link->inner.set_option(tcp::no_delay(true), ec);
  const auto executor = co_await asio::this_coro::executor;
  asio::co_spawn(executor, client_to_server(link), asio::detached);
  co_await server_to_client(link);
}

}  // namespace crawl::testbed
