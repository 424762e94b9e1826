// The frames worker processes and the parent exchange: every field survives the trip, frames are
// cut right however the bytes arrive, and damaged input is refused rather than misread.
#include "crawler/ipc.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace crawl::ipc {
namespace {

UrlTask sample_task() {
  UrlTask t;
  t.seq = 123456789012;
  t.source = "lists/a b.txt";
  t.line = 42;
  t.input = "  http://example.com/é  ";
  t.url = "http://example.com/%C3%A9";
  t.depth = 3;
  t.parent_url = "http://example.com/";
  t.attempt = 2;
  t.seed_host = "example.com";
  t.lane = 17;
  t.report_start = true;
  return t;
}

Page sample_page() {
  Page p;
  auto& r = p.record;
  r.seq = 7;
  r.source = "-";
  r.line = 9;
  r.input = "http://h.test/x";
  r.url = "http://h.test/x";
  r.final_url = "http://h.test/y";
  r.status = 404;
  r.error = ErrorCategory::http_4xx;
  r.error_message = "HTTP 404";
  r.content_type = "text/html; charset=utf-8";
  r.charset = "utf-8";
  r.wire_bytes = 1000;
  r.body_bytes = 3000;
  r.text_bytes = 55;
  r.title = std::string("A title with \0 a NUL", 20);
  r.link_count = std::nullopt;
  r.depth = 1;
  r.parent_url = "http://h.test/";
  r.attempts = 2;
  r.redirects = 1;
  r.timings = {
      .dns_ms = 0.5, .connect_ms = 1.25, .tls_ms = 0, .ttfb_ms = 10.5, .total_ms = 12.75, .queue_ms = 3};
  r.worker = "p3.t1.f9";
  r.fetched_at = 1.7e9 + 0.123;
  r.connections = {.opened = 2, .tls_full = 1, .tls_resumed = 1};
  p.body = std::string(1 << 20, 'x') + std::string("\0\xff", 2);
  p.body_kept = true;
  p.retry_after_s = 120;
  p.seed_host = "h";
  return p;
}

void expect_same(const Page& a, const Page& b) {
  const auto &x = a.record, &y = b.record;
  EXPECT_EQ(x.seq, y.seq);
  EXPECT_EQ(x.source, y.source);
  EXPECT_EQ(x.line, y.line);
  EXPECT_EQ(x.input, y.input);
  EXPECT_EQ(x.url, y.url);
  EXPECT_EQ(x.final_url, y.final_url);
  EXPECT_EQ(x.status, y.status);
  EXPECT_EQ(x.error, y.error);
  EXPECT_EQ(x.error_message, y.error_message);
  EXPECT_EQ(x.content_type, y.content_type);
  EXPECT_EQ(x.charset, y.charset);
  EXPECT_EQ(x.wire_bytes, y.wire_bytes);
  EXPECT_EQ(x.body_bytes, y.body_bytes);
  EXPECT_EQ(x.text_bytes, y.text_bytes);
  EXPECT_EQ(x.title, y.title);
  EXPECT_EQ(x.link_count, y.link_count);
  EXPECT_EQ(x.depth, y.depth);
  EXPECT_EQ(x.parent_url, y.parent_url);
  EXPECT_EQ(x.attempts, y.attempts);
  EXPECT_EQ(x.redirects, y.redirects);
  EXPECT_EQ(x.timings.dns_ms, y.timings.dns_ms);
  EXPECT_EQ(x.timings.connect_ms, y.timings.connect_ms);
  EXPECT_EQ(x.timings.tls_ms, y.timings.tls_ms);
  EXPECT_EQ(x.timings.ttfb_ms, y.timings.ttfb_ms);
  EXPECT_EQ(x.timings.total_ms, y.timings.total_ms);
  EXPECT_EQ(x.timings.queue_ms, y.timings.queue_ms);
  EXPECT_EQ(x.worker, y.worker);
  EXPECT_EQ(x.fetched_at, y.fetched_at);
  EXPECT_EQ(x.connections.opened, y.connections.opened);
  EXPECT_EQ(x.connections.tls_full, y.connections.tls_full);
  EXPECT_EQ(x.connections.tls_resumed, y.connections.tls_resumed);
  EXPECT_EQ(a.body_kept, b.body_kept);
  EXPECT_EQ(a.retry_after_s, b.retry_after_s);
  EXPECT_EQ(a.seed_host, b.seed_host);
  EXPECT_EQ(a.body, b.body);
}

// The payload of the one frame `out` holds.
std::string payload_of(const Outgoing& out) {
  return out.str().substr(kHeaderBytes);
}

std::string task_payload(const UrlTask& task) {
  Outgoing out;
  out.task(task);
  return payload_of(out);
}

std::string page_payload(const Page& page) {
  Outgoing out;
  out.page(page);
  return payload_of(out);
}

// Decodes a page frame as the parent does, with the task it sent for `expected`.
Page received(std::string_view payload, const Page& expected) {
  return decode_page(payload, task_of(expected));
}

TEST(Ipc, StartsKeepTheirMomentAcrossProcesses) {
  const auto at = std::chrono::steady_clock::now() + std::chrono::nanoseconds(123);
  Outgoing frames;
  frames.started(987654321, at);
  const auto [seq, back] = decode_started(payload_of(frames));
  EXPECT_EQ(seq, 987654321);
  EXPECT_EQ(back, at);
  Outgoing another;
  another.started(5, at);
  FrameBuffer in;
  in.append(another.str());
  auto f = in.next();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FrameKind::started);
  EXPECT_EQ(decode_started(f->payload).first, 5);
  EXPECT_THROW(decode_started(f->payload.substr(1)), std::runtime_error);
}

TEST(Ipc, TasksAndPagesSurviveTheTrip) {
  const UrlTask t = sample_task();
  const UrlTask u = decode_task(task_payload(t));
  EXPECT_EQ(u.seq, t.seq);
  EXPECT_EQ(u.source, t.source);
  EXPECT_EQ(u.line, t.line);
  EXPECT_EQ(u.input, t.input);
  EXPECT_EQ(u.url, t.url);
  EXPECT_EQ(u.depth, t.depth);
  EXPECT_EQ(u.parent_url, t.parent_url);
  EXPECT_EQ(u.attempt, t.attempt);
  EXPECT_EQ(u.seed_host, t.seed_host);
  EXPECT_EQ(u.lane, 17);
  EXPECT_TRUE(u.report_start);

  const Page p = sample_page();
  expect_same(received(page_payload(p), p), p);
  Page empty;
  expect_same(received(page_payload(empty), empty), empty);
}

// The parent holds every task it sent until its page comes back, so the task's strings do not
// travel back: a page's frame is as long whatever its list name, input, URL, parent and seed host.
// A damaged frame leaves the held task whole, for the rows the parent makes when it buries the
// worker.
TEST(Ipc, APageLeavesItsTaskBehind) {
  const Page page = sample_page();
  Page long_strings = page;
  auto& r = long_strings.record;
  for (std::string* s : {&r.source, &r.input, &r.url, &r.parent_url, &long_strings.seed_host})
    *s = std::string(10'000, 'q');
  EXPECT_EQ(page_payload(long_strings).size(), page_payload(page).size());
  expect_same(received(page_payload(long_strings), long_strings), long_strings);

  UrlTask held = task_of(long_strings);
  const std::string payload = page_payload(long_strings);
  EXPECT_THROW(decode_page(payload.substr(0, payload.size() - 1), std::move(held)), std::runtime_error);
  EXPECT_EQ(held.url, r.url);  // NOLINT(bugprone-use-after-move): a throwing decode takes nothing
  EXPECT_EQ(held.seed_host, long_strings.seed_host);
}

// Several frames to a write, bodies among them written from their pages: the stream is the frames
// in the order they were added.
TEST(Ipc, FramesAreCutRightHoweverTheBytesArrive) {
  const Page big = sample_page();
  Page small = sample_page();
  small.body = "<p>small</p>";
  small.record.seq = 8;
  Outgoing out;  // holds the pages' bodies by reference: the pages outlive it
  out.task(sample_task());
  out.stop();
  out.page(big);
  out.started(77, std::chrono::steady_clock::time_point{});
  out.page(small);
  const std::string stream = out.str();
  for (size_t piece : {size_t{1}, size_t{7}, size_t{4096}, size_t{100'000}, stream.size()}) {
    FrameBuffer in;
    std::vector<std::pair<FrameKind, std::string>> frames;  // copied: a payload lives until more bytes come
    const auto take = [&] {
      while (auto f = in.next()) frames.emplace_back(f->kind, f->payload);
    };
    for (size_t at = 0; at < stream.size(); at += piece) {
      in.append(std::string_view(stream).substr(at, piece));
      take();
      if (piece == 1 && at > 50'000) {  // byte by byte through a megabyte takes too long; jump ahead
        in.append(std::string_view(stream).substr(at + 1));
        take();
        break;
      }
    }
    ASSERT_EQ(frames.size(), 5u) << "pieces of " << piece;
    EXPECT_EQ(frames[0].first, FrameKind::task);
    EXPECT_EQ(decode_task(frames[0].second).url, sample_task().url);
    EXPECT_EQ(frames[1].first, FrameKind::stop);
    EXPECT_TRUE(frames[1].second.empty());
    EXPECT_EQ(frames[2].first, FrameKind::page);
    expect_same(received(frames[2].second, sample_page()), sample_page());
    EXPECT_EQ(frames[3].first, FrameKind::started);
    EXPECT_EQ(decode_started(frames[3].second).first, 77);
    EXPECT_EQ(frames[4].first, FrameKind::page);
    expect_same(received(frames[4].second, small), small);
    EXPECT_TRUE(in.empty());
  }
}

// Bytes received in place: once a big frame's header is in, the room offered is the rest of that
// frame, so the frame is not grown into piece by piece; a buffer a big frame made big is let go
// once that frame has been read.
TEST(Ipc, ABigFrameIsReceivedIntoRoomForAllOfIt) {
  const Page page = sample_page();  // a megabyte of body
  Outgoing out;
  out.page(page);
  const std::string stream = out.str();
  FrameBuffer in;
  std::span<char> room = in.room();
  ASSERT_GE(room.size(), 64u * 1024);
  std::memcpy(room.data(), stream.data(), 1000);  // the header and the start of the fields
  in.commit(1000);
  EXPECT_FALSE(in.next());
  room = in.room();
  ASSERT_GE(room.size(), stream.size() - 1000);
  const size_t capacity = in.capacity();
  std::memcpy(room.data(), stream.data() + 1000, stream.size() - 1000);
  in.commit(stream.size() - 1000);
  EXPECT_EQ(in.capacity(), capacity);
  auto frame = in.next();
  ASSERT_TRUE(frame);
  expect_same(received(frame->payload, sample_page()), sample_page());
  EXPECT_TRUE(in.empty());
  in.append(task_payload(sample_task()).substr(0, 3));  // a small read after the big frame
  EXPECT_LT(in.capacity(), capacity);
}

TEST(Ipc, DamagedInputIsRefused) {
  const std::string task = task_payload(sample_task());
  EXPECT_THROW(decode_task(task.substr(0, task.size() - 1)), std::runtime_error);
  EXPECT_THROW(decode_task(task + "x"), std::runtime_error);
  EXPECT_THROW(decode_page(task, UrlTask{.seq = sample_task().seq}), std::runtime_error);
  const std::string page = page_payload(sample_page());
  EXPECT_THROW(decode_page(page.substr(0, page.size() - 1), task_of(sample_page())), std::runtime_error);
  UrlTask other = task_of(sample_page());
  other.seq += 1;
  EXPECT_THROW(decode_page(page, std::move(other)), std::runtime_error)
      << "a page is never given another URL's task";
  FrameBuffer bad_kind;
  const uint32_t header[2] = {99, 4};
  bad_kind.append(std::string_view(reinterpret_cast<const char*>(header), sizeof header));
  EXPECT_THROW(bad_kind.next(), std::runtime_error);
  FrameBuffer huge;
  const uint32_t huge_header[2] = {2, kMaxPayload + 1};
  huge.append(std::string_view(reinterpret_cast<const char*>(huge_header), sizeof huge_header));
  EXPECT_LE(huge.room().size(), 65u * 1024 * 1024) << "a header's claim is never allocated at once";
  EXPECT_THROW(huge.next(), std::runtime_error);
}

// Pages bigger than the socket's buffer cross a real socket pair whole, several to a write, their
// bodies written from the pages themselves.
TEST(Ipc, BigPagesCrossASocketPair) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  std::vector<Page> pages(3, sample_page());
  for (size_t i = 0; i < pages.size(); ++i) {
    pages[i].record.seq = static_cast<int64_t>(i);
    pages[i].body[i] = 'y';
  }
  std::thread writer([&] {
    Outgoing out;
    for (const Page& p : pages) out.page(p);
    EXPECT_TRUE(out.write_to(sv[0]));
    EXPECT_TRUE(out.empty());
    close(sv[0]);
  });
  FrameBuffer in;
  size_t got = 0;
  for (;;) {
    const std::span<char> room = in.room();
    const ssize_t n = read(sv[1], room.data(), room.size());
    ASSERT_GE(n, 0);
    if (n == 0) break;
    in.commit(static_cast<size_t>(n));
    while (auto frame = in.next()) {
      ASSERT_LT(got, pages.size());
      EXPECT_EQ(page_seq(frame->payload), pages[got].record.seq);
      expect_same(received(frame->payload, pages[got]), pages[got]);
      ++got;
    }
  }
  writer.join();
  close(sv[1]);
  EXPECT_EQ(got, pages.size());
  EXPECT_TRUE(in.empty());
}

// A peer gone: the write says so instead of killing the writer with SIGPIPE.
TEST(Ipc, AWriteToAClosedSocketFails) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  close(sv[1]);
  signal(SIGPIPE, SIG_IGN);
  Outgoing out;
  out.page(sample_page());
  EXPECT_FALSE(out.write_to(sv[0]));
  EXPECT_TRUE(out.empty());
  close(sv[0]);
}

}  // namespace
}  // namespace crawl::ipc
