// Fiber mode's heart: a Boost.Fiber scheduling algorithm that owns a libcurl multi handle. A fiber
// that fetches adds its easy handle and waits on a future, suspending only itself; when no fiber is
// ready the thread blocks in epoll_wait inside suspend_until() on curl's sockets, curl's deadline,
// the fiber scheduler's deadline and an eventfd that notify() writes from other threads. Completed
// transfers fulfil their promises. There is no polling loop anywhere. Internal to crawler/.
#pragma once

#include <atomic>
#include <boost/fiber/algo/algorithm.hpp>
#include <boost/fiber/condition_variable.hpp>
#include <boost/fiber/future/promise.hpp>
#include <boost/fiber/mutex.hpp>
#include <boost/fiber/scheduler.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/unique_fd.hpp"
#include "crawler/curl_handles.hpp"
#include "crawler/fetch.hpp"

namespace crawl {

class CurlScheduler : public boost::fibers::algo::algorithm, public ConnectListener {
 public:
  // Installed with boost::fibers::use_scheduling_algorithm<CurlScheduler>(&self, ...); `self`
  // receives the instance, which lives as long as the thread's fiber scheduler.
  CurlScheduler(CurlScheduler** self, const std::atomic<bool>* stop, long max_connections,
                int connecting_at_once = kConnectingAtOnce);
  ~CurlScheduler() override;

  // HTTP/2 streams this scheduler puts on one connection (libcurl's own default, set explicitly so
  // that the gate below and libcurl agree).
  static constexpr int kStreamsPerConnection = 100;

  // Runs `easy` to completion; suspends only the calling fiber. Returns the CURLcode.
  // `https_origin`: "https://host:port" of the URL, where HTTP/2 can be negotiated (ALPN); empty
  // for plain http.
  int perform(CURL* easy, std::string_view https_origin);
  // Transfers of this scheduler between entering libcurl and their first request (connecting:
  // name lookup, TCP and TLS handshakes), at most; the others wait their turn. 10,000 connections
  // opened at once to one server overflow its listen queue (the kernel counts ListenOverflows): the
  // SYNs it drops are sent again only after TCP's 1 s timeout, then 3 s, so a 1 s crawl took 5 s.
  // 256: W3 against nginx (10,000 URLs x 1 s at -c 10000, perf/compare.py) took 5.4 s without the
  // limit, 3.4-3.9 s with 128 to 512 (curl_floor, opening all at once: 3.4-3.7 s; perf/RESULTS.md,
  // "Connections paced", says how they were measured); below it, -c 200 (W1) never waits.
  static constexpr int kConnectingAtOnce = 256;
  // Tells the scheduler that `easy`'s connection is ready (its Transfer does: see ConnectListener).
  void connected(CURL* easy) noexcept override;
  // Transfers connecting now, and fibers waiting for their turn.
  int connecting() const { return connecting_; }
  int waiting_to_connect() const { return waiting_to_connect_; }
  // Transfers let into libcurl to open a new connection for their https origin while the origin's
  // other transfers waited for it (one per origin and connection a crawl needs).
  int64_t origin_openers() const { return origin_openers_; }
  // Changes made to the epoll set (epoll_ctl calls) for curl's sockets so far.
  int64_t socket_changes() const { return socket_changes_; }

  // Called (on this thread) each time it is about to block waiting for events.
  void set_before_sleep(std::function<void()> hook) { before_sleep_ = std::move(hook); }

  void awakened(boost::fibers::context* ctx) noexcept override;
  boost::fibers::context* pick_next() noexcept override;
  bool has_ready_fibers() const noexcept override;
  void suspend_until(std::chrono::steady_clock::time_point const& deadline) noexcept override;
  void notify() noexcept override;

 private:
  static int on_socket(CURL* easy, int fd, int what, void* self, void* socket_data) noexcept;
  static int on_timer(CURLM* multi, long timeout_ms, void* self) noexcept;
  // libcurl's CURLOPT_OPENSOCKETFUNCTION and CURLOPT_CLOSESOCKETFUNCTION call these (curl.h's types
  // stay in the .cpp).
  friend struct SocketCallbacks;
  int open_socket(int family, int type, int protocol) noexcept;
  int close_socket(int fd) noexcept;
  // Whether an event on `fd` is one libcurl waits for; an idle connection's is not, and that
  // connection leaves the epoll set then.
  bool wanted(int fd) noexcept;
  void set_events(int fd, uint32_t events) noexcept;
  void leave_set(int fd) noexcept;
  void drive(int fd, int events);
  void collect_finished();
  void abort_all();

  // A fetching fiber's wait, on that fiber's own frame for as long as its transfer runs: found from
  // the easy handle (CURLOPT_PRIVATE) when the transfer ends, and linked in a list so that a stop can
  // end them all. No lookup per transfer; the promise allocates its shared state, once per transfer.
  struct Origin;
  struct Waiter {
    boost::fibers::promise<int> done;
    CURL* easy = nullptr;
    Origin* origin = nullptr;  // https only
    bool connecting = false;   // counted in connecting_
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
  };
  bool wait_for_connect_room();
  void end_connecting(Waiter& w);
  void link(Waiter& w);
  void unlink(Waiter& w);

  // HTTP/2 connections opened as the streams need them. libcurl 7.88 waits (CURLOPT_PIPEWAIT) for
  // a first connection to learn whether it multiplexes, but once it does, every transfer that finds
  // the connections full opens one of its own, even while another is being set up: 200 transfers
  // to one HTTP/2 host made 101 TLS connections where 2 carry them. So the transfers of an https
  // origin enter libcurl at most kStreamsPerConnection per connection, and while a new connection
  // is being set up (its opener's TLS handshake not done) the rest wait here. An origin that
  // answers over HTTP/1.1 is not held back once that is known.
  struct Origin {
    enum class Kind { kUnknown, kMultiplexed, kSerial };
    std::string name;  // its key in origins_
    Kind kind = Kind::kUnknown;
    int in_flight = 0;
    int capacity = 0;            // streams its connections (open or being opened) can carry
    CURL* opener = nullptr;      // the transfer whose new connection is being set up
    int waiting = 0;             // fibers in admit()
    boost::fibers::mutex mutex;  // uncontended: every fiber of this scheduler runs on one thread
    boost::fibers::condition_variable changed;
  };
  Origin* admit(std::string_view https_origin, CURL* easy);
  void release(Origin& origin, CURL* easy, int code);
  void check_openers();
  void forget_idle_origins();

  const int connecting_at_once_;
  int connecting_ = 0;
  int waiting_to_connect_ = 0;
  boost::fibers::mutex connect_mutex_;  // uncontended, as Origin::mutex
  boost::fibers::condition_variable connect_room_;

  std::unordered_map<std::string, Origin> origins_;
  int openers_ = 0;  // origins with a connection being set up
  int64_t origin_openers_ = 0;
  // Origins left with nothing in flight since the scheduler last slept: forgotten as it next sleeps,
  // unless a fiber took them up again in between.
  std::vector<std::string> idle_origins_;

  boost::fibers::scheduler::ready_queue_type ready_;
  // What the scheduler knows of each socket libcurl has it wait on, by descriptor. A connection whose
  // transfer ended stays in the epoll set while it idles in libcurl's pool: libcurl lets go of it
  // after every transfer and waits on it again at the next, and taking it out and putting it back
  // were two epoll_ctl calls a page (W2: 40,000 for 20,000 pages). Only a TCP socket libcurl let go
  // of while waiting to read stays: a connection's, which libcurl (7.88, threaded resolver, no DoH)
  // always closes through close_socket, so its number is never taken for a later socket's while the
  // set still holds it. The others leave the set when libcurl lets go of them: its resolver's socket
  // pair, and connection attempts that lost the race or ran out of time, which libcurl closes itself,
  // unseen (a new socket under such a number is reset by open_socket, and waits to be writable
  // first, so it is added again). With DoH or c-ares, libcurl would have TCP or UDP sockets of its
  // own closed unseen: may_stay would have to tell them apart. Declared before the multi handle,
  // whose cleanup closes the pooled connections through close_socket.
  struct Socket {
    enum class Kind : uint8_t { kUnknown, kConnection, kOther };
    Kind kind = Kind::kUnknown;
    bool in_set = false;  // in the epoll set, waiting for `events`
    bool wanted = false;  // libcurl waits on it
    uint32_t events = 0;
  };
  std::vector<Socket> sockets_;
  Socket* socket(int fd) noexcept;  // null for a negative descriptor (or no memory)
  bool may_stay(int fd, Socket& sock) noexcept;
  int64_t socket_changes_ = 0;
  // Declared, so made, before the multi handle, and so closed after it: libcurl may still tell the
  // scheduler to forget sockets while the multi handle is cleaned up.
  UniqueFd epoll_fd_;
  UniqueFd wake_fd_;  // eventfd written by notify()
  curl::MultiHandle multi_;
  const std::atomic<bool>* stop_;
  bool aborted_ = false;
  bool has_curl_deadline_ = false;
  std::chrono::steady_clock::time_point curl_deadline_{};
  Waiter* waiting_ = nullptr;  // transfers in flight, newest first
  std::function<void()> before_sleep_;
};

}  // namespace crawl
