#include "crawler/ipc.hpp"

#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace crawl::ipc {
namespace {

constexpr size_t kMinRoom = 64 * 1024;
constexpr size_t kMaxRoomStep = 64 * 1024 * 1024;
constexpr size_t kKeptBytes = 1024 * 1024;

// Both ends are the same binary on the same machine, so values travel in host byte order.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void i64(int64_t v) { raw(&v, sizeof v); }
  void f64(double v) { raw(&v, sizeof v); }
  void str(std::string_view s) {
    i64(static_cast<int64_t>(s.size()));
    out_.append(s);
  }
  void opt_str(const std::optional<std::string>& s) {
    u8(s ? 1 : 0);
    if (s) str(*s);
  }
  void opt_i64(const std::optional<int64_t>& v) {
    u8(v ? 1 : 0);
    if (v) i64(*v);
  }

 private:
  void raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  uint8_t u8() {
    need(1);
    return static_cast<uint8_t>(in_[at_++]);
  }
  int64_t i64() {
    int64_t v;
    raw(&v, sizeof v);
    return v;
  }
  double f64() {
    double v;
    raw(&v, sizeof v);
    return v;
  }
  std::string str() {
    const int64_t n = i64();
    if (n < 0) throw std::runtime_error("malformed frame: negative string length");
    need(static_cast<size_t>(n));
    std::string s(in_.substr(at_, static_cast<size_t>(n)));
    at_ += static_cast<size_t>(n);
    return s;
  }
  std::optional<std::string> opt_str() {
    if (!u8()) return std::nullopt;
    return str();
  }
  std::optional<int64_t> opt_i64() {
    if (!u8()) return std::nullopt;
    return i64();
  }
  void done() const {
    if (at_ != in_.size()) throw std::runtime_error("malformed frame: trailing bytes");
  }

 private:
  void need(size_t n) const {
    if (in_.size() - at_ < n) throw std::runtime_error("malformed frame: truncated");
  }
  void raw(void* p, size_t n) {
    need(n);
    std::memcpy(p, in_.data() + at_, n);
    at_ += n;
  }
  std::string_view in_;
  size_t at_ = 0;
};

// Writes every piece to a blocking descriptor, retrying on EINTR and short writes.
bool write_all(int fd, std::vector<iovec>& pieces) {
  size_t i = 0;
  while (i < pieces.size()) {
    const int count = static_cast<int>(std::min<size_t>(pieces.size() - i, IOV_MAX));
    const ssize_t n = ::writev(fd, pieces.data() + i, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    auto left = static_cast<size_t>(n);
    while (i < pieces.size() && left >= pieces[i].iov_len) left -= pieces[i++].iov_len;
    if (left > 0) {
      pieces[i].iov_base = static_cast<char*>(pieces[i].iov_base) + left;
      pieces[i].iov_len -= left;
    }
  }
  return true;
}

void put_task(Writer& w, const UrlTask& t) {
  w.i64(t.seq);
  w.str(t.source);
  w.i64(t.line);
  w.str(t.input);
  w.str(t.url);
  w.i64(t.depth);
  w.str(t.parent_url);
  w.i64(t.attempt);
  w.str(t.seed_host);
  w.i64(t.lane);
  w.u8(t.report_start ? 1 : 0);
}

}  // namespace

size_t Outgoing::begin_frame(FrameKind kind) {
  const size_t at = bytes_.size();
  const uint32_t header[2] = {static_cast<uint32_t>(kind), 0};
  bytes_.append(reinterpret_cast<const char*>(header), sizeof header);
  return at;
}

void Outgoing::end_frame(size_t header_at, size_t external_bytes) {
  const size_t payload = bytes_.size() - header_at - kHeaderBytes + external_bytes;
  if (payload > kMaxPayload) {
    bytes_.resize(header_at);
    throw std::length_error("frame payload too large");
  }
  const auto length = static_cast<uint32_t>(payload);
  std::memcpy(bytes_.data() + header_at + sizeof(uint32_t), &length, sizeof length);
}

void Outgoing::task(const UrlTask& task) {
  const size_t at = begin_frame(FrameKind::task);
  Writer w(bytes_);
  put_task(w, task);
  end_frame(at, 0);
}

void Outgoing::stop() {
  end_frame(begin_frame(FrameKind::stop), 0);
}

UrlTask decode_task(std::string_view payload) {
  Reader r(payload);
  UrlTask t;
  t.seq = r.i64();
  t.source = r.str();
  t.line = r.i64();
  t.input = r.str();
  t.url = r.str();
  t.depth = static_cast<int>(r.i64());
  t.parent_url = r.str();
  t.attempt = static_cast<int>(r.i64());
  t.seed_host = r.str();
  t.lane = static_cast<int>(r.i64());
  t.report_start = r.u8() != 0;
  r.done();
  return t;
}

void Outgoing::page(const Page& page) {
  const auto& p = page.record;
  const size_t at = begin_frame(FrameKind::page);
  Writer w(bytes_);
  // seq first, for page_seq(); what came with the task stays behind (see decode_page()).
  w.i64(p.seq);
  w.str(p.final_url);
  w.i64(p.status);
  w.u8(static_cast<uint8_t>(p.error));
  w.str(p.error_message);
  w.str(p.content_type);
  w.str(p.charset);
  w.i64(p.wire_bytes);
  w.i64(p.body_bytes);
  w.opt_i64(p.text_bytes);
  w.opt_str(p.title);
  w.opt_i64(p.link_count);
  w.i64(p.attempts);
  w.i64(p.redirects);
  w.f64(p.timings.dns_ms);
  w.f64(p.timings.connect_ms);
  w.f64(p.timings.tls_ms);
  w.f64(p.timings.ttfb_ms);
  w.f64(p.timings.total_ms);
  w.f64(p.timings.queue_ms);
  w.str(p.worker);
  w.f64(p.fetched_at);
  w.str(p.http_version);
  w.str(p.server_ip);
  w.str(p.etag);
  w.str(p.last_modified);
  w.str(p.body_hash);
  w.u8(p.not_modified ? 1 : 0);
  w.i64(p.connections.opened);
  w.i64(p.connections.tls_full);
  w.i64(p.connections.tls_resumed);
  w.u8(page.body_kept ? 1 : 0);
  w.i64(page.retry_after_s);
  // The body goes last, as a length here and the bytes from the Page itself when written.
  w.i64(static_cast<int64_t>(page.body.size()));
  end_frame(at, page.body.size());
  if (!page.body.empty()) bodies_.push_back({bytes_.size(), page.body});
}

int64_t page_seq(std::string_view payload) {
  return Reader(payload).i64();
}

Page decode_page(std::string_view payload, UrlTask&& sent) {
  Reader r(payload);
  Page page;
  auto& p = page.record;
  p.seq = r.i64();
  if (p.seq != sent.seq)
    throw std::runtime_error("malformed frame: a page for URL " + std::to_string(p.seq) +
                             " decoded with task " + std::to_string(sent.seq));
  p.final_url = r.str();
  p.status = static_cast<long>(r.i64());
  const uint8_t category = r.u8();
  p.error = category < kErrorCategories ? static_cast<ErrorCategory>(category) : ErrorCategory::other;
  p.error_message = r.str();
  p.content_type = r.str();
  p.charset = r.str();
  p.wire_bytes = r.i64();
  p.body_bytes = r.i64();
  p.text_bytes = r.opt_i64();
  p.title = r.opt_str();
  p.link_count = r.opt_i64();
  p.attempts = static_cast<int>(r.i64());
  p.redirects = static_cast<int>(r.i64());
  p.timings.dns_ms = r.f64();
  p.timings.connect_ms = r.f64();
  p.timings.tls_ms = r.f64();
  p.timings.ttfb_ms = r.f64();
  p.timings.total_ms = r.f64();
  p.timings.queue_ms = r.f64();
  p.worker = r.str();
  p.fetched_at = r.f64();
  p.http_version = r.str();
  p.server_ip = r.str();
  p.etag = r.str();
  p.last_modified = r.str();
  p.body_hash = r.str();
  p.not_modified = r.u8() != 0;
  p.connections.opened = static_cast<int>(r.i64());
  p.connections.tls_full = static_cast<int>(r.i64());
  p.connections.tls_resumed = static_cast<int>(r.i64());
  page.body_kept = r.u8() != 0;
  page.retry_after_s = r.i64();
  page.body = r.str();
  r.done();
  // Only now, once nothing can throw: a worker that sent garbage is buried with the tasks it held
  // whole, this one included.
  take_task_fields(page, std::move(sent));
  // The wait for a parser starts when the parent hands the page on, not when the worker sent it.
  page.enqueued_at = std::chrono::steady_clock::now();
  return page;
}

void Outgoing::started(int64_t seq, std::chrono::steady_clock::time_point at) {
  const size_t header_at = begin_frame(FrameKind::started);
  Writer w(bytes_);
  w.i64(seq);
  w.i64(std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count());
  end_frame(header_at, 0);
}

std::string Outgoing::str() const {
  std::string all;
  size_t from = 0;
  for (const Body& b : bodies_) {
    all.append(bytes_, from, b.after - from);
    all.append(b.bytes);
    from = b.after;
  }
  all.append(bytes_, from);
  return all;
}

bool Outgoing::write_to(int fd) {
  pieces_.clear();
  const auto add = [&](const char* data, size_t n) {
    if (n > 0) pieces_.push_back({const_cast<char*>(data), n});
  };
  size_t from = 0;
  for (const Body& b : bodies_) {
    add(bytes_.data() + from, b.after - from);
    add(b.bytes.data(), b.bytes.size());
    from = b.after;
  }
  add(bytes_.data() + from, bytes_.size() - from);
  const bool written = write_all(fd, pieces_);
  bytes_.clear();
  bodies_.clear();
  return written;
}

std::pair<int64_t, std::chrono::steady_clock::time_point> decode_started(std::string_view payload) {
  Reader r(payload);
  const int64_t seq = r.i64();
  const std::chrono::steady_clock::time_point at{std::chrono::nanoseconds(r.i64())};
  r.done();
  return {seq, at};
}

void FrameBuffer::make_room(size_t n) {
  if (begin_ == end_) {
    begin_ = end_ = 0;
    // A buffer a big page made big is not kept for the small frames that follow.
    if (capacity_ > kKeptBytes && capacity_ > n) {
      data_.reset();
      capacity_ = 0;
    }
  }
  if (capacity_ - end_ >= n) return;
  const size_t live = end_ - begin_;
  if (live + n <= capacity_) {
    std::memmove(data_.get(), data_.get() + begin_, live);
  } else {
    const size_t grown = std::max(live + n, 2 * capacity_);
    auto bigger = std::make_unique_for_overwrite<char[]>(grown);
    if (live > 0) std::memcpy(bigger.get(), data_.get() + begin_, live);
    data_ = std::move(bigger);
    capacity_ = grown;
  }
  begin_ = 0;
  end_ = live;
}

std::pair<uint32_t, uint32_t> FrameBuffer::header() const {
  uint32_t fields[2];
  std::memcpy(fields, data_.get() + begin_, sizeof fields);
  return {fields[0], fields[1]};
}

std::span<char> FrameBuffer::room() {
  size_t want = kMinRoom;
  if (end_ - begin_ >= kHeaderBytes) {
    const size_t frame = kHeaderBytes + std::min<size_t>(header().second, kMaxPayload);
    if (frame > end_ - begin_) want = std::clamp(frame - (end_ - begin_), kMinRoom, kMaxRoomStep);
  }
  make_room(want);
  return {data_.get() + end_, capacity_ - end_};
}

void FrameBuffer::append(std::string_view bytes) {
  make_room(bytes.size());
  if (!bytes.empty()) std::memcpy(data_.get() + end_, bytes.data(), bytes.size());
  end_ += bytes.size();
}

std::optional<Frame> FrameBuffer::next() {
  const size_t available = end_ - begin_;
  if (available < kHeaderBytes) return std::nullopt;
  const auto [kind, length] = header();
  if (kind < 1 || kind > 4 || length > kMaxPayload)
    throw std::runtime_error("malformed frame header (kind " + std::to_string(kind) + ", length " +
                             std::to_string(length) + ")");
  if (available - kHeaderBytes < length) return std::nullopt;
  Frame f{static_cast<FrameKind>(kind), std::string_view(data_.get() + begin_ + kHeaderBytes, length)};
  begin_ += kHeaderBytes + length;
  return f;
}

}  // namespace crawl::ipc
