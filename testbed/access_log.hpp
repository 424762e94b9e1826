// The --log file: one JSON line per request the testbed answered.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace crawl::testbed {

struct LogEntry {
  std::string_view target;  // as received, query included
  std::string_view host;    // the Host header as received (empty when there was none)
  int status = 0;           // 0: no status line was sent (/reset, /hang)
  uint64_t body_bytes = 0;  // body bytes written, as encoded, without chunk framing
  uint64_t wire_bytes = 0;  // everything written for this response
  std::optional<std::string_view> title;
};

class AccessLog {
 public:
  // Throws crawl::UsageError when `path` cannot be opened for writing.
  explicit AccessLog(const std::string& path);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Any thread. Lines are buffered; flush() writes them out.
  void write(const LogEntry& entry);
  void flush();

 private:
  void flush_locked();

  std::mutex mutex_;
  std::FILE* file_ = nullptr;
  std::string pending_;
};

}  // namespace crawl::testbed
