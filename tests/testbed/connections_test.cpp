// The testbed holds 10,000 concurrent connections, each with a request in flight, and answers all
// of them. The client is a single non-blocking epoll loop, so that it is not the bottleneck.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <iostream>

#include "testbed/site.hpp"
#include "tests/support/testbed.hpp"

namespace crawl::testbed {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kConnections = 10'000;
// Long enough that every request is still held by the server when the last one has been sent, even
// in a sanitizer build on a busy two-core machine (sending 10,000 took 5 s under ASan there).
constexpr int kDelayMs = 15000;
// A connection the kernel resets from a full accept queue may go tens of seconds in; its request is
// then made again and waits its delay again: the limit leaves room for that.
constexpr auto kTimeLimit = std::chrono::seconds(90);

struct Connection {
  int fd = -1;
  uint64_t page = 0;
  bool request_sent = false;
  std::string head;  // response bytes up to the end of the headers
  int status = 0;
  size_t body_expected = 0;
  size_t body_received = 0;
  bool done = false;
  int connects = 0;
};

rlim_t raise_open_files_limit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

size_t content_length(std::string_view head) {
  constexpr std::string_view kName = "\r\nContent-Length: ";
  const size_t at = head.find(kName);
  if (at == std::string_view::npos) return 0;
  size_t value = 0;
  std::from_chars(head.data() + at + kName.size(), head.data() + head.size(), value);
  return value;
}

// Reads what is there; returns false when the connection failed before its response was complete.
bool read_available(Connection& c) {
  char buffer[65536];
  for (;;) {
    const ssize_t n = recv(c.fd, buffer, sizeof buffer, 0);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    if (n == 0) return c.done;
    std::string_view data(buffer, static_cast<size_t>(n));
    if (c.status == 0) {
      c.head.append(data);
      const size_t end = c.head.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      c.status = std::atoi(c.head.c_str() + std::strlen("HTTP/1.1 "));
      c.body_expected = content_length(c.head);
      c.body_received = c.head.size() - (end + 4);
      c.head.resize(end + 4);
    } else {
      c.body_received += data.size();
    }
    if (c.body_received >= c.body_expected) {
      c.done = true;
      return true;
    }
  }
}

TEST(TestbedLoad, HoldsTenThousandConnectionsWithRequestsInFlight) {
  ASSERT_GE(raise_open_files_limit(), static_cast<rlim_t>(kConnections + 100))
      << "this test needs an open-files hard limit above " << kConnections;
  const crawl::test::Testbed testbed = crawl::test::Testbed::start();

  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(testbed.port());
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  const int poller = epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(poller, 0);
  std::vector<Connection> connections(kConnections);
  // Ten thousand connects at once overflow the kernel's accept queue when the server is slow to
  // accept (a loaded machine, a sanitizer): the kernel then refuses a few, which says nothing about
  // the server. A connection refused before its request went out is made again, up to 3 times.
  int reconnects = 0;
  auto open_connection = [&](uint32_t i) {
    Connection& c = connections[i];
    ++c.connects;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return false;
    const int r = connect(c.fd, reinterpret_cast<const sockaddr*>(&server), sizeof server);
    if (r != 0 && errno != EINPROGRESS) return false;
    epoll_event event{};
    event.events = EPOLLOUT;
    event.data.u32 = i;
    return epoll_ctl(poller, EPOLL_CTL_ADD, c.fd, &event) == 0;
  };
  const auto start = Clock::now();
  for (int i = 0; i < kConnections; ++i) {
    connections[i].page = static_cast<uint64_t>(i);
    ASSERT_TRUE(open_connection(static_cast<uint32_t>(i))) << "connect " << i << ": " << std::strerror(errno);
  }
  const auto connects_issued = Clock::now();

  int completed = 0, failed = 0, sent = 0, resent = 0, in_flight = 0, most_in_flight = 0;
  Clock::time_point all_sent{};
  std::vector<epoll_event> events(1024);
  while (completed + failed < kConnections && Clock::now() - start < kTimeLimit) {
    const int n = epoll_wait(poller, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < n; ++e) {
      Connection& c = connections[events[e].data.u32];
      if (c.fd < 0) continue;
      bool ok = true;
      if (!c.request_sent) {
        int error = 0;
        socklen_t size = sizeof error;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &size);
        const std::string request = "GET /delay/" + std::to_string(kDelayMs) + "/page/" +
                                    std::to_string(c.page) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        // A request this small always fits in an empty socket buffer.
        ok = error == 0 &&
             send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
        if (ok) {
          c.request_sent = true;
          most_in_flight = std::max(most_in_flight, ++in_flight);
          if (++sent == kConnections) all_sent = Clock::now();
          epoll_event event{};
          event.events = EPOLLIN;
          event.data.u32 = events[e].data.u32;
          epoll_ctl(poller, EPOLL_CTL_MOD, c.fd, &event);
        }
      } else {
        ok = read_available(c);
      }
      // A connection reset before any byte of its answer came is one the server never accepted: it
      // waited in the full accept queue until the kernel gave up on it and reset it (seen under ASan
      // beside other builds: 28 of 10,000, within the first 40 s). Its request reached nobody, so it is
      // sent again on a new connection, as a refused connect is made again.
      const bool unanswered = c.request_sent && c.status == 0 && c.head.empty();
      if (!ok && (!c.request_sent || unanswered) && c.connects < 3) {
        if (unanswered) {
          c.request_sent = false;
          --in_flight;
          ++resent;
        }
        close(c.fd);
        c.fd = -1;
        ++reconnects;
        if (open_connection(events[e].data.u32)) continue;
        ok = false;
      }
      if (!ok || c.done) {
        if (c.request_sent) --in_flight;
        // A connection whose response came whole stays open (the server keeps it alive) until the
        // end: the server holds all ten thousand at once however slowly it accepts them. Closed
        // now, the first would go before a loaded server had accepted the last, and its peak would
        // say nothing about what it can hold.
        if (ok) {
          epoll_ctl(poller, EPOLL_CTL_DEL, c.fd, nullptr);
        } else if (c.fd >= 0) {
          close(c.fd);
          c.fd = -1;
        }
        if (ok && c.status == 200 && c.body_expected == page_body_bytes(c.page)) {
          ++completed;
        } else {
          ++failed;
        }
      }
    }
  }
  const auto finished = Clock::now();
  close(poller);
  for (auto& c : connections)
    if (c.fd >= 0) close(c.fd);

  const auto ms = [](Clock::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); };
  const auto stats = testbed.stats();
  std::cout << "[ testbed ] " << kConnections << " connections: connects issued in "
            << ms(connects_issued - start) << " ms, all requests sent after " << ms(all_sent - start)
            << " ms, all " << completed << " responses after " << ms(finished - start) << " ms; client saw "
            << most_in_flight << " requests in flight at once, server peak " << stats["connections_peak"]
            << " open connections; " << reconnects << " connections made again (" << resent
            << " of them reset with their request unanswered)\n";

  EXPECT_EQ(completed, kConnections);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(most_in_flight, kConnections);
  EXPECT_GE(stats["connections_peak"].get<int64_t>(), kConnections);
  EXPECT_EQ(stats["requests"], kConnections);
  EXPECT_EQ(stats["by_status"]["200"], kConnections);
  // Every request waited its delay, and the whole run stayed within the time limit.
  EXPECT_GE(finished - start, milliseconds(kDelayMs));
  EXPECT_LT(finished - start, kTimeLimit);
}

}  // namespace
}  // namespace crawl::testbed
