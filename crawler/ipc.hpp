// The wire format between the parent and its worker processes: length-prefixed frames over a
// stream socket. A frame is an 8-byte header (kind, payload length) followed by the payload; a page
// frame carries the whole body, so it can be many megabytes. Internal to crawler/.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crawler/page.hpp"

namespace crawl::ipc {

enum class FrameKind : uint32_t {
  task = 1,     // parent → worker: a URL to fetch
  page = 2,     // worker → parent: the fetched page
  stop = 3,     // parent → worker: stop fetching (the run was interrupted)
  started = 4,  // worker → parent: a task's request went out (UrlTask::report_start)
};

inline constexpr size_t kHeaderBytes = 8;
// Far above any page --max-size allows, far below what a corrupt header would claim.
inline constexpr uint32_t kMaxPayload = 1u << 30;

// Frames on their way out, several to a write. Each frame's header and fields are encoded straight
// into one buffer; a page's body is not copied at all but written from the Page itself (writev),
// which must stay as it is until write_to() returns.
class Outgoing {
 public:
  void task(const UrlTask& task);
  // What the worker learned about the page. What came with its task (source, line, input, url,
  // depth, parent_url, seed_host) stays behind: the parent still holds the task (decode_page()).
  void page(const Page& page);
  // The steady clock is CLOCK_MONOTONIC, one clock for every process on the machine, so a worker's
  // time means the same in the parent.
  void started(int64_t seq, std::chrono::steady_clock::time_point at);
  void stop();

  bool empty() const { return bytes_.empty(); }
  // Writes every frame to a blocking descriptor, retrying on EINTR and short writes, and empties
  // this whether or not it succeeded. False when the peer is gone.
  bool write_to(int fd);
  // What write_to() would write, as one string.
  std::string str() const;

 private:
  size_t begin_frame(FrameKind kind);
  void end_frame(size_t header_at, size_t external_bytes);
  std::string bytes_;
  struct Body {
    size_t after;  // written after bytes_[0, after)
    std::string_view bytes;
  };
  std::vector<Body> bodies_;
  std::vector<iovec> pieces_;  // write_to()'s, kept so a sender that writes again allocates nothing
};

// Throws std::runtime_error on a truncated or malformed payload.
UrlTask decode_task(std::string_view payload);
// The URL a page frame is for, so the parent can find the task it sent.
int64_t page_seq(std::string_view payload);
// The page, with the fields its task gave it taken from `sent`, the task the parent sent for it.
Page decode_page(std::string_view payload, UrlTask&& sent);
std::pair<int64_t, std::chrono::steady_clock::time_point> decode_started(std::string_view payload);

struct Frame {
  FrameKind kind;
  std::string_view payload;  // into the FrameBuffer it came from: see FrameBuffer::next()
};

// Collects bytes as they arrive and cuts them into frames. Bytes are received straight into it
// (room(), then commit()), and a frame's payload is read where it lies: from the socket to the
// decoded Page, a body is copied once in user space.
class FrameBuffer {
 public:
  FrameBuffer() = default;
  FrameBuffer(const FrameBuffer&) = delete;
  FrameBuffer& operator=(const FrameBuffer&) = delete;
  FrameBuffer(FrameBuffer&&) = default;
  FrameBuffer& operator=(FrameBuffer&&) = default;

  // Free space at the end for bytes about to be received, then commit() what was written there. At
  // least 64 KiB; once a frame's header is in, room for the rest of that frame, so a big page
  // arrives in place instead of being grown into again and again. A header's claim is believed up
  // to 64 MiB at a time (far above the default --max-size): a damaged one costs no more than that,
  // and next() refuses it.
  std::span<char> room();
  void commit(size_t n) { end_ += n; }
  void append(std::string_view bytes);
  // The next complete frame, if all of it has arrived. Its payload stays valid until the next
  // room() or append(), so frames are decoded before more bytes are taken in. Throws
  // std::runtime_error on a header no peer of ours would send.
  std::optional<Frame> next();
  bool empty() const { return begin_ == end_; }
  size_t capacity() const { return capacity_; }

 private:
  // The kind and payload length the header at the front claims, as sent; kHeaderBytes must be in.
  std::pair<uint32_t, uint32_t> header() const;
  void make_room(size_t n);
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0, begin_ = 0, end_ = 0;
};

}  // namespace crawl::ipc
