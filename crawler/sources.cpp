#include "crawler/sources.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string_view>

#include "common/text.hpp"
#include "common/usage_error.hpp"
#include "urls/url.hpp"

namespace crawl {
namespace {

UrlTask task_from(urls::UrlLine&& line) {
  UrlTask t;
  t.seq = line.seq;
  t.source = std::move(line.source);
  t.line = line.line;
  t.input = std::move(line.input);
  t.url = std::move(line.url);
  return t;
}

}  // namespace

Rereading::Rereading(const storage::ResumeState& state, const urls::ReaderInputs& inputs) {
  std::unordered_map<std::string, int> position_of;
  for (size_t i = 0; i < inputs.files.size(); ++i) position_of.emplace(inputs.files[i], static_cast<int>(i));
  const int url_position = static_cast<int>(inputs.files.size());
  // --url values have no line: a value is done as many times as its rows say, less the times it
  // comes before the mark (those are behind the mark, done for sure).
  const int64_t urls_done =
      static_cast<size_t>(url_position) < state.sources.size() ? state.sources[url_position].lines_done : 0;
  for (int64_t i = 0; i < urls_done && i < static_cast<int64_t>(inputs.urls.size()); ++i)
    if (auto v = urls::trim_line(inputs.urls[static_cast<size_t>(i)]); !v.empty())
      --url_counts_[std::string(v)];
  for (const auto& d : state.done_lines) {
    if (d.source == "--url") {
      ++url_counts_[d.input];
      continue;
    }
    auto it = position_of.find(d.source);
    if (it == position_of.end()) continue;
    lines_.insert(key(it->second, d.line));
    window_end_ = std::max(window_end_, std::pair<int, int64_t>(it->second, d.line));
  }
  for (const auto& [input, n] : url_counts_)
    if (n > 0) window_end_ = std::max(window_end_, std::pair<int, int64_t>(url_position, 0));
}

bool lists_name_https(const urls::ReaderInputs& inputs, size_t peek_bytes) {
  const auto names_https = [](std::string_view text) {
    for (size_t at = text.find("://"); at != std::string_view::npos; at = text.find("://", at + 3))
      if (at >= 5 && iequals(text.substr(at - 5, 5), "https")) return true;
    return false;
  };
  for (const std::string& url : inputs.urls)
    if (names_https(url)) return true;
  std::string head(peek_bytes, '\0');
  for (size_t i = 0; i < inputs.files.size(); ++i) {
    const std::string& path =
        i < inputs.paths.size() && !inputs.paths[i].empty() ? inputs.paths[i] : inputs.files[i];
    if (path == "-") continue;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    std::ifstream in(path, std::ios::binary);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    if (names_https(std::string_view(head.data(), static_cast<size_t>(in.gcount())))) return true;
  }
  return false;
}

void check_lists_unchanged(const urls::ReaderInputs& inputs, int64_t resume_run,
                           const std::vector<storage::SourceRecord>& sources) {
  const std::string run = "run " + std::to_string(resume_run);
  for (size_t i = 0; i < inputs.files.size() && i < sources.size(); ++i) {
    const auto& name = inputs.files[i];
    const auto& path = i < inputs.paths.size() ? inputs.paths[i] : name;
    const auto& was = sources[i];
    if (name == "-" || was.size < 0) continue;  // a pipe: not read again
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      throw UsageError("cannot resume " + run + ": its list '" + name + "' cannot be read (" +
                       std::strerror(errno) + "); put it back where it was, or start a new run");
    const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (static_cast<int64_t>(st.st_size) != was.size || mtime_ns != was.mtime_ns)
      throw UsageError("cannot resume " + run + ": its list '" + name +
                       "' has changed since the run read it (size or modification time): resuming "
                       "goes on from a line number in the file as it was; start a new run for the new list");
  }
}

void read_sources(const SourceFeed& feed) {
  auto& [reader, frontier, rows, filter, stop, batch, next_seq, ledger, store, rereading, shared] = feed;
  constexpr size_t kSeedBatch = 256;
  // Lines read whose list mark cannot move yet, because a line before them is still under way
  // (about 40 bytes each): a URL that waits long (a slow host, a --delay) holds reading back
  // rather than memory growing with the list.
  constexpr size_t kMaxLedgerLines = 1'000'000;
  size_t seed_batch = batch;
  urls::UrlLine line;
  std::vector<UrlTask> seeds;
  auto flush_seeds = [&] {
    if (!seeds.empty()) frontier.add_seeds(std::exchange(seeds, {}));
    seed_batch = std::min(seed_batch * 2, kSeedBatch);
  };
  // Before the reader waits on a pipe (stdin, a FIFO), what it has read goes on: a slow pipe never
  // holds lines back, and a fast one is still read in batches.
  reader.set_before_wait([&] { flush_seeds(); });
  reader.set_on_source_end(
      [&](int position, int64_t lines, int64_t bytes) { ledger.source_end(position, lines, bytes); });
  bool window_read = rereading.empty_window();
  if (window_read) frontier.window_read();
  while (!stop.load(std::memory_order_relaxed) && reader.next(line)) {
    if (!window_read && rereading.window_read(line)) {
      window_read = true;
      frontier.window_read();
    }
    if (rereading.done(line)) continue;
    if (line.rereadable && ledger.held() >= kMaxLedgerLines) {
      // What waits here may be what holds the marks back: it goes on first.
      flush_seeds();
      if (!ledger.wait_for_room(kMaxLedgerLines, [&] { return stop.load(std::memory_order_relaxed); })) break;
    }
    const bool rereadable = line.rereadable;
    const int position = line.position;
    const int64_t mark = line.mark, bytes_end = line.bytes_end;
    std::string error = std::move(line.error);
    UrlTask task = task_from(std::move(line));
    // Lines and the links the frontier takes in share one numbering.
    task.seq = next_seq.fetch_add(1, std::memory_order_relaxed);
    if (rereadable) ledger.read(task.seq, position, mark, bytes_end);
    if (shared) {
      if (!error.empty() || !filter.wanted(task.url)) {
        Page row = !error.empty()
                       ? unfetched_page(task, ErrorCategory::bad_url, std::move(error))
                       : unfetched_page(task, ErrorCategory::excluded, "left out by --include/--exclude");
        rows.store_listed(std::move(row.record));
      } else {
        shared->submit(storage::ListedUrl{.url = {.seq = task.seq,
                                                  .source = std::move(task.source),
                                                  .line = task.line,
                                                  .input = std::move(task.input),
                                                  .url = task.url,
                                                  .seed_host = urls::host_of(task.url)}});
      }
      continue;
    }
    if (!error.empty()) {
      rows.store(unfetched_page(task, ErrorCategory::bad_url, std::move(error)).record);
    } else if (!filter.wanted(task.url)) {
      rows.store(unfetched_page(task, ErrorCategory::excluded, "left out by --include/--exclude").record);
    } else {
      if (!rereadable) {
        task.seed_host = urls::host_of(task.url);
        store.pending(task, 0, 0);
      }
      seeds.push_back(std::move(task));
    }
    if (seeds.size() >= seed_batch) flush_seeds();  // blocks while the frontier holds many URLs already
  }
  const bool read_to_end = !stop.load(std::memory_order_relaxed);
  reader.set_before_wait(nullptr);
  reader.set_on_source_end(nullptr);
  flush_seeds();
  if (shared && read_to_end) shared->submit(storage::ListsRead{});
  frontier.seeds_done();
}

}  // namespace crawl
