#include "crawler/callbacks.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/thread_name.hpp"
#include "common/units.hpp"
#include "common/usage_error.hpp"
#include "storage/database.hpp"
#include "urls/url.hpp"

namespace crawl {

void submit_page(CallbackPool* pool, const Callbacks& callbacks, const storage::PageRecord& record,
                 std::string body) {
  if (!pool || callbacks.on_page.empty()) return;
  struct Item {
    storage::PageRecord record;
    std::string body;
  };
  auto item = std::make_shared<Item>(Item{record, std::move(body)});
  pool->submit([item, &cbs = callbacks.on_page] {
    for (const auto& cb : cbs) cb(item->record, item->body);
  });
}

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

std::string CallbackPool::output_failure() const {
  std::lock_guard lock(mutex_);
  return output_failure_;
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
    } catch (const OutputClosed&) {
      output_closed_.store(true);
    } catch (const OutputError& e) {
      failures_.fetch_add(1);
      std::lock_guard lock(mutex_);
      if (first_failure_.empty()) first_failure_ = e.what();
      if (!output_failed_.exchange(true)) output_failure_ = e.what();
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

// runs.started_at ("2026-12-02T04:01:31.123Z", storage's iso8601_utc, rounded the same way)
// without the separators a file name does not want: "20261202T040131.123Z".
std::string compact_utc(double unix_seconds) {
  double whole = std::floor(unix_seconds);
  auto seconds = static_cast<std::time_t>(whole);
  int millis = static_cast<int>(std::lround((unix_seconds - whole) * 1000));
  if (millis == 1000) {
    ++seconds;
    millis = 0;
  }
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[96];
  std::snprintf(text, sizeof text, "%04d%02d%02dT%02d%02d%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
  return text;
}

}  // namespace

namespace {

// Writes and flushes `line` (the caller holds the file's lock). A write that fails throws
// OutputError naming `what`; on stdout a closed pipe throws OutputClosed: the reader went away.
void write_line(std::FILE* file, const std::string& line, const std::string& what) {
  errno = 0;
  const bool written = std::fwrite(line.data(), 1, line.size(), file) == line.size();
  if (std::fflush(file) == 0 && written) return;
  const int err = errno;
  std::clearerr(file);
  if (file == stdout && err == EPIPE) throw OutputClosed("standard output was closed");
  throw OutputError("cannot write " + what + ": " + (err ? std::strerror(err) : "write error"));
}

}  // namespace

nlohmann::ordered_json page_object(const storage::PageRecord& r, int64_t run_id) {
  using json = nlohmann::ordered_json;
  const auto text = [](std::string_view v) { return v.empty() ? json() : json(v); };
  const auto count = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(); };
  // The timings are the table's: null for a URL never fetched.
  const auto timing = [&r](double ms) { return r.fetched_at > 0 ? json(ms) : json(); };
  return json{{"run_id", run_id},
              {"seq", r.seq},
              {"source", r.source},
              {"line", r.line},
              {"input", r.input},
              {"url", text(r.url)},
              {"final_url", text(r.final_url)},
              {"status", r.status == 0 ? json() : json(r.status)},
              {"error", text(name_of(r.error))},
              {"error_message", text(r.error_message)},
              {"content_type", text(r.content_type)},
              {"charset", text(r.charset)},
              {"wire_bytes", r.wire_bytes},
              {"body_bytes", r.body_bytes},
              {"text_bytes", count(r.text_bytes)},
              {"title", r.title ? json(*r.title) : json()},
              {"link_count", count(r.link_count)},
              {"depth", r.depth},
              {"parent_url", text(r.parent_url)},
              {"attempts", r.attempts},
              {"redirects", r.redirects},
              {"dns_ms", timing(r.timings.dns_ms)},
              {"connect_ms", timing(r.timings.connect_ms)},
              {"tls_ms", timing(r.timings.tls_ms)},
              {"ttfb_ms", timing(r.timings.ttfb_ms)},
              {"total_ms", timing(r.timings.total_ms)},
              {"queue_ms", timing(r.timings.queue_ms)},
              {"worker", text(r.worker)},
              {"fetched_at", r.fetched_at == 0 ? json() : json(storage::iso8601_utc(r.fetched_at))},
              {"host", text(urls::host_of(r.url))},
              {"http_version", text(r.http_version)},
              {"server_ip", text(r.server_ip)},
              {"etag", text(r.etag)},
              {"last_modified", text(r.last_modified)},
              {"body_hash", text(r.body_hash)},
              {"not_modified", r.not_modified ? 1 : 0}};
}

PageCallback make_jsonl_writer(const std::string& path, std::shared_ptr<const RunStamp> stamp) {
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
  return [sink, path, stamp](const storage::PageRecord& r, std::string_view) {
    const nlohmann::ordered_json j = page_object(r, stamp->run_id.load());
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line.push_back('\n');
    std::lock_guard lock(sink->mutex);
    write_line(sink->file, line,
               sink->file == stdout ? std::string("--jsonl to stdout") : "--jsonl file '" + path + "'");
  };
}

namespace {

// `text` with each control character (and DEL) as a space, and cut to `most` bytes (not inside a
// UTF-8 sequence).
std::string printable(std::string_view text, size_t most) {
  std::string out;
  out.reserve(std::min(text.size(), most));
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  if (out.size() > most) {
    size_t cut = most;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "...";
  }
  return out;
}

}  // namespace

std::string url_line(const storage::PageRecord& r, bool colour) {
  const auto paint = [colour](const std::string& text, const char* code) {
    return colour ? std::string("\033[") + code + "m" + text + "\033[0m" : text;
  };
  std::string line = printable(urls::without_password(r.url.empty() ? r.input : r.url), 2048);
  const bool skipped = r.error != ErrorCategory::none && !is_failure(r.error);
  if (skipped) return line + " " + paint("[" + std::string(name_of(r.error)) + "]", "2");
  if (r.status > 0) {
    const char* code = r.status < 300 ? "32" : r.status < 400 ? "33" : "31";
    line += " " + paint("[" + std::to_string(r.status) + "]", code);
    if (r.error != ErrorCategory::none && r.error != ErrorCategory::http_4xx &&
        r.error != ErrorCategory::http_5xx)
      line += " " + paint("[" + std::string(name_of(r.error)) + "]", "31");
    line += " [" + format_bytes(r.body_bytes) + "]";
    if (r.title && !r.title->empty()) line += " [" + printable(*r.title, 120) + "]";
    char time[32];
    std::snprintf(time, sizeof time, " [%.0f ms]", r.timings.total_ms);
    return line + time;
  }
  line += " " + paint("[" + std::string(name_of(r.error)) + "]", "31");
  if (!r.error_message.empty()) line += " [" + printable(r.error_message, 300) + "]";
  return line;
}

PageCallback make_url_printer(bool colour) {
  auto mutex = std::make_shared<std::mutex>();
  return [mutex, colour](const storage::PageRecord& r, std::string_view) {
    std::string line = url_line(r, colour);
    line.push_back('\n');
    std::lock_guard lock(*mutex);
    write_line(stdout, line, "--print-urls to stdout");
  };
}

std::string body_file_name(const RunStamp& stamp, int64_t seq, const std::string& content_type) {
  // The name is built from numbers only: a URL never becomes a path. The time is runs.started_at
  // without its separators, so that a page's file can be found from the database alone.
  return compact_utc(stamp.started_at.load()) + "-" + std::to_string(stamp.run_id.load()) + "-" +
         std::to_string(seq) + "." + extension_for(content_type);
}

PageCallback make_body_saver(const std::string& dir, std::shared_ptr<const RunStamp> stamp) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    throw UsageError("cannot create --save-bodies directory '" + dir + "': " + ec.message());
  return [dir, stamp](const storage::PageRecord& r, std::string_view body) {
    if (r.fetched_at <= 0 || r.body_bytes == 0 || body.empty()) return;
    const std::string path = dir + "/" + body_file_name(*stamp, r.seq, r.content_type);
    // O_EXCL: a file that is already there is someone else's and is never overwritten.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
      throw OutputError("cannot save a body to --save-bodies: " + path + ": " + std::strerror(errno));
    size_t done = 0;
    while (done < body.size()) {
      ssize_t w = ::write(fd, body.data() + done, body.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        int err = w < 0 ? errno : ENOSPC;
        ::close(fd);
        ::unlink(path.c_str());  // a cut-off body would pass for the page's
        throw OutputError("cannot save a body to --save-bodies: " + path + ": " + std::strerror(err));
      }
      done += static_cast<size_t>(w);
    }
    if (::close(fd) != 0) {
      int err = errno;
      ::unlink(path.c_str());
      throw OutputError("cannot save a body to --save-bodies: " + path + ": " + std::strerror(err));
    }
  };
}

}  // namespace crawl
