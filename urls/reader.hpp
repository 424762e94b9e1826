// Streams URL lines from files, stdin and --url values, one at a time: memory does not grow with
// the length of a list.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace crawl::urls {

struct UrlLine {
  int64_t seq = 0;     // 0-based order across all sources
  std::string source;  // file name, "-" for stdin, "--url"
  int64_t line = 0;    // 1-based line number in the file (0 for --url)
  std::string input;   // the line, trimmed (cut to 8 KiB + "…" when longer)
  std::string url;     // normalised URL when valid
  std::string error;   // why the line is not a usable URL (then `url` is empty)
};

struct ReaderInputs {
  std::vector<std::string> files;  // paths, or "-" for standard input (at most once)
  std::vector<std::string> urls;   // given with --url, read after the files
};

class UrlReader {
 public:
  // Opens every file up front so that a missing one is a usage error before anything starts
  // (throws crawl::UsageError).
  explicit UrlReader(const ReaderInputs& inputs);
  ~UrlReader();
  UrlReader(const UrlReader&) = delete;
  UrlReader& operator=(const UrlReader&) = delete;

  // The next non-blank, non-comment line, validated and normalised. False when all are read.
  bool next(UrlLine& out);

 private:
  struct OpenFile {
    std::string name;
    std::FILE* file = nullptr;
    bool owned = false;
    int64_t line = 0;
  };
  // Reads one line into `line_`, keeping at most kMaxLine bytes; false at end of file.
  bool read_line(OpenFile& f, bool& truncated);

  std::vector<OpenFile> files_;
  std::vector<std::string> literal_urls_;
  size_t file_index_ = 0;
  size_t url_index_ = 0;
  int64_t seq_ = 0;
  std::string line_;
};

}  // namespace crawl::urls
