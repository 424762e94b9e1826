// The wire format between the parent and its worker processes: length-prefixed frames over a
// stream socket. A frame is an 8-byte header (kind, payload length) followed by the payload; a page
// frame carries the whole body, so it can be many megabytes. Internal to crawler/.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

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

// Appends one frame to `out`, so several frames can go out in one write.
void append_frame(std::string& out, FrameKind kind, std::string_view payload);

std::string encode_task(const UrlTask& task);
std::string encode_page(const Page& page);
// Throws std::runtime_error on a truncated or malformed payload.
UrlTask decode_task(std::string_view payload);
Page decode_page(std::string_view payload);
// The steady clock is CLOCK_MONOTONIC, one clock for every process on the machine, so a worker's
// time means the same in the parent.
std::string encode_started(int64_t seq, std::chrono::steady_clock::time_point at);
std::pair<int64_t, std::chrono::steady_clock::time_point> decode_started(std::string_view payload);

struct Frame {
  FrameKind kind;
  std::string payload;
};

// Collects bytes as they arrive and cuts them into frames.
class FrameBuffer {
 public:
  void append(const char* data, size_t n) { buffer_.append(data, n); }
  // The next complete frame, if all of it has arrived. Throws std::runtime_error on a header no
  // peer of ours would send.
  std::optional<Frame> next();
  bool empty() const { return consumed_ == buffer_.size(); }

 private:
  std::string buffer_;
  size_t consumed_ = 0;
};

// Writes all of `data` to a blocking descriptor, retrying on EINTR. False when the peer is gone.
bool write_all(int fd, std::string_view data);

}  // namespace crawl::ipc
