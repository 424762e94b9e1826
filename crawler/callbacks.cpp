#include "crawler/callbacks.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/thread_name.hpp"
#include "common/usage_error.hpp"

namespace crawl {

CallbackPool::CallbackPool(int threads, size_t max_backlog) : max_backlog_(std::max<size_t>(max_backlog, 1)) {
  for (int i = 0; i < std::max(threads, 1); ++i) threads_.emplace_back([this] { work(); });
}

CallbackPool::~CallbackPool() {
  drain();
}

void CallbackPool::submit(std::function<void()> task) {
  std::unique_lock lock(mutex_);
  has_room_.wait(lock, [&] { return tasks_.size() < max_backlog_; });
  tasks_.push_back(std::move(task));
  has_work_.notify_one();
}

void CallbackPool::drain() {
  {
    std::lock_guard lock(mutex_);
    if (closing_ && threads_.empty()) return;
    closing_ = true;
  }
  has_work_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::string CallbackPool::first_failure() const {
  std::lock_guard lock(mutex_);
  return first_failure_;
}

void CallbackPool::work() {
  name_this_thread("crawl-callback");
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      has_work_.wait(lock, [&] { return closing_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // closing and nothing left
      task = std::move(tasks_.front());
      tasks_.pop_front();
      has_room_.notify_one();
    }
    // A user's callback may throw; it must not take the pool (or the run) down with it.
    try {
      task();
    } catch (const std::exception& e) {
      if (failures_.fetch_add(1) == 0) {
        std::lock_guard lock(mutex_);
        first_failure_ = e.what();
      }
    }
  }
}

namespace {

std::string extension_for(const std::string& content_type) {
  auto starts = [&](const char* p) { return content_type.rfind(p, 0) == 0; };
  if (starts("text/html") || starts("application/xhtml")) return "html";
  if (starts("text/plain")) return "txt";
  if (starts("application/json")) return "json";
  if (starts("text/css")) return "css";
  if (starts("application/xml") || starts("text/xml")) return "xml";
  if (starts("image/png")) return "png";
  if (starts("image/jpeg")) return "jpg";
  return "bin";
}

}  // namespace

PageCallback make_jsonl_writer(const std::string& path) {
  struct Sink {
    std::mutex mutex;
    std::FILE* file = nullptr;
    bool owned = false;
    ~Sink() {
      if (owned) std::fclose(file);
    }
  };
  auto sink = std::make_shared<Sink>();
  if (path == "-") {
    sink->file = stdout;
  } else {
    sink->file = std::fopen(path.c_str(), "w");
    if (!sink->file)
      throw UsageError("cannot write --jsonl file '" + path + "': " + std::strerror(errno) +
                       " (give a writable path, or '-' for stdout)");
    sink->owned = true;
  }
  return [sink](const storage::PageRecord& r, std::string_view) {
    nlohmann::json j = {{"seq", r.seq},
                        {"source", r.source},
                        {"line", r.line},
                        {"input", r.input},
                        {"url", r.url},
                        {"final_url", r.final_url},
                        {"status", r.status},
                        {"error", r.error.empty() ? nlohmann::json() : nlohmann::json(r.error)},
                        {"error_message", r.error_message},
                        {"content_type", r.content_type},
                        {"wire_bytes", r.wire_bytes},
                        {"body_bytes", r.body_bytes},
                        {"text_bytes", r.text_bytes ? nlohmann::json(*r.text_bytes) : nlohmann::json()},
                        {"title", r.title ? nlohmann::json(*r.title) : nlohmann::json()},
                        {"link_count", r.link_count ? nlohmann::json(*r.link_count) : nlohmann::json()},
                        {"depth", r.depth},
                        {"redirects", r.redirects},
                        {"total_ms", r.timings.total_ms},
                        {"worker", r.worker}};
    // Titles come from the web: replace invalid UTF-8 rather than throw.
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line.push_back('\n');
    std::lock_guard lock(sink->mutex);
    std::fwrite(line.data(), 1, line.size(), sink->file);
    std::fflush(sink->file);
  };
}

PageCallback make_body_saver(const std::string& dir, std::shared_ptr<std::atomic<int64_t>> run_id) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    throw UsageError("cannot create --save-bodies directory '" + dir + "': " + ec.message());
  return [dir, run_id](const storage::PageRecord& r, std::string_view body) {
    if (r.fetched_at <= 0 || r.body_bytes == 0 || body.empty()) return;
    // The name is built from numbers only: a URL never becomes a path.
    const std::string path = dir + "/" + std::to_string(run_id->load()) + "-" + std::to_string(r.seq) + "." +
                             extension_for(r.content_type);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
    size_t done = 0;
    while (done < body.size()) {
      ssize_t w = ::write(fd, body.data() + done, body.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        int err = errno;
        ::close(fd);
        throw std::runtime_error("cannot write " + path + ": " + std::strerror(err));
      }
      done += static_cast<size_t>(w);
    }
    ::close(fd);
  };
}

}  // namespace crawl
