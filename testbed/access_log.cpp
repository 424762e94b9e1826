#include "testbed/access_log.hpp"

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/usage_error.hpp"

namespace crawl::testbed {
namespace {

constexpr size_t kFlushThreshold = 64 * 1024;

}  // namespace

AccessLog::AccessLog(const std::string& path) : file_(std::fopen(path.c_str(), "w")) {
  if (!file_)
    throw UsageError("--log: cannot open '" + path + "' for writing (" + std::strerror(errno) +
                     "); give a file in a writable directory");
}

AccessLog::~AccessLog() {
  flush();
  std::fclose(file_);
}

void AccessLog::write(const LogEntry& entry) {
  nlohmann::json line = {
      {"target", std::string(entry.target)}, {"host", std::string(entry.host)}, {"status", entry.status},
      {"body_bytes", entry.body_bytes},      {"wire_bytes", entry.wire_bytes},  {"title", nullptr}};
  if (entry.title) line["title"] = std::string(*entry.title);
  // Targets are whatever clients sent; `replace` keeps invalid UTF-8 from throwing.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text += '\n';
  std::lock_guard lock(mutex_);
  pending_ += text;
  if (pending_.size() >= kFlushThreshold) flush_locked();
}

void AccessLog::flush() {
  std::lock_guard lock(mutex_);
  flush_locked();
}

void AccessLog::flush_locked() {
  if (pending_.empty()) return;
  std::fwrite(pending_.data(), 1, pending_.size(), file_);
  std::fflush(file_);
  pending_.clear();
}

}  // namespace crawl::testbed
