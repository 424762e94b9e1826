#include "urls/reader.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/usage_error.hpp"
#include "urls/url.hpp"

namespace crawl::urls {
namespace {

constexpr size_t kMaxLine = 8192;
constexpr size_t kBufferBytes = 64 * 1024;

void fill(UrlLine& out, std::string_view text, bool truncated) {
  out.input.assign(text);
  out.url.clear();
  out.error.clear();
  if (truncated) {
    out.input += "…";
    out.error = "line longer than 8 KiB";
    return;
  }
  auto n = normalise(text);
  if (n.ok())
    out.url = std::move(n.url);
  else
    out.error = std::move(n.error);
}

}  // namespace

std::string_view trim_line(std::string_view s) {
  const char* ws = " \t\r\n\v\f";
  auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

int64_t count_url_lines(const std::string& path, std::stop_token stop) {
  // O_NONBLOCK: opening a named pipe would otherwise wait for its writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return -1;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return -1;
  }
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  std::vector<char> buffer(1 << 20);
  int64_t urls = 0;
  int64_t line = 1;
  size_t column = 0;     // bytes of the line seen so far
  bool decided = false;  // its first character that is not white space was seen
  for (;;) {
    if (stop.stop_requested()) {
      ::close(fd);
      return -1;
    }
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return -1;
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      const char c = buffer[static_cast<size_t>(i)];
      if (c == '\n') {
        ++line;
        column = 0;
        decided = false;
        continue;
      }
      const size_t at = column++;
      if (decided) continue;
      if (line == 1 && at < kBom.size() && c == kBom[at]) continue;  // a UTF-8 byte order mark
      if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') continue;
      decided = true;
      if (c != '#') ++urls;
    }
  }
  ::close(fd);
  return urls;
}

// One list. Read with read(2) through a buffer of our own rather than stdio, so that a read that
// would block on a pipe can wait on the interrupt too, and the offset of each line is known.
struct UrlReader::Source {
  std::string name;
  int fd = -1;
  bool owned = false;
  bool regular = false;  // a regular file: reads never block, so no poll()
  int64_t line = 0;      // lines read
  int64_t consumed = 0;  // bytes read up to the end of line `line`
  // Where the last URL line returned by next() ends (blank and comment lines after it are not
  // counted until a URL line follows them, or the end of the file).
  int64_t returned_line = 0;
  int64_t returned_bytes = 0;
  int64_t size = -1;
  int64_t mtime_ns = 0;
  bool finished = false;
  bool eof = false;
  bool skipped = false;  // SourceStart::skip
  char buffer[kBufferBytes];
  size_t pos = 0, len = 0;
  ~Source() {
    if (owned && fd >= 0) ::close(fd);
  }
};

UrlReader::UrlReader(const ReaderInputs& inputs) : literal_urls_(inputs.urls) {
  bool stdin_used = false;
  auto start_of = [&](size_t position) {
    return position < inputs.starts.size() ? inputs.starts[position] : SourceStart{};
  };
  for (const auto& name : inputs.files) {
    auto s = std::make_unique<Source>();
    s->name = name;
    const SourceStart start = start_of(files_.size());
    if (start.skip) {
      s->eof = true;
      s->skipped = true;
      files_.push_back(std::move(s));
      continue;
    }
    if (name == "-") {
      if (stdin_used) throw UsageError("'-' (standard input) is given twice: give it once");
      stdin_used = true;
      s->fd = STDIN_FILENO;
    } else {
      const size_t index = files_.size();
      const std::string& path = index < inputs.paths.size() ? inputs.paths[index] : name;
      s->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (s->fd < 0)
        throw UsageError("cannot read URL list '" + name + "': " + std::strerror(errno) +
                         " (give a readable file, '-' for stdin, or --url URL)");
      s->owned = true;
    }
    struct stat st {};
    if (fstat(s->fd, &st) == 0) {
      if (S_ISDIR(st.st_mode))
        throw UsageError(
            "cannot read URL list '" + name +
            "': it is a directory (give a file with one URL per line, '-' for stdin, or --url URL)");
      if (S_ISREG(st.st_mode)) {
        s->regular = true;
        s->size = static_cast<int64_t>(st.st_size);
        s->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
      }
    }
    if (start.line > 0) {
      if (!s->regular || ::lseek(s->fd, static_cast<off_t>(start.bytes), SEEK_SET) < 0)
        throw UsageError("cannot read URL list '" + name + "' from line " + std::to_string(start.line + 1) +
                         ": it is not a regular file any more");
      s->line = s->returned_line = start.line;
      s->consumed = s->returned_bytes = start.bytes;
    }
    files_.push_back(std::move(s));
  }
  const SourceStart url_start = start_of(inputs.files.size());
  skip_urls_ = url_start.skip;
  url_index_ =
      static_cast<size_t>(std::min<int64_t>(url_start.line, static_cast<int64_t>(literal_urls_.size())));
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error(std::string("eventfd failed: ") + std::strerror(errno));
}

UrlReader::~UrlReader() {
  ::close(wake_fd_);
}

void UrlReader::interrupt() {
  interrupted_.store(true);
  const uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

bool UrlReader::fill_buffer(Source& s) {
  s.pos = s.len = 0;
  if (s.eof) return false;
  for (;;) {
    if (interrupted()) return false;
    if (!s.regular) {
      // A pipe or a terminal may have nothing to read for a long time: wait on it and on the
      // interrupt together.
      pollfd fds[2] = {{.fd = s.fd, .events = POLLIN}, {.fd = wake_fd_, .events = POLLIN}};
      int ready = poll(fds, 2, 0);
      if (ready == 0) {
        if (before_wait_) before_wait_();
        ready = poll(fds, 2, -1);
      }
      if (ready < 0) {
        if (errno == EINTR) continue;
        s.eof = true;
        return false;
      }
      if (fds[1].revents) return false;
    }
    const ssize_t n = ::read(s.fd, s.buffer, kBufferBytes);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      s.eof = true;  // an I/O error ends the list like its end would; what was read has its rows
      return false;
    }
    if (n == 0) {
      s.eof = true;
      return false;
    }
    s.len = static_cast<size_t>(n);
    return true;
  }
}

bool UrlReader::read_line(Source& s, bool& truncated) {
  line_.clear();
  truncated = false;
  bool any = false;
  int64_t bytes = 0;
  for (;;) {
    if (s.pos == s.len && !fill_buffer(s)) {
      if (interrupted()) return false;  // a partial line is left unread
      break;
    }
    const char* start = s.buffer + s.pos;
    const size_t avail = s.len - s.pos;
    const void* nl = std::memchr(start, '\n', avail);
    const size_t take = nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) : avail;
    any = true;
    const size_t room = kMaxLine + 1 - std::min(line_.size(), kMaxLine + 1);
    line_.append(start, std::min(take, room));
    if (take > room) truncated = true;
    s.pos += take;
    bytes += static_cast<int64_t>(take);
    if (nl) {
      ++s.pos;
      ++bytes;
      break;
    }
  }
  if (!any) return false;
  if (line_.size() > kMaxLine) truncated = true;
  ++s.line;
  s.consumed += bytes;
  return true;
}

bool UrlReader::next(UrlLine& out) {
  while (file_index_ < files_.size()) {
    if (interrupted()) return false;
    Source& s = *files_[file_index_];
    bool truncated = false;
    if (s.skipped) {
      ++file_index_;
      continue;
    }
    if (!read_line(s, truncated)) {
      if (interrupted()) return false;
      s.finished = true;
      s.returned_line = s.line;
      s.returned_bytes = s.consumed;
      if (s.owned) ::close(s.fd);
      s.owned = false;
      if (on_source_end_) on_source_end_(static_cast<int>(file_index_), s.line, s.consumed);
      ++file_index_;
      continue;
    }
    std::string_view text = line_;
    if (s.line == 1 && text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 BOM
    text = trim_line(text);
    if (text.empty() || text.front() == '#') continue;
    if (truncated) text = text.substr(0, std::min(text.size(), kMaxLine));
    out.seq = seq_++;
    out.source = s.name;
    out.line = s.line;
    out.position = static_cast<int>(file_index_);
    out.mark = s.line;
    out.bytes_end = s.consumed;
    out.rereadable = s.regular;
    s.returned_line = s.line;
    s.returned_bytes = s.consumed;
    fill(out, text, truncated);
    return true;
  }
  while (!skip_urls_ && url_index_ < literal_urls_.size()) {
    if (interrupted()) return false;
    std::string_view text = trim_line(literal_urls_[url_index_++]);
    if (text.empty()) continue;
    out.seq = seq_++;
    out.source = "--url";
    out.line = 0;
    out.position = static_cast<int>(files_.size());
    out.mark = static_cast<int64_t>(url_index_);
    out.bytes_end = 0;
    out.rereadable = true;
    fill(out, text, text.size() > kMaxLine);
    return true;
  }
  // Only once the last value has been handed on and its caller has dealt with it.
  if (!skip_urls_ && !urls_end_reported_ && !literal_urls_.empty() && !interrupted()) {
    urls_end_reported_ = true;
    if (on_source_end_) on_source_end_(static_cast<int>(files_.size()), static_cast<int64_t>(url_index_), 0);
  }
  return false;
}

std::vector<SourcePosition> UrlReader::positions() const {
  std::vector<SourcePosition> out;
  for (const auto& s : files_)
    out.push_back({.source = s->name,
                   .lines = s->returned_line,
                   .bytes = s->returned_bytes,
                   .size = s->size,
                   .mtime_ns = s->mtime_ns,
                   .finished = s->finished});
  if (!literal_urls_.empty())
    out.push_back({.source = "--url",
                   .lines = static_cast<int64_t>(url_index_),
                   .finished = url_index_ == literal_urls_.size()});
  return out;
}

}  // namespace crawl::urls
