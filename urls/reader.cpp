#include "urls/reader.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "common/usage_error.hpp"
#include "urls/url.hpp"

namespace crawl::urls {
namespace {

constexpr size_t kMaxLine = 8192;

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n\v\f";
  auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

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

UrlReader::UrlReader(const ReaderInputs& inputs) : literal_urls_(inputs.urls) {
  bool stdin_used = false;
  for (const auto& name : inputs.files) {
    OpenFile f;
    f.name = name;
    if (name == "-") {
      if (stdin_used) throw UsageError("'-' (standard input) is given twice: give it once");
      stdin_used = true;
      f.file = stdin;
    } else {
      f.file = std::fopen(name.c_str(), "rb");
      if (!f.file) {
        int err = errno;
        for (auto& o : files_)
          if (o.owned) std::fclose(o.file);
        throw UsageError("cannot read URL list '" + name + "': " + std::strerror(err) +
                         " (give a readable file, '-' for stdin, or --url URL)");
      }
      f.owned = true;
      // fopen opens a directory without complaint and reading it then fails at once, which would
      // look like an empty list and a run of 0 URLs.
      struct stat st {};
      if (::fstat(::fileno(f.file), &st) == 0 && S_ISDIR(st.st_mode)) {
        std::fclose(f.file);
        for (auto& o : files_)
          if (o.owned) std::fclose(o.file);
        throw UsageError(
            "cannot read URL list '" + name +
            "': it is a directory (give a file with one URL per line, '-' for stdin, or --url URL)");
      }
    }
    files_.push_back(f);
  }
}

UrlReader::~UrlReader() {
  for (auto& f : files_)
    if (f.owned) std::fclose(f.file);
}

bool UrlReader::read_line(OpenFile& f, bool& truncated) {
  line_.clear();
  truncated = false;
  int c;
  bool any = false;
  // getc_unlocked: this reader is the only user of the stream, and per-character locking would
  // dominate the cost of reading a 10-million-line list.
  while ((c = getc_unlocked(f.file)) != EOF) {
    any = true;
    if (c == '\n') break;
    if (line_.size() < kMaxLine + 1)
      line_.push_back(static_cast<char>(c));
    else
      truncated = true;
  }
  if (!any) return false;
  if (line_.size() > kMaxLine) truncated = true;
  ++f.line;
  return true;
}

bool UrlReader::next(UrlLine& out) {
  while (file_index_ < files_.size()) {
    OpenFile& f = files_[file_index_];
    bool truncated = false;
    if (!read_line(f, truncated)) {
      if (f.owned) std::fclose(f.file);
      f.owned = false;
      ++file_index_;
      continue;
    }
    std::string_view text = line_;
    if (f.line == 1 && text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 BOM
    text = trim(text);
    if (text.empty() || text.front() == '#') continue;
    if (truncated) text = text.substr(0, std::min(text.size(), kMaxLine));
    out.seq = seq_++;
    out.source = f.name;
    out.line = f.line;
    fill(out, text, truncated);
    return true;
  }
  while (url_index_ < literal_urls_.size()) {
    std::string_view text = trim(literal_urls_[url_index_++]);
    if (text.empty()) continue;
    out.seq = seq_++;
    out.source = "--url";
    out.line = 0;
    fill(out, text, text.size() > kMaxLine);
    return true;
  }
  return false;
}

}  // namespace crawl::urls
