#include "testbed/server.hpp"
#include "common/open_files.hpp"

#include "testbed/asio_warnings.hpp"

#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "common/usage_error.hpp"
#include "testbed/access_log.hpp"
#include "testbed/gzip.hpp"
#include "testbed/stats.hpp"
#include "testbed/tls_front.hpp"

namespace crawl::testbed {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

constexpr size_t kPieceBytes = 64 * 1024;
constexpr auto kTricklePieceInterval = std::chrono::milliseconds(10);
// Stands in for "forever" in /hang: far beyond any client's patience, yet safe in timer arithmetic.
constexpr auto kForever = std::chrono::hours(24);

auto redirect(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

struct Shared {
  const ServerOptions& options;
  Stats stats;
  std::unique_ptr<AccessLog> log;  // null without --log
  HostStats hosts;
  ThrottleCounters throttles;
  uint16_t https_port = 0;            // 0: no HTTPS
  std::atomic<uint64_t> revision{0};  // the site's, as /__revision last set it
};

// What the answer depends on, copied out of Beast's parser.
struct Request {
  std::string target;
  std::string host;  // the Host header as sent; empty when there was none
  bool is_get = true;
  bool keep_alive = true;
  bool close_after = false;  // /close/REST: the answer ends the connection
  bool http11 = true;
  std::string if_none_match;  // the conditional headers of a re-crawl; empty when absent
  std::string if_modified_since;
};

// What went out for one request.
struct Sent {
  uint64_t body_bytes = 0;  // as encoded, without chunk framing
  uint64_t wire_bytes = 0;
};

enum class Framing {
  kLength,      // Content-Length
  kChunked,     // Transfer-Encoding: chunked
  kUntilClose,  // neither; the body ends when the connection does (HTTP/1.0 clients cannot chunk)
  kNone,        // 204 and 304 carry no body and no length
};

enum class WaitEnd { kDeadline, kPeerClosed, kPeerSentData };

std::string_view reason(int status) {
  const auto phrase = http::obsolete_reason(static_cast<http::status>(status));
  const std::string_view text(phrase.data(), phrase.size());
  return text.starts_with('<') ? std::string_view("Unknown") : text;
}

// The status line and headers, written by hand rather than with Beast's serializer: the testbed
// must send heads that do not match their bodies (/reset-mid announces twice what it sends) and
// count exactly the bytes it puts on the wire.
std::string response_head(const Response& r, Framing framing, uint64_t content_length, bool keep_alive,
                          bool http11) {
  std::string head;
  head.reserve(256);
  head += "HTTP/1.1 ";
  head += std::to_string(r.status);
  head += ' ';
  head += reason(r.status);
  head += "\r\nServer: crawl-testbed\r\n";
  if (!r.content_type.empty()) {
    head += "Content-Type: ";
    head += r.content_type;
    head += "\r\n";
  }
  if (r.encoding == Encoding::kEmptyLabel)
    head += "Content-Encoding:\r\n";
  else if (r.encoding != Encoding::kIdentity)
    head += "Content-Encoding: gzip\r\n";
  if (!r.location.empty()) {
    head += "Location: ";
    head += r.location;
    head += "\r\n";
  }
  if (!r.retry_after.empty()) {
    head += "Retry-After: ";
    head += r.retry_after;
    head += "\r\n";
  }
  if (r.status == 405) head += "Allow: GET\r\n";
  if (!r.etag.empty()) {
    head += "ETag: ";
    head += r.etag;
    head += "\r\n";
  }
  if (!r.last_modified.empty()) {
    head += "Last-Modified: ";
    head += r.last_modified;
    head += "\r\n";
  }
  head += r.extra_headers;
  if (framing == Framing::kLength) {
    head += "Content-Length: ";
    head += std::to_string(content_length);
    head += "\r\n";
  } else if (framing == Framing::kChunked) {
    head += "Transfer-Encoding: chunked\r\n";
  }
  if (!keep_alive) {
    head += "Connection: close\r\n";
  } else if (!http11) {
    head += "Connection: keep-alive\r\n";
  }
  head += "\r\n";
  return head;
}

std::string chunk_size_line(size_t size) {
  std::array<char, 24> digits{};
  auto end = std::to_chars(digits.data(), digits.data() + digits.size(), size, 16).ptr;
  std::string line(digits.data(), end);
  line += "\r\n";
  return line;
}

// Where piece `k` of `pieces` equal pieces of `size` bytes starts, without overflowing 64 bits.
uint64_t piece_start(uint64_t size, uint64_t k, uint64_t pieces) {
  return size / pieces * k + size % pieces * k / pieces;
}

Response error_response(int status, std::string_view title, std::string_view route) {
  Response r;
  r.status = status;
  r.route = route;
  r.content_type = "text/html; charset=utf-8";
  r.title = std::string(title);
  r.body = small_html(title);
  return r;
}

// The name /__hosts counts a request under: a named host's canonical name, else the Host header
// without its port, lowercased ("(none)" without one).
std::string host_key(std::string_view host_header, const std::optional<HostId>& host) {
  if (host) return host_name(*host);
  std::string_view name = host_header;
  if (name.starts_with('[')) {
    name = name.substr(0, name.find(']') + 1);
  } else if (const size_t colon = name.rfind(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  if (name.empty()) return "(none)";
  std::string key(name.substr(0, 255));
  for (char& c : key)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return key;
}

// Holds a request "in progress" for /__hosts while it lives.
class InProgress {
 public:
  InProgress(HostStats& stats, HostStats::Counters* counters) : stats_(stats), counters_(counters) {
    stats_.begin(counters_, Clock::now());
  }
  ~InProgress() { stats_.end(counters_); }
  InProgress(const InProgress&) = delete;
  InProgress& operator=(const InProgress&) = delete;

 private:
  HostStats& stats_;
  HostStats::Counters* counters_;
};

// True when the peer has closed its end (or reset it): a read would return end of file or an error.
bool peer_has_closed(tcp::socket& socket) {
  char byte = 0;
  const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;
  return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

class Session {
 public:
  Session(tcp::socket socket, Shared& shared, int shard)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), shared_(shared), shard_(shard) {
    shared_.stats.connection_opened();
  }
  ~Session() { shared_.stats.connection_closed(); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  asio::awaitable<void> run();

 private:
  // The routes that depend on how the server runs rather than on the site (site.hpp lists them).
  void answer_server_routes(Request& request);
  // Each returns whether the connection may carry another request.
  asio::awaitable<bool> answer(const Request& request);
  asio::awaitable<bool> send_complete(const Request& request, const Response& response, Sent& sent);
  asio::awaitable<bool> send_stream(const Request& request, const Response& response, uint64_t send_bytes,
                                    bool chunked, Sent& sent);
  asio::awaitable<bool> send_trickle(const Request& request, const Response& response, Sent& sent);
  asio::awaitable<void> hang();
  asio::awaitable<void> send_bad_chunked(const Request& request, const Response& response, Sent& sent);

  asio::awaitable<bool> write(std::string_view prefix, std::string_view body, std::string_view suffix,
                              Sent& sent);
  // Sleeps until `deadline`; false when the client went away meanwhile.
  asio::awaitable<bool> wait_until(Clock::time_point deadline);
  asio::awaitable<WaitEnd> wait_watching_peer(Clock::time_point deadline);
  void reset_connection();
  void log(const Request& request, const Response& response, const Sent& sent);

  // The host this connection named last, and its /__hosts counters: most connections name one.
  std::string last_host_header_;
  std::string last_host_key_;
  HostStats::Counters* last_host_counters_ = nullptr;

  tcp::socket socket_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::vector<char> piece_;  // streamed bodies are generated into this, one piece at a time
  Shared& shared_;
  int shard_;
  bool counting_bytes_ = true;  // off while answering /__stats, which is not counted
};

asio::awaitable<void> Session::run() {
  for (;;) {
    http::request_parser<http::empty_body> parser;
    error_code ec;
    co_await http::async_read(socket_, buffer_, parser, redirect(ec));
    if (ec) {
      // A request Beast cannot parse gets a 400; a client that closed or reset gets nothing.
      const bool malformed = ec.category() == http::make_error_code(http::error::bad_target).category() &&
                             ec != http::error::end_of_stream && ec != http::error::partial_message;
      if (malformed) {
        shared_.stats.count_request(shard_);
        const Response response = error_response(400, "Bad Request", "other");
        shared_.stats.count_response(shard_, response.status, response.route);
        Sent sent;
        // A named request: GCC 12 destroys a temporary in a co_await's arguments twice.
        const Request closing{.keep_alive = false};
        co_await send_complete(closing, response, sent);
      }
      break;
    }
    const auto& message = parser.get();
    const auto host = message.find(http::field::host);
    Request request{.target = std::string(message.target()),
                    .host = host == message.end() ? std::string() : std::string(host->value()),
                    .is_get = message.method() == http::verb::get,
                    .keep_alive = message.keep_alive(),
                    .http11 = message.version() >= 11};
    if (const auto tag = message.find(http::field::if_none_match); tag != message.end())
      request.if_none_match = std::string(tag->value());
    if (const auto since = message.find(http::field::if_modified_since); since != message.end())
      request.if_modified_since = std::string(since->value());
    // A request sent to a proxy names the whole URL ("GET http://host/path"): the testbed answers
    // it as that host would, so a crawl through --proxy can be tested against it.
    if (request.target.starts_with("http://")) {
      const auto slash = request.target.find('/', 7);
      request.host = request.target.substr(7, slash == std::string::npos ? std::string::npos : slash - 7);
      request.target = slash == std::string::npos ? "/" : request.target.substr(slash);
    }
    answer_server_routes(request);
    if (!co_await answer(request)) break;
  }
  if (socket_.is_open()) {
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    socket_.close(ignored);
  }
}

void Session::answer_server_routes(Request& request) {
  constexpr std::string_view kClose = "/close/";
  while (request.target.starts_with(kClose)) {
    request.close_after = true;
    request.target.erase(0, kClose.size() - 1);
  }
}

asio::awaitable<bool> Session::answer(const Request& request) {
  SiteOptions site = shared_.options.site;
  site.revision = shared_.revision.load(std::memory_order_relaxed);
  constexpr std::string_view kToHttps = "/to-https/";
  if (request.target.starts_with(kToHttps) && shared_.https_port != 0) {
    std::string name = request.host.empty() ? std::string("127.0.0.1") : request.host;
    if (const size_t colon = name.rfind(':'); colon != std::string::npos && name.back() != ']')
      name.resize(colon);
    Response moved = error_response(301, "Moved Permanently", "redirect");
    moved.location = "https://" + name + ":" + std::to_string(shared_.https_port) +
                     request.target.substr(kToHttps.size() - 1);
    shared_.stats.count_request(shard_);
    shared_.stats.count_response(shard_, moved.status, moved.route);
    Sent sent;
    co_return co_await send_complete(request, moved, sent);
  }
  const std::optional<HostId> host = parse_host(request.host, site);
  Response response = describe(request.target, site, {.host = host, .port = host_header_port(request.host)});

  if (response.kind == Behaviour::kStats || response.kind == Behaviour::kHosts ||
      response.kind == Behaviour::kResetStats || response.kind == Behaviour::kSetRevision) {
    if (response.kind == Behaviour::kSetRevision)
      shared_.revision.store(response.revision, std::memory_order_relaxed);
    if (response.kind == Behaviour::kResetStats) {
      shared_.stats.reset();
      shared_.hosts.reset();
      shared_.throttles.reset();
    }
    response.body = response.kind == Behaviour::kStats   ? shared_.stats.to_json()
                    : response.kind == Behaviour::kHosts ? shared_.hosts.to_json()
                    : response.kind == Behaviour::kSetRevision
                        ? R"({"revision":)" + std::to_string(response.revision) + "}"
                        : R"({"reset":true})";
    Sent sent;
    counting_bytes_ = false;
    const bool keep_alive = co_await send_complete(request, response, sent);
    counting_bytes_ = true;
    co_return keep_alive;
  }

  if (last_host_counters_ == nullptr || request.host != last_host_header_) {
    last_host_header_ = request.host;
    last_host_key_ = host_key(request.host, host);
    last_host_counters_ = shared_.hosts.find(last_host_key_, host.has_value());
  }
  const InProgress in_progress(shared_.hosts, last_host_counters_);
  shared_.stats.count_request(shard_);
  if (response.throttle.status != 0 &&
      shared_.throttles.next(last_host_key_, request.target) < response.throttle.times)
    response = throttled(response, std::chrono::system_clock::now());
  if (!request.is_get) response = error_response(405, "Method Not Allowed", response.route);
  if (not_modified(response, request.if_none_match, request.if_modified_since))
    response = as_not_modified(response);
  const auto wait = latency_for(request.target, shared_.options.latency) + response.delay;
  if (wait.count() > 0 && !co_await wait_until(Clock::now() + wait)) co_return false;
  // Counted before anything is written, so a client that has its answer also sees it counted.
  shared_.stats.count_response(shard_, response.status, response.route);

  Sent sent;
  bool keep_alive = false;
  switch (response.kind) {
    case Behaviour::kComplete:
      keep_alive = co_await send_complete(request, response, sent);
      break;
    case Behaviour::kStream:
      keep_alive = co_await send_stream(request, response, response.stream.size, false, sent);
      break;
    case Behaviour::kStreamChunked:
      keep_alive = co_await send_stream(request, response, response.stream.size, true, sent);
      break;
    case Behaviour::kTrickle:
      keep_alive = co_await send_trickle(request, response, sent);
      break;
    case Behaviour::kResetMidBody:
      if (co_await send_stream(request, response, response.stream.size / 2, false, sent)) reset_connection();
      break;
    case Behaviour::kHang:
      co_await hang();
      break;
    case Behaviour::kReset:
      reset_connection();
      break;
    case Behaviour::kBadChunked:
      co_await send_bad_chunked(request, response, sent);
      break;
    case Behaviour::kStats:
    case Behaviour::kHosts:
    case Behaviour::kResetStats:
    case Behaviour::kSetRevision:
      break;
  }
  log(request, response, sent);
  co_return keep_alive && !request.close_after;
}

asio::awaitable<bool> Session::send_complete(const Request& request, const Response& response, Sent& sent) {
  std::string compressed;
  std::string_view body = response.body;
  if (response.encoding == Encoding::kGzip || response.encoding == Encoding::kGzipCut) {
    compressed = gzip_compress(body);
    if (response.encoding == Encoding::kGzipCut) compressed.resize(compressed.size() / 2);
    body = compressed;
  }
  Framing framing = Framing::kLength;
  if (response.status == 204 || response.status == 304) {
    framing = Framing::kNone;
    body = {};
  }
  const std::string head = response_head(response, framing, body.size(),
                                         request.keep_alive && !request.close_after, request.http11);
  if (!co_await write(head, body, {}, sent)) co_return false;
  co_return request.keep_alive;
}

asio::awaitable<bool> Session::send_stream(const Request& request, const Response& response,
                                           uint64_t send_bytes, bool chunked, Sent& sent) {
  const Framing framing = !chunked         ? Framing::kLength
                          : request.http11 ? Framing::kChunked
                                           : Framing::kUntilClose;
  const bool keep_alive = request.keep_alive && !request.close_after && framing != Framing::kUntilClose;
  std::string prefix = response_head(response, framing, response.stream.size, keep_alive, request.http11);
  piece_.resize(kPieceBytes);
  uint64_t offset = 0;
  // The head goes out with the first piece: one write for small bodies.
  do {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kPieceBytes, send_bytes - offset));
    response.stream.read(offset, piece_.data(), n);
    const bool framed = framing == Framing::kChunked && n > 0;
    if (framed) prefix += chunk_size_line(n);
    if (!co_await write(prefix, {piece_.data(), n}, framed ? "\r\n" : "", sent)) co_return false;
    prefix.clear();
    offset += n;
  } while (offset < send_bytes);
  if (framing == Framing::kChunked && !co_await write("0\r\n\r\n", {}, {}, sent)) co_return false;
  co_return keep_alive;
}

asio::awaitable<bool> Session::send_trickle(const Request& request, const Response& response, Sent& sent) {
  const Framing framing = request.http11 ? Framing::kChunked : Framing::kUntilClose;
  const bool keep_alive = request.keep_alive && framing != Framing::kUntilClose;
  const std::string head = response_head(response, framing, 0, keep_alive, request.http11);
  if (!co_await write(head, {}, {}, sent)) co_return false;

  const uint64_t size = response.stream.size;
  const auto total_ms = static_cast<uint64_t>(response.trickle.count());
  const uint64_t pieces =
      std::clamp<uint64_t>(total_ms / kTricklePieceInterval.count(), 1, std::max<uint64_t>(size, 1));
  const Clock::time_point start = Clock::now();
  piece_.resize(kPieceBytes);
  for (uint64_t k = 0; k < pieces; ++k) {
    const auto due = std::chrono::milliseconds(total_ms * (k + 1) / pieces);
    if (!co_await wait_until(start + due)) co_return false;
    const uint64_t end = piece_start(size, k + 1, pieces);
    for (uint64_t offset = piece_start(size, k, pieces); offset < end;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kPieceBytes, end - offset));
      response.stream.read(offset, piece_.data(), n);
      const std::string size_line = framing == Framing::kChunked ? chunk_size_line(n) : std::string();
      if (!co_await write(size_line, {piece_.data(), n}, framing == Framing::kChunked ? "\r\n" : "", sent))
        co_return false;
      offset += n;
    }
  }
  if (framing == Framing::kChunked && !co_await write("0\r\n\r\n", {}, {}, sent)) co_return false;
  co_return keep_alive;
}

asio::awaitable<void> Session::send_bad_chunked(const Request& request, const Response& response,
                                                Sent& sent) {
  // Chunked even for an HTTP/1.0 client: the point is a chunked body that breaks. The connection
  // closes after it, since nothing after the broken framing can be read as a next response.
  std::string prefix = response_head(response, Framing::kChunked, 0, false, request.http11);
  prefix += chunk_size_line(response.body.size());
  co_await write(prefix, response.body, "\r\nzz\r\n", sent);
}

asio::awaitable<void> Session::hang() {
  std::array<char, 4096> discard{};
  for (;;) {
    const WaitEnd end = co_await wait_watching_peer(Clock::now() + kForever);
    if (end == WaitEnd::kPeerClosed) co_return;
    if (end == WaitEnd::kPeerSentData) {
      // Drain what the client sent so that the next watch sees only what comes after.
      error_code ec;
      co_await socket_.async_read_some(asio::buffer(discard), redirect(ec));
      if (ec) co_return;
    }
  }
}

asio::awaitable<bool> Session::write(std::string_view prefix, std::string_view body, std::string_view suffix,
                                     Sent& sent) {
  const std::array<asio::const_buffer, 3> buffers{asio::buffer(prefix.data(), prefix.size()),
                                                  asio::buffer(body.data(), body.size()),
                                                  asio::buffer(suffix.data(), suffix.size())};
  error_code ec;
  const size_t written = co_await asio::async_write(socket_, buffers, redirect(ec));
  sent.wire_bytes += written;
  if (written > prefix.size()) sent.body_bytes += std::min(written - prefix.size(), body.size());
  if (counting_bytes_) shared_.stats.count_bytes_sent(shard_, written);
  co_return !ec;
}

asio::awaitable<bool> Session::wait_until(Clock::time_point deadline) {
  const WaitEnd end = co_await wait_watching_peer(deadline);
  if (end == WaitEnd::kPeerClosed) co_return false;
  if (end == WaitEnd::kPeerSentData) {
    // A pipelined request: it waits in the socket for its turn, and the rest of this wait cannot
    // watch for a close any more (the socket stays readable), so it is a plain sleep.
    timer_.expires_at(deadline);
    error_code ignored;
    co_await timer_.async_wait(redirect(ignored));
  }
  co_return true;
}

// Sleeps on the timer while waiting for the socket to become readable, so that a client that gives
// up on a /delay, /slow or /hang releases its connection at once instead of when the timer fires.
asio::awaitable<WaitEnd> Session::wait_watching_peer(Clock::time_point deadline) {
  // Shared with the readiness handler, which may run after this wait is over (and after the
  // session is gone, when the connection closes): it touches the session only while `active`.
  struct Watch {
    bool active = true;
    bool finished = false;
    WaitEnd end = WaitEnd::kDeadline;
  };
  auto watch = std::make_shared<Watch>();
  timer_.expires_at(deadline);
  socket_.async_wait(tcp::socket::wait_read, [this, watch](const error_code& ec) {
    watch->finished = true;
    if (!watch->active || ec) return;
    watch->end = peer_has_closed(socket_) ? WaitEnd::kPeerClosed : WaitEnd::kPeerSentData;
    timer_.cancel();
  });
  error_code ignored;
  co_await timer_.async_wait(redirect(ignored));
  watch->active = false;
  if (!watch->finished) socket_.cancel();
  co_return watch->end;
}

void Session::reset_connection() {
  // Linger on with a zero timeout makes close() send RST instead of FIN.
  error_code ignored;
  socket_.set_option(asio::socket_base::linger(true, 0), ignored);
  socket_.close(ignored);
}

void Session::log(const Request& request, const Response& response, const Sent& sent) {
  if (!shared_.log) return;
  std::optional<std::string_view> title;
  if (response.title) title = *response.title;
  shared_.log->write({.target = request.target,
                      .host = request.host,
                      .status = response.status,
                      .body_bytes = sent.body_bytes,
                      .wire_bytes = sent.wire_bytes,
                      .title = title});
}

// A coroutine owning its session: co_spawn keeps the frame, and with it the session, alive.
asio::awaitable<void> serve_connection(tcp::socket socket, Shared& shared, int shard) {
  Session session(std::move(socket), shared, shard);
  co_await session.run();
}

void report_failure(std::exception_ptr error) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    std::cerr << "testbed: a connection failed: " << e.what() << '\n';
  }
}

using Contexts = std::vector<std::unique_ptr<asio::io_context>>;

// Accepts on the first context and deals connections out round-robin: each context's thread then
// owns its connections outright.
asio::awaitable<void> accept_connections(tcp::acceptor& acceptor, Contexts& contexts, Shared& shared) {
  asio::steady_timer backoff(acceptor.get_executor());
  bool reported_exhaustion = false;
  for (size_t next = 0;; next = (next + 1) % contexts.size()) {
    tcp::socket socket(*contexts[next]);
    error_code ec;
    co_await acceptor.async_accept(socket, redirect(ec));
    if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors or memory: existing connections will free some; try again shortly.
      if (!reported_exhaustion) std::cerr << "testbed: accept failed: " << ec.message() << " (will retry)\n";
      reported_exhaustion = true;
      backoff.expires_after(std::chrono::milliseconds(10));
      co_await backoff.async_wait(redirect(ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(*contexts[next], serve_connection(std::move(socket), shared, static_cast<int>(next)),
                   report_failure);
  }
}

// The HTTPS port: each connection's handshake, then its bytes relayed to the plain port.
asio::awaitable<void> accept_tls_connections(tcp::acceptor& acceptor, Contexts& contexts, Shared& shared,
                                             TlsFront& front, tcp::endpoint backend) {
  asio::steady_timer backoff(acceptor.get_executor());
  for (size_t next = 0;; next = (next + 1) % contexts.size()) {
    tcp::socket socket(*contexts[next]);
    error_code ec;
    co_await acceptor.async_accept(socket, redirect(ec));
    if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      backoff.expires_after(std::chrono::milliseconds(10));
      co_await backoff.async_wait(redirect(ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(*contexts[next], front.serve(std::move(socket), backend, shared.stats), report_failure);
  }
}

asio::awaitable<void> flush_log_periodically(AccessLog& log) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(250));
    co_await timer.async_wait(asio::use_awaitable);
    log.flush();
  }
}

tcp::endpoint listen_endpoint(const ServerOptions& options) {
  error_code ec;
  const auto address = asio::ip::make_address(options.bind, ec);
  if (ec)
    throw UsageError("--bind: '" + options.bind + "' is not an IP address (write e.g. 127.0.0.1 or ::1)");
  return {address, options.port};
}

}  // namespace

int serve(const ServerOptions& options) {
  if (options.threads < 1) throw UsageError("--threads must be at least 1");
  if (options.tls_cert.empty() != options.tls_key.empty())
    throw UsageError("--tls-cert and --tls-key go together: give both to serve HTTPS");
  std::optional<TlsFront> front;
  if (!options.tls_cert.empty()) front.emplace(options.tls_cert, options.tls_key);
  (void)raise_open_files_limit();  // more connections fit; the testbed serves what fits either way
  std::signal(SIGPIPE, SIG_IGN);

  Shared shared{.options = options,
                .stats = Stats(options.threads),
                .log = nullptr,
                .hosts = HostStats(Clock::now()),
                .throttles = {}};
  if (!options.log_path.empty()) shared.log = std::make_unique<AccessLog>(options.log_path);

  Contexts contexts;
  for (int i = 0; i < options.threads; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));

  {
    const tcp::endpoint endpoint = listen_endpoint(options);
    tcp::acceptor acceptor(*contexts[0]);
    error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      throw UsageError("cannot listen on " + options.bind + ":" + std::to_string(options.port) + ": " +
                       ec.message() + " (pick another --port, or --port 0 for any free one)");

    const tcp::endpoint local = acceptor.local_endpoint();
    const std::string host =
        local.address().is_v6() ? "[" + local.address().to_string() + "]" : local.address().to_string();
    std::cout << "listening on http://" << host << ':' << local.port() << std::endl;

    tcp::acceptor tls_acceptor(*contexts[0]);
    if (front) {
      tls_acceptor.open(endpoint.protocol(), ec);
      if (!ec) tls_acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) tls_acceptor.bind({endpoint.address(), options.tls_port}, ec);
      if (!ec) tls_acceptor.listen(asio::socket_base::max_listen_connections, ec);
      if (ec)
        throw UsageError("cannot listen on " + options.bind + ":" + std::to_string(options.tls_port) + ": " +
                         ec.message() + " (pick another --tls-port, or --tls-port 0 for any free one)");
      shared.https_port = tls_acceptor.local_endpoint().port();
      std::cout << "listening on https://" << host << ':' << shared.https_port << std::endl;
      asio::co_spawn(*contexts[0], accept_tls_connections(tls_acceptor, contexts, shared, *front, local),
                     report_failure);
    }

    asio::signal_set signals(*contexts[0], SIGINT, SIGTERM);
    signals.async_wait([&](const error_code&, int) {
      error_code ignored;
      acceptor.close(ignored);
      tls_acceptor.close(ignored);
      for (auto& context : contexts) context->stop();
    });
    asio::co_spawn(*contexts[0], accept_connections(acceptor, contexts, shared), report_failure);
    if (shared.log) asio::co_spawn(*contexts[0], flush_log_periodically(*shared.log), report_failure);

    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
    std::vector<std::thread> threads;
    for (size_t i = 1; i < contexts.size(); ++i) {
      keep_running.push_back(asio::make_work_guard(*contexts[i]));
      threads.emplace_back([&context = *contexts[i]] { context.run(); });
    }
    contexts[0]->run();
    for (auto& context : contexts) context->stop();
    for (auto& thread : threads) thread.join();
  }
  // Destroying a context destroys its suspended coroutines, which closes their sockets. The first
  // goes first: its accept loop holds a socket belonging to another context.
  for (auto& context : contexts) context.reset();
  if (shared.log) shared.log->flush();
  return 0;
}

}  // namespace crawl::testbed
