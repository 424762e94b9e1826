#include "crawler/curl_scheduler.hpp"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

namespace crawl {
namespace {

using Clock = std::chrono::steady_clock;

// The epoll timeout for `deadline`, rounded up: rounding down would wake a millisecond early,
// find nothing due, and spin until the deadline passes.
int timeout_ms_until(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return -1;
  auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > INT32_MAX ? INT32_MAX : static_cast<int>(ms);
}

}  // namespace

struct SocketCallbacks {
  static curl_socket_t open(void* self, curlsocktype, curl_sockaddr* address) noexcept {
    return static_cast<CurlScheduler*>(self)->open_socket(address->family, address->socktype,
                                                          address->protocol);
  }
  static int close(void* self, curl_socket_t fd) noexcept {
    return static_cast<CurlScheduler*>(self)->close_socket(fd);
  }
};

CurlScheduler::CurlScheduler(CurlScheduler** self, const std::atomic<bool>* stop, long max_connections,
                             int connecting_at_once)
    : connecting_at_once_(connecting_at_once),
      epoll_fd_(epoll_create1(EPOLL_CLOEXEC)),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      stop_(stop) {
  // Whatever was made before a failure is closed by its owner.
  if (!epoll_fd_ || !wake_fd_.get())
    throw std::runtime_error(std::string("cannot set up the fiber scheduler: ") + std::strerror(errno));
  multi_ = curl::make_multi();
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_.get();
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &ev);
  curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETFUNCTION, &CurlScheduler::on_socket);
  curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_.get(), CURLMOPT_TIMERFUNCTION, &CurlScheduler::on_timer);
  curl_multi_setopt(multi_.get(), CURLMOPT_TIMERDATA, this);
  // HTTP/2 streams share a connection where the server offers it.
  curl_multi_setopt(multi_.get(), CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt(multi_.get(), CURLMOPT_MAX_CONCURRENT_STREAMS, static_cast<long>(kStreamsPerConnection));
  if (max_connections > 0) curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS, max_connections);
  *self = this;
}

// Every fiber has ended by now, so no transfer is left in the multi handle.
CurlScheduler::~CurlScheduler() = default;

int CurlScheduler::perform(CURL* easy, std::string_view https_origin) {
  if (stop_ && stop_->load(std::memory_order_relaxed)) return CURLE_ABORTED_BY_CALLBACK;
  Waiter waiter;
  waiter.easy = easy;
  if (!https_origin.empty()) {
    waiter.origin = admit(https_origin, easy);
    if (!waiter.origin) return CURLE_ABORTED_BY_CALLBACK;
  }
  if (!wait_for_connect_room()) {
    if (waiter.origin) release(*waiter.origin, easy, CURLE_ABORTED_BY_CALLBACK);
    return CURLE_ABORTED_BY_CALLBACK;
  }
  waiter.connecting = true;
  ++connecting_;
  auto result = waiter.done.get_future();
  // PIPEWAIT: a new transfer to a host with a connection being set up waits to learn whether it can
  // share it (HTTP/2) instead of opening another. Only TLS can negotiate HTTP/2 (ALPN) here, so for
  // plain http it would only hold every new transfer back until a first response shows HTTP/1.1.
  curl_easy_setopt(easy, CURLOPT_PIPEWAIT, https_origin.empty() ? 0L : 1L);
  // The scheduler owns the handle's private pointer while the transfer runs.
  curl_easy_setopt(easy, CURLOPT_PRIVATE, &waiter);
  // The sockets its connections open and close, which the scheduler keeps track of (sockets_).
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &SocketCallbacks::open);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &SocketCallbacks::close);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, this);
  link(waiter);
  CURLMcode rc = curl_multi_add_handle(multi_.get(), easy);
  if (rc != CURLM_OK) {
    unlink(waiter);
    end_connecting(waiter);
    if (waiter.origin) release(*waiter.origin, easy, CURLE_FAILED_INIT);
    return CURLE_FAILED_INIT;
  }
  return result.get();
}

// False once the crawl stops: a fiber woken by abort_all() must not start a transfer nothing would
// abort any more.
bool CurlScheduler::wait_for_connect_room() {
  const auto stopped = [this] { return stop_ && stop_->load(std::memory_order_relaxed); };
  if (connecting_ >= connecting_at_once_) {
    std::unique_lock lock(connect_mutex_);
    ++waiting_to_connect_;
    while (connecting_ >= connecting_at_once_ && !stopped()) connect_room_.wait(lock);
    --waiting_to_connect_;
  }
  return !stopped();
}

void CurlScheduler::end_connecting(Waiter& w) {
  if (!w.connecting) return;
  w.connecting = false;
  --connecting_;
  if (waiting_to_connect_ > 0) connect_room_.notify_one();
}

void CurlScheduler::connected(CURL* easy) noexcept {
  void* waiter = nullptr;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, &waiter);
  if (waiter) end_connecting(*static_cast<Waiter*>(waiter));
}

CurlScheduler::Origin* CurlScheduler::admit(std::string_view https_origin, CURL* easy) {
  auto it = origins_.find(std::string(https_origin));
  if (it == origins_.end()) {
    it = origins_.try_emplace(std::string(https_origin)).first;
    it->second.name = it->first;
  }
  Origin& o = it->second;
  std::unique_lock lock(o.mutex);
  ++o.waiting;
  for (;;) {
    if (stop_ && stop_->load(std::memory_order_relaxed)) {
      --o.waiting;
      return nullptr;
    }
    if (o.kind == Origin::Kind::kSerial || (!o.opener && o.in_flight < o.capacity)) break;
    if (!o.opener) {
      // Every connection is full (or there is none yet): this transfer opens the next one, and the
      // others wait until its handshake is done and they can share it.
      o.opener = easy;
      o.capacity += kStreamsPerConnection;
      ++openers_;
      ++origin_openers_;
      break;
    }
    o.changed.wait(lock);
  }
  --o.waiting;
  ++o.in_flight;
  return &o;
}

void CurlScheduler::release(Origin& o, CURL* easy, int code) {
  if (code == CURLE_OK && o.kind == Origin::Kind::kUnknown) {
    long version = 0;
    curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
    o.kind = version >= CURL_HTTP_VERSION_2_0 ? Origin::Kind::kMultiplexed : Origin::Kind::kSerial;
  }
  // An origin whose first connection failed is not held back further: its other fetches fail or
  // succeed on their own (libcurl's PIPEWAIT still makes them wait for a connection in progress).
  if (code != CURLE_OK && o.kind == Origin::Kind::kUnknown && o.opener == easy)
    o.kind = Origin::Kind::kSerial;
  if (o.opener == easy) {
    long opened = 0;
    curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &opened);
    if (opened == 0) o.capacity -= kStreamsPerConnection;
    o.opener = nullptr;
    --openers_;
  }
  // An origin with nothing in flight is forgotten when the scheduler next sleeps (a crawl of a
  // million hosts does not keep them all), and with it what it knew of its connections, which may
  // close while idle (a timeout, a GOAWAY): the transfer after that opens one again. Not at once:
  // the fibers whose transfers just ended start their next ones before the scheduler sleeps, mostly
  // to the same origin, and finding it unknown they would go one at a time behind a new opener
  // (every batch of a fast HTTP/2 crawl split into 1 transfer, then the other 49).
  if (--o.in_flight == 0 && o.waiting == 0) {
    idle_origins_.push_back(o.name);
    return;
  }
  o.changed.notify_all();
}

void CurlScheduler::forget_idle_origins() {
  for (const std::string& name : idle_origins_) {
    auto it = origins_.find(name);
    if (it != origins_.end() && it->second.in_flight == 0 && it->second.waiting == 0) origins_.erase(it);
  }
  idle_origins_.clear();
}

void CurlScheduler::check_openers() {
  if (openers_ == 0) return;
  for (auto& [name, o] : origins_) {
    if (!o.opener) continue;
    // Set once the transfer's connection is ready, new or reused, and its request about to go.
    curl_off_t ready = 0;
    curl_easy_getinfo(o.opener, CURLINFO_PRETRANSFER_TIME_T, &ready);
    if (ready <= 0) continue;
    long opened = 0;
    curl_easy_getinfo(o.opener, CURLINFO_NUM_CONNECTS, &opened);
    // A stream freed up meanwhile and the opener took it: no connection was added.
    if (opened == 0) o.capacity -= kStreamsPerConnection;
    o.opener = nullptr;
    --openers_;
    o.changed.notify_all();
  }
}

void CurlScheduler::link(Waiter& w) {
  w.prev = nullptr;
  w.next = waiting_;
  if (waiting_) waiting_->prev = &w;
  waiting_ = &w;
}

void CurlScheduler::unlink(Waiter& w) {
  if (w.prev)
    w.prev->next = w.next;
  else
    waiting_ = w.next;
  if (w.next) w.next->prev = w.prev;
  w.prev = w.next = nullptr;
}

void CurlScheduler::awakened(boost::fibers::context* ctx) noexcept {
  ctx->ready_link(ready_);
}

boost::fibers::context* CurlScheduler::pick_next() noexcept {
  if (ready_.empty()) return nullptr;
  boost::fibers::context* ctx = &ready_.front();
  ready_.pop_front();
  return ctx;
}

bool CurlScheduler::has_ready_fibers() const noexcept {
  return !ready_.empty();
}

void CurlScheduler::notify() noexcept {
  const uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_.get(), &one, sizeof one);
}

void CurlScheduler::suspend_until(std::chrono::steady_clock::time_point const& fiber_deadline) noexcept {
  if (stop_ && stop_->load(std::memory_order_relaxed) && !aborted_) {
    abort_all();
    return;
  }
  forget_idle_origins();
  if (before_sleep_) before_sleep_();
  // The hook may have made a fiber ready: then look at the sockets without waiting.
  Clock::time_point deadline = has_ready_fibers() ? Clock::now() : fiber_deadline;
  if (has_curl_deadline_ && curl_deadline_ < deadline) deadline = curl_deadline_;
  epoll_event events[256];
  int n = epoll_wait(epoll_fd_.get(), events, 256, timeout_ms_until(deadline));
  for (int i = 0; i < n; ++i) {
    if (events[i].data.fd == wake_fd_.get()) {
      uint64_t count;
      [[maybe_unused]] auto r = ::read(wake_fd_.get(), &count, sizeof count);
      continue;
    }
    if (!wanted(events[i].data.fd)) continue;
    int flags = 0;
    if (events[i].events & EPOLLIN) flags |= CURL_CSELECT_IN;
    if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
    if (events[i].events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
    drive(events[i].data.fd, flags);
  }
  if (has_curl_deadline_ && Clock::now() >= curl_deadline_) {
    has_curl_deadline_ = false;
    drive(CURL_SOCKET_TIMEOUT, 0);
  }
  collect_finished();
  check_openers();
}

void CurlScheduler::drive(int fd, int events) {
  int running = 0;
  curl_multi_socket_action(multi_.get(), fd, events, &running);
}

void CurlScheduler::collect_finished() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    const int code = msg->data.result;
    void* waiter = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &waiter);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, nullptr);  // the Waiter is gone once its fiber runs
    // Removed here, outside any curl callback, so its connection goes back to the pool at once.
    curl_multi_remove_handle(multi_.get(), easy);
    if (!waiter) continue;
    auto& w = *static_cast<Waiter*>(waiter);
    unlink(w);
    end_connecting(w);
    if (w.origin) release(*w.origin, easy, code);
    // Makes the fetching fiber ready; it runs after suspend_until returns, and its Waiter goes.
    w.done.set_value(code);
  }
}

void CurlScheduler::abort_all() {
  aborted_ = true;
  while (Waiter* w = waiting_) {
    curl_multi_remove_handle(multi_.get(), w->easy);
    curl_easy_setopt(w->easy, CURLOPT_PRIVATE, nullptr);
    unlink(*w);
    end_connecting(*w);
    if (w->origin) release(*w->origin, w->easy, CURLE_ABORTED_BY_CALLBACK);
    w->done.set_value(CURLE_ABORTED_BY_CALLBACK);
  }
  // Fibers held at an origin's gate, or waiting to connect, see the stop when woken.
  for (auto& [name, o] : origins_) o.changed.notify_all();
  connect_room_.notify_all();
}

int CurlScheduler::on_socket(CURL*, int fd, int what, void* self, void*) noexcept {
  auto* s = static_cast<CurlScheduler*>(self);
  const uint32_t events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
  Socket* sock = s->socket(fd);
  if (!sock) {
    // No memory to keep track of it: the socket is added and taken out as libcurl says.
    epoll_event ev{};
    ev.data.fd = fd;
    ev.events = events;
    if (what == CURL_POLL_REMOVE)
      epoll_ctl(s->epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
    else if (epoll_ctl(s->epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST)
      epoll_ctl(s->epoll_fd_.get(), EPOLL_CTL_MOD, fd, &ev);
    return 0;
  }
  if (what == CURL_POLL_REMOVE) {
    sock->wanted = false;
    if (!s->may_stay(fd, *sock)) s->leave_set(fd);
    return 0;
  }
  sock->wanted = true;
  s->set_events(fd, events);
  return 0;
}

CurlScheduler::Socket* CurlScheduler::socket(int fd) noexcept {
  if (fd < 0) return nullptr;
  const auto index = static_cast<size_t>(fd);
  if (index >= sockets_.size()) {
    try {
      sockets_.resize(std::max(index + 1, sockets_.size() * 2));
    } catch (const std::bad_alloc&) {
      return nullptr;
    }
  }
  return &sockets_[index];
}

// A socket libcurl lets go of while it waits for an answer on it is a connection going back to
// libcurl's pool, or its resolver's socket pair (which it closes unseen): a TCP socket, asked once
// in its life, stays in the set. A socket that was waiting to be written to is a connection attempt
// or a request cut short, and leaves.
bool CurlScheduler::may_stay(int fd, Socket& sock) noexcept {
  if (!sock.in_set || sock.events != EPOLLIN) return false;
  if (sock.kind == Socket::Kind::kUnknown) {
    int domain = 0;
    socklen_t length = sizeof domain;
    const bool tcp = getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 &&
                     (domain == AF_INET || domain == AF_INET6);
    sock.kind = tcp ? Socket::Kind::kConnection : Socket::Kind::kOther;
  }
  return sock.kind == Socket::Kind::kConnection;
}

void CurlScheduler::set_events(int fd, uint32_t events) noexcept {
  Socket& sock = sockets_[static_cast<size_t>(fd)];
  if (sock.in_set && sock.events == events) return;
  epoll_event ev{};
  ev.data.fd = fd;
  ev.events = events;
  ++socket_changes_;
  // The kernel's set is the truth: a socket closed unseen has left it (and the one now holding its
  // number is not in it), while what the scheduler took for a new socket may already be there.
  if (epoll_ctl(epoll_fd_.get(), sock.in_set ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0) {
    if (errno == ENOENT)
      epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev);
    else if (errno == EEXIST)
      epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, fd, &ev);
  }
  sock.in_set = true;
  sock.events = events;
}

void CurlScheduler::leave_set(int fd) noexcept {
  Socket& sock = sockets_[static_cast<size_t>(fd)];
  if (!sock.in_set) return;
  ++socket_changes_;
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  sock.in_set = false;
}

bool CurlScheduler::wanted(int fd) noexcept {
  if (fd < 0 || static_cast<size_t>(fd) >= sockets_.size()) return true;
  const Socket& sock = sockets_[static_cast<size_t>(fd)];
  if (sock.wanted) return true;
  // An idle connection that the server closed, or that has something unasked for to read:
  // libcurl finds out when it next takes the connection from its pool.
  leave_set(fd);
  return false;
}

int CurlScheduler::open_socket(int family, int type, int protocol) noexcept {
  // As libcurl opens a socket itself when no callback is set.
  const int fd = ::socket(family, type, protocol);
  // Whatever had this number before was closed, seen or not.
  if (Socket* sock = socket(fd)) *sock = Socket{};
  return fd;
}

int CurlScheduler::close_socket(int fd) noexcept {
  if (fd >= 0 && static_cast<size_t>(fd) < sockets_.size()) {
    leave_set(fd);
    sockets_[static_cast<size_t>(fd)] = Socket{};
  }
  return ::close(fd);
}

// Only records the deadline: libcurl must not be called back from inside its own callbacks.
int CurlScheduler::on_timer(CURLM*, long timeout_ms, void* self) noexcept {
  auto* s = static_cast<CurlScheduler*>(self);
  if (timeout_ms < 0) {
    s->has_curl_deadline_ = false;
  } else {
    s->has_curl_deadline_ = true;
    s->curl_deadline_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
  }
  return 0;
}

}  // namespace crawl
