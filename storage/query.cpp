#include "storage/query.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <variant>

#include "common/error_category.hpp"
#include "common/process_identity.hpp"
#include "common/usage_error.hpp"
#include "common/utf8.hpp"
#include "storage/database.hpp"
#include "storage/sqlite_connection.hpp"

namespace crawl::storage {
namespace {

struct Report {
  std::string_view name;
  std::string_view description;
  std::string_view sql;
};

// Each report reads one run: ?1 is its id. Timings are rounded here rather than in the formatter so
// csv and json carry the same numbers the table shows. In the summary the run's own ok/failed totals
// win over counts of pages, since the crawler decides which errors are failures (a skipped duplicate
// is not); while the run goes on, counting pages is the best there is. Timings are over fetches
// that ended: one a stop or a dead worker cut short (interrupted, worker_crash) has a start and a
// time so far, which is no latency. {skipped} and {cut_short} stand for the lists of error names
// is_failure and cuts_fetch_short pick out (report_sql fills them in).
constexpr std::array kReports = {
    Report{"summary", "Run totals: pages, failures, bytes, latency, throughput", R"sql(
SELECT r.id AS run, {run_status} AS status, r.mode,
       r.processes || 'x' || r.threads || 'x' || r.fibers AS layout, r.concurrency,
       count(p.id) AS pages,
       coalesce(r.pages_ok, count(p.id) - count(p.error)) AS ok,
       coalesce(r.pages_failed, (SELECT count(*) FROM failed_pages f WHERE f.run_id = r.id)) AS failed,
       round(coalesce(sum(p.wire_bytes), 0) / 1e6, 2) AS wire_mb,
       round(coalesce(sum(p.body_bytes), 0) / 1e6, 2) AS body_mb,
       round(avg(p.total_ms) FILTER (WHERE p.fetched_at IS NOT NULL
                                   AND (p.error IS NULL OR p.error NOT IN ({cut_short}))), 1) AS avg_ms,
       round(max(p.total_ms), 1) AS max_ms,
       round(r.wall_s, 2) AS wall_s, round(r.pages_per_s, 1) AS pages_per_s,
       round(r.p50_ms, 1) AS p50_ms, round(r.p90_ms, 1) AS p90_ms, round(r.p99_ms, 1) AS p99_ms
FROM runs r LEFT JOIN pages p ON p.run_id = r.id
WHERE r.id = ?1
GROUP BY r.id
)sql"},
    Report{"slowest", "The 20 slowest fetched pages by total time, with each phase", R"sql(
SELECT seq, url, status, error, round(total_ms, 1) AS total_ms, round(ttfb_ms, 1) AS ttfb_ms,
       round(dns_ms, 1) AS dns_ms, round(connect_ms, 1) AS connect_ms, round(tls_ms, 1) AS tls_ms,
       round(queue_ms, 1) AS queue_ms, body_bytes, worker
FROM pages
WHERE run_id = ?1 AND fetched_at IS NOT NULL AND (error IS NULL OR error NOT IN ({cut_short}))
ORDER BY total_ms DESC, seq
LIMIT 20
)sql"},
    Report{"errors", "Failed pages by error category, with a first example", R"sql(
SELECT e.error, e.pages, round(100.0 * e.pages / (SELECT count(*) FROM pages WHERE run_id = ?1), 1) AS pct,
       e.first_seq,
       (SELECT input FROM pages WHERE run_id = ?1 AND seq = e.first_seq LIMIT 1) AS example_input,
       (SELECT error_message FROM pages WHERE run_id = ?1 AND seq = e.first_seq LIMIT 1) AS example_message
FROM (SELECT error, count(*) AS pages, min(seq) AS first_seq
      FROM pages WHERE run_id = ?1 AND error IS NOT NULL GROUP BY error) e
ORDER BY e.pages DESC, e.error
)sql"},
    Report{"largest", "The 20 largest bodies (after decoding)", R"sql(
SELECT seq, url, status, content_type, wire_bytes, body_bytes, text_bytes, link_count, title
FROM pages
WHERE run_id = ?1
ORDER BY body_bytes DESC, seq
LIMIT 20
)sql"},
    Report{"statuses", "Pages by HTTP status (empty: no response)", R"sql(
SELECT status, count(*) AS pages, round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct,
       round(avg(total_ms), 1) AS avg_ms
FROM pages
WHERE run_id = ?1
GROUP BY status
ORDER BY status NULLS FIRST
)sql"},
    Report{"timings", "Average and slowest time of each phase over fetched pages", R"sql(
SELECT count(*) AS pages,
       round(avg(dns_ms), 2) AS avg_dns_ms, round(avg(connect_ms), 2) AS avg_connect_ms,
       round(avg(tls_ms), 2) AS avg_tls_ms, round(avg(ttfb_ms), 2) AS avg_ttfb_ms,
       round(avg(total_ms), 2) AS avg_total_ms, round(avg(queue_ms), 2) AS avg_queue_ms,
       round(max(total_ms), 1) AS max_total_ms, round(max(queue_ms), 1) AS max_queue_ms
FROM pages
WHERE run_id = ?1 AND fetched_at IS NOT NULL AND (error IS NULL OR error NOT IN ({cut_short}))
)sql"},
    Report{
        "hosts",
        "Per host: pages, failures by category, robots.txt refusals, p50/p99 time, bytes, politeness waits",
        R"sql(
WITH p AS (
  SELECT host, error, total_ms, body_bytes, fetched_at,
         error IS NOT NULL AND error NOT IN ({skipped}) AS failed
  FROM pages WHERE run_id = ?1 AND host IS NOT NULL),
timed AS (
  SELECT host, total_ms, row_number() OVER (PARTITION BY host ORDER BY total_ms) AS k,
         count(*) OVER (PARTITION BY host) AS n
  FROM p WHERE fetched_at IS NOT NULL AND (error IS NULL OR error NOT IN ({cut_short}))),
percentiles AS (
  SELECT host, min(CASE WHEN k >= 0.5 * n THEN total_ms END) AS p50_ms,
         min(CASE WHEN k >= 0.99 * n THEN total_ms END) AS p99_ms
  FROM timed GROUP BY host),
failures AS (
  SELECT host, group_concat(error || ' ' || pages, ', ') AS failures
  FROM (SELECT host, error, count(*) AS pages FROM p WHERE failed
        GROUP BY host, error ORDER BY host, count(*) DESC, error) f
  GROUP BY host)
SELECT p.host, count(*) AS pages, sum(CASE WHEN p.error IS NULL THEN 1 ELSE 0 END) AS ok,
       sum(CASE WHEN p.failed THEN 1 ELSE 0 END) AS failed, f.failures,
       sum(CASE WHEN p.error = 'robots' THEN 1 ELSE 0 END) AS robots,
       round(t.p50_ms, 1) AS p50_ms, round(t.p99_ms, 1) AS p99_ms,
       round(sum(p.body_bytes) / 1e6, 2) AS body_mb, round(coalesce(h.held_s, 0), 2) AS held_s
FROM p LEFT JOIN percentiles t ON t.host = p.host LEFT JOIN failures f ON f.host = p.host
     LEFT JOIN run_hosts h ON h.run_id = ?1 AND h.host = p.host
GROUP BY p.host, f.failures, t.p50_ms, t.p99_ms, h.held_s
ORDER BY pages DESC, p.host
)sql"},
    Report{"changes",
           "What changed since an earlier run (--against, default the run before): new, gone, status, "
           "content, title",
           R"sql(
WITH now AS (
  SELECT url, status, error, title, body_hash FROM pages
  WHERE run_id = ?1 AND url IS NOT NULL
    AND (error IS NULL OR error NOT IN ('duplicate', 'interrupted', 'excluded', 'max_pages'))),
before AS (
  SELECT url, status, error, title, body_hash FROM pages
  WHERE run_id = ?2 AND url IS NOT NULL
    AND (error IS NULL OR error NOT IN ('duplicate', 'interrupted', 'excluded', 'max_pages'))),
compared AS (
  SELECT CASE WHEN b.url IS NULL THEN 'new'
              WHEN n.url IS NULL THEN 'gone'
              ELSE substr(CASE WHEN coalesce(CAST(n.status AS TEXT), n.error)
                                    IS DISTINCT FROM coalesce(CAST(b.status AS TEXT), b.error)
                               THEN ',status' ELSE '' END ||
                          CASE WHEN n.body_hash <> b.body_hash THEN ',content' ELSE '' END ||
                          CASE WHEN n.title <> b.title THEN ',title' ELSE '' END, 2)
         END AS change,
         coalesce(n.url, b.url) AS url,
         coalesce(CAST(b.status AS TEXT), b.error) AS was, coalesce(CAST(n.status AS TEXT), n.error) AS now,
         b.title AS title_before, n.title AS title
  FROM now n FULL OUTER JOIN before b ON b.url = n.url)
SELECT change, url, was, now, title_before, title
FROM compared
WHERE change <> ''
ORDER BY CASE WHEN change = 'new' THEN 0 WHEN change = 'gone' THEN 1 ELSE 2 END, change, url
)sql"},
    Report{"broken-links",
           "Each failed URL with each page linking to it (links are kept when following; a list line "
           "shows as file:line)",
           R"sql(
SELECT url, status, error, referrer, message FROM broken_links WHERE run_id = ?1 ORDER BY url, referrer
)sql"},
    Report{"workers", "Pages, failures and busy time per worker", R"sql(
SELECT worker, count(*) AS pages,
       sum(CASE WHEN error IS NOT NULL AND error NOT IN ({skipped}) THEN 1 ELSE 0 END) AS failed,
       round(avg(CASE WHEN error IS NULL OR error NOT IN ({cut_short}) THEN total_ms END), 1) AS avg_ms,
       round(sum(total_ms) / 1000, 2) AS fetch_s
FROM pages
WHERE run_id = ?1 AND worker IS NOT NULL
GROUP BY worker
ORDER BY pages DESC, worker
)sql"},
};

// While a run is going, its totals are still NULL: count its pages instead.
// {status} is the stored status, or, in a database that records who runs each run, the status a
// run whose process is gone really has.
// done_pct is the share of the run's URLs that have their final row. An `interrupted` row is not
// final (`crawl resume` fetches its URL again). {unread} estimates the URL lines of a list file not
// read yet, from the bytes left after the last line done and the bytes a line took so far; it is
// NULL when nothing of such a list was done yet, and done_pct with it, for there is nothing to
// estimate from. Links not found yet, and what is left of a pipe, cannot be known and are not counted.
constexpr std::string_view kListRuns = R"sql(
SELECT id AS run, started_at, status, mode, layout, concurrency, urls, pending,
       CASE WHEN urls + pending + unread > 0 THEN round(100.0 * done / (urls + pending + unread), 1) END
         AS done_pct,
       ok, failed, sessions, workers, wall_s, pages_per_s, p50_ms, p99_ms, bench, crawled
FROM (
SELECT id, started_at, {status} AS status, mode, bench_id AS bench, {crawled} AS crawled,
       processes || 'x' || threads || 'x' || fibers AS layout, concurrency,
       CASE WHEN status = 'completed' THEN urls
            ELSE (SELECT count(*) FROM pages WHERE run_id = runs.id) END AS urls,
       {pending} AS pending,
       CASE WHEN status = 'completed' THEN urls
            ELSE (SELECT count(*) FROM pages WHERE run_id = runs.id
                    AND (error IS NULL OR error <> 'interrupted')) END AS done,
       CASE WHEN status = 'completed' THEN 0 ELSE {unread} END AS unread,
       CASE WHEN status = 'completed' THEN pages_ok
            ELSE (SELECT count(*) FROM pages WHERE run_id = runs.id AND error IS NULL) END AS ok,
       CASE WHEN status = 'completed' THEN pages_failed
            ELSE (SELECT count(*) FROM failed_pages WHERE run_id = runs.id) END AS failed,
       {sessions} AS sessions, CASE WHEN {status} = 'running' THEN {workers} ELSE 0 END AS workers,
       round(wall_s, 2) AS wall_s, round(pages_per_s, 1) AS pages_per_s,
       round(p50_ms, 1) AS p50_ms, round(p99_ms, 1) AS p99_ms
FROM runs
ORDER BY id DESC
LIMIT ?1
) AS listed
ORDER BY id DESC
)sql";

constexpr std::string_view kReadOnlyRefusal =
    "the database is opened read-only by `crawl query`: this statement would change it";

// Table cells longer than this many characters are cut, so one long URL or title does not push
// every other column off the screen.
constexpr size_t kMaxCellWidth = 60;

struct Blob {
  int64_t bytes;
};
using Cell = std::variant<std::monostate, int64_t, double, std::string, Blob>;

// Shortest text that reads back as the same double; a trailing ".0" keeps reals recognisable.
std::string format_real(double value) {
  std::array<char, 64> buffer{};
  auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  std::string text(buffer.data(), ec == std::errc() ? end : buffer.data());
  if (text.find_first_of(".en") == std::string::npos) text += ".0";  // 'n': inf, nan
  return text;
}

std::string blob_text(const Blob& blob) {
  return "(blob: " + std::to_string(blob.bytes) + " bytes)";
}

std::string cell_text(const Cell& cell) {
  struct {
    std::string operator()(std::monostate) const { return ""; }
    std::string operator()(int64_t value) const { return std::to_string(value); }
    std::string operator()(double value) const { return format_real(value); }
    std::string operator()(const std::string& value) const { return value; }
    std::string operator()(const Blob& blob) const { return blob_text(blob); }
  } visitor;
  return std::visit(visitor, cell);
}

// Columns the text takes on a terminal (it is valid UTF-8 by then: see printable).
size_t display_width(std::string_view text) {
  size_t width = 0;
  for (size_t i = 0; i < text.size();) {
    const Utf8Sequence sequence = utf8_sequence_at(text, i);
    width += static_cast<size_t>(terminal_width(sequence.code_point));
    i += sequence.bytes;
  }
  return width;
}

// Text from the web need not be UTF-8, and control characters (newlines in titles, tabs, escape
// sequences, bidirectional overrides) would break the table's lines and alignment or act on the
// terminal: valid UTF-8, each control a space.
std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const Utf8Sequence sequence = utf8_sequence_at(text, i);
    if (!sequence.valid)
      out += "\xEF\xBF\xBD";  // U+FFFD, as valid_utf8 writes it
    else if (is_terminal_control(sequence.code_point))
      out += ' ';
    else
      out.append(text, i, sequence.bytes);
    i += sequence.bytes;
  }
  return out;
}

// At most `width` columns, the last one "…" when something was cut; never splits a code point.
std::string fit(std::string_view text, size_t width) {
  if (display_width(text) <= width) return std::string(text);
  size_t used = 0;
  size_t end = 0;
  while (end < text.size()) {
    const Utf8Sequence sequence = utf8_sequence_at(text, end);
    const auto columns = static_cast<size_t>(terminal_width(sequence.code_point));
    if (used + columns > width - 1) break;
    used += columns;
    end += sequence.bytes;
  }
  return std::string(text.substr(0, end)) + "…";
}

class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual void columns(const std::vector<std::string>& names) = 0;
  virtual void row(const std::vector<Cell>& cells) = 0;
  virtual void end() = 0;
};

// Needs every row before it can print the first (column widths), so it holds the result in memory;
// the other formats stream.
class TableSink : public RowSink {
 public:
  explicit TableSink(std::ostream& out) : out_(out) {}

  void columns(const std::vector<std::string>& names) override {
    header_.clear();
    for (const auto& name : names) header_.push_back(fit(printable(name), kMaxCellWidth));
    has_number_.assign(names.size(), false);
    has_text_.assign(names.size(), false);
  }

  void row(const std::vector<Cell>& cells) override {
    std::vector<std::string> texts;
    texts.reserve(cells.size());
    for (size_t i = 0; i < cells.size(); ++i) {
      const Cell& cell = cells[i];
      if (std::holds_alternative<int64_t>(cell) || std::holds_alternative<double>(cell))
        has_number_[i] = true;
      else if (!std::holds_alternative<std::monostate>(cell))
        has_text_[i] = true;
      texts.push_back(fit(printable(cell_text(cell)), kMaxCellWidth));
    }
    rows_.push_back(std::move(texts));
  }

  void end() override {
    if (header_.empty()) return;  // a statement without result columns
    std::vector<size_t> widths;
    for (const auto& name : header_) widths.push_back(display_width(name));
    for (const auto& row : rows_)
      for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));

    print_line(header_, widths);
    std::vector<std::string> rule;
    for (size_t width : widths) rule.emplace_back(width, '-');
    print_line(rule, widths);
    for (const auto& row : rows_) print_line(row, widths);
    out_ << '(' << rows_.size() << (rows_.size() == 1 ? " row)\n" : " rows)\n");
  }

 private:
  void print_line(const std::vector<std::string>& cells, const std::vector<size_t>& widths) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) line += "  ";
      std::string padding(widths[i] - display_width(cells[i]), ' ');
      // Numbers line up on their last digit; a column is numeric when it holds nothing else.
      if (has_number_[i] && !has_text_[i])
        line += padding + cells[i];
      else
        line += cells[i] + padding;
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out_ << line << '\n';
  }

  std::ostream& out_;
  std::vector<std::string> header_;
  std::vector<bool> has_number_, has_text_;
  std::vector<std::vector<std::string>> rows_;
};

// RFC 4180 quoting; lines end in "\n" as Unix tools expect. NULL is an empty field. A field with a
// comma, a quote or any control character (CR, LF, tab, ...) is quoted, so a reader never sees a
// raw control byte outside quotes. CSV has no escape for NUL, which SQLite text may hold and most
// CSV readers refuse: it is written as U+FFFD (json and jsonl keep it, as \u0000).
class CsvSink : public RowSink {
 public:
  explicit CsvSink(std::ostream& out) : out_(out) {}

  void columns(const std::vector<std::string>& names) override {
    std::vector<std::string_view> fields(names.begin(), names.end());
    print_line(fields);
  }

  void row(const std::vector<Cell>& cells) override {
    std::vector<std::string> texts;
    texts.reserve(cells.size());
    for (const Cell& cell : cells) texts.push_back(valid_utf8(cell_text(cell)));
    std::vector<std::string_view> fields(texts.begin(), texts.end());
    print_line(fields);
  }

  void end() override {}

 private:
  void print_line(const std::vector<std::string_view>& fields) {
    if (fields.empty()) return;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) out_ << ',';
      std::string_view field = fields[i];
      // C1 controls (U+0080-U+009F) are 0xC2 then 0x80-0x9F in UTF-8.
      bool plain = true;
      for (size_t k = 0; k < field.size() && plain; ++k) {
        const auto c = static_cast<unsigned char>(field[k]);
        plain = c != ',' && c != '"' && c >= 0x20 && c != 0x7f &&
                !(c == 0xC2 && k + 1 < field.size() && static_cast<unsigned char>(field[k + 1]) <= 0x9F);
      }
      if (plain) {
        out_ << field;
        continue;
      }
      out_ << '"';
      for (char c : field) {
        if (c == '"')
          out_ << "\"\"";
        else if (c == '\0')
          out_ << "\xEF\xBF\xBD";  // U+FFFD
        else
          out_ << c;
      }
      out_ << '"';
    }
    out_ << '\n';
  }

  std::ostream& out_;
};

// One object per row with the columns in query order: an array, or one object per line (jsonl).
class JsonSink : public RowSink {
 public:
  enum class Layout { array, lines };
  JsonSink(std::ostream& out, Layout layout) : out_(out), layout_(layout) {}

  // An object holds each name once: a repeated column (`select p.status, r.status` over a join)
  // is named status_2, status_3, ... as it comes, where CSV and the table simply show it twice.
  void columns(const std::vector<std::string>& names) override {
    names_.clear();
    std::set<std::string> taken(names.begin(), names.end());
    std::set<std::string> used;
    for (const std::string& name : names) {
      std::string unique = name;
      // Skipping the names another column of the query has.
      for (int n = 2; used.count(unique) > 0 || (unique != name && taken.count(unique) > 0); ++n)
        unique = name + "_" + std::to_string(n);
      used.insert(unique);
      names_.push_back(unique);
    }
  }

  void row(const std::vector<Cell>& cells) override {
    nlohmann::ordered_json object = nlohmann::ordered_json::object();
    for (size_t i = 0; i < cells.size(); ++i) object[names_[i]] = to_json(cells[i]);
    // Titles and messages come from the web and need not be valid UTF-8; replace rather than throw.
    std::string text = object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    if (layout_ == Layout::lines) {
      out_ << text << '\n';
    } else {
      out_ << (rows_ == 0 ? "[\n" : ",\n") << text;
    }
    ++rows_;
  }

  void end() override {
    if (layout_ == Layout::array) out_ << (rows_ == 0 ? "[]\n" : "\n]\n");
  }

 private:
  static nlohmann::ordered_json to_json(const Cell& cell) {
    struct {
      nlohmann::ordered_json operator()(std::monostate) const { return nullptr; }
      nlohmann::ordered_json operator()(int64_t value) const { return value; }
      nlohmann::ordered_json operator()(double value) const { return value; }
      nlohmann::ordered_json operator()(const std::string& value) const { return value; }
      nlohmann::ordered_json operator()(const Blob& blob) const { return blob_text(blob); }
    } visitor;
    return std::visit(visitor, cell);
  }

  std::ostream& out_;
  Layout layout_;
  std::vector<std::string> names_;
  size_t rows_ = 0;
};

std::unique_ptr<RowSink> make_sink(Format format, std::ostream& out) {
  switch (format) {
    case Format::table:
      return std::make_unique<TableSink>(out);
    case Format::csv:
      return std::make_unique<CsvSink>(out);
    case Format::json:
      return std::make_unique<JsonSink>(out, JsonSink::Layout::array);
    case Format::jsonl:
      return std::make_unique<JsonSink>(out, JsonSink::Layout::lines);
  }
  throw std::logic_error("unknown Format");
}

// The tables and views a query can read, for the hint after a failed statement: read from the
// database, so it names the views a user added too; the schema's own list if that read fails.
std::string queryable_names(const Database& db) {
  std::string names;
  try {
    Statement statement = db.prepare(
        db.engine() == Engine::sqlite
            ? "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' "
              "ORDER BY type, rowid"
            : "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND "
              "table_name <> 'crawl_schema' ORDER BY table_type, table_name");
    while (statement.step()) names += (names.empty() ? "" : ", ") + statement.text(0);
  } catch (const StorageError&) {
    // The hint is only a hint: the statement's own failure is what gets reported.
  }
  return names.empty() ? "runs, pages, links, benches, bench_skips" : names;
}

// Failures that come from the file or the machine, not from the statement: the database's problem
// (exit 1). Every other failure of a statement that passed the read-only check is the SQL's
// (syntax, unknown names, a value too big, a type or range error in a function): the user's to fix
// (exit 2), with one message whatever the engine's code for it.
bool is_database_failure(const StatementError& e) {
  if (!e.sqlstate.empty()) {
    // Connection (08), resources (53), operator intervention (57), system (58) and internal (XX)
    // errors; lock timeouts (55P03).
    const std::string_view cls = std::string_view(e.sqlstate).substr(0, 2);
    return cls == "08" || cls == "53" || cls == "57" || cls == "58" || cls == "XX" || e.sqlstate == "55P03";
  }
  switch (e.sqlite_code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
    case SQLITE_PERM:
    case SQLITE_FULL:
    case SQLITE_PROTOCOL:
    case SQLITE_INTERNAL:
    case SQLITE_AUTH:
      return true;
    default:
      return false;
  }
}

std::string read_only_refusal(const Database& db) {
  return std::string(kReadOnlyRefusal) + (db.engine() == Engine::sqlite
                                              ? "; use the sqlite3 shell to modify the database"
                                              : "; use psql to modify the database");
}

[[noreturn]] void throw_sql_failure(const Database& db, const StatementError& e) {
  std::string message = e.engine_message;
  std::replace_if(
      message.begin(), message.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  // The database is open already: what cannot be opened is the one an ATTACH names, and that is
  // the statement's doing ("unable to open database: FILE").
  if ((e.sqlite_code & 0xff) == SQLITE_CANTOPEN && message.starts_with("unable to open database:"))
    throw UsageError("ATTACH opens only a database that exists (" + message + ")");
  if (is_database_failure(e)) throw StorageError("cannot read " + db.path() + ": " + e.what());
  if ((e.sqlite_code & 0xff) == SQLITE_READONLY || e.sqlstate == "25006")
    throw UsageError(read_only_refusal(db) + " (" + message + ")");
  if (e.sqlstate == "42601" && message.find("multiple commands") != std::string::npos)
    throw UsageError("crawl query runs one SQL statement at a time: remove what follows the first ';'");
  const std::string schema_hint = db.engine() == Engine::sqlite ? "`sqlite3 " + db.path() + " .schema`"
                                                                : "`psql '" + db.path() + "' -c '\\d pages'`";
  // A query never writes, so an older file is read as it is; a report may need what it lacks.
  int version = latest_schema_version();
  try {
    version = db.schema_version();
  } catch (const StorageError&) {
    // Only a hint.
  }
  const std::string older = version < latest_schema_version()
                                ? "; this database is at schema version " + std::to_string(version) +
                                      " and this crawl's is " + std::to_string(latest_schema_version()) +
                                      ": the next `crawl run` with it upgrades it"
                                : "";
  throw UsageError("the SQL cannot run: " + message + " (it can read " + queryable_names(db) + "; " +
                   schema_hint + " shows their columns" + older + ")");
}

// The same for a failure SQLite reports while preparing. `rc` is the failing call's result: on a
// read-only WAL connection SQLite reports a bad column name from prepare as SQLITE_SCHEMA, after its
// internal retry, rather than SQLITE_ERROR.
[[noreturn]] void throw_sqlite_prepare_failure(const Database& db, sqlite3* handle, int rc) {
  const std::string message = sqlite3_errmsg(handle);
  throw_sql_failure(db, StatementError(db.last_error(), message, rc, ""));
}

// Exactly one statement that only reads.
Statement prepare_single_read(const Database& db, std::string_view sql) {
  if (sql.find_first_not_of(" \t\r\n;") == std::string_view::npos)
    throw UsageError("no SQL statement given: pass one such as \"SELECT * FROM runs\", or --report NAME");
  sqlite3* handle = sqlite_handle(db.connection());
  // PostgreSQL's connection is read-only for every transaction, and the server refuses more than
  // one statement in a prepared one: both are reported when the statement runs.
  if (!handle) return db.prepare(sql);

  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(handle, sql.data(), static_cast<int>(sql.size()), &raw, &tail);
  Statement statement = adopt_sqlite_statement(handle, raw);
  if (rc != SQLITE_OK) throw_sqlite_prepare_failure(db, handle, rc);
  if (!statement)
    throw UsageError("no SQL statement given: pass one such as \"SELECT * FROM runs\", or --report NAME");

  std::string_view rest(tail, static_cast<size_t>(sql.data() + sql.size() - tail));
  sqlite3_stmt* raw_next = nullptr;
  rc = sqlite3_prepare_v2(handle, rest.data(), static_cast<int>(rest.size()), &raw_next, nullptr);
  Statement next = adopt_sqlite_statement(handle, raw_next);
  if (rc != SQLITE_OK || next)
    throw UsageError("crawl query runs one SQL statement at a time: remove what follows the first ';'");

  // Refused before running, so nothing is attempted; SQLITE_READONLY from a step is the backstop.
  if (!statement.read_only()) throw UsageError(read_only_refusal(db));
  return statement;
}

// Runs the statement's first step, turning its failure into the user's or the database's error.
bool step(const Database& db, Statement& statement) {
  try {
    return statement.step();
  } catch (const StatementError& e) {
    throw_sql_failure(db, e);
  }
}

Cell read_cell(const Statement& statement, int column) {
  switch (statement.column_type(column)) {
    case ColumnType::integer:
      return statement.integer(column);
    case ColumnType::real:
      return statement.real(column);
    case ColumnType::text:
      return statement.text(column);
    case ColumnType::blob:
      return Blob{statement.bytes(column)};
    case ColumnType::null:
      return std::monostate{};
  }
  return std::monostate{};
}

void write_rows(const Database& db, Statement& statement, RowSink& sink) {
  // PostgreSQL knows the columns once the statement has run: run it first.
  bool has_row = step(db, statement);
  const int column_count = statement.column_count();
  std::vector<std::string> names;
  for (int i = 0; i < column_count; ++i) {
    std::string name = statement.column_name(i);
    names.push_back(name.empty() ? "?" : name);
  }
  sink.columns(names);
  std::vector<Cell> cells(static_cast<size_t>(column_count));
  for (; has_row; has_row = step(db, statement)) {
    for (int i = 0; i < column_count; ++i) cells[static_cast<size_t>(i)] = read_cell(statement, i);
    sink.row(cells);
  }
  sink.end();
}

// The first column of the first row, if it is not NULL.
std::optional<int64_t> query_integer(const Database& db, std::string_view sql,
                                     std::optional<int64_t> parameter) {
  Statement statement = prepare_single_read(db, sql);
  if (parameter) statement.bind(1, *parameter);
  if (!step(db, statement) || statement.is_null(0)) return std::nullopt;
  return statement.integer(0);
}

int64_t resolve_run(const Database& db, std::optional<int64_t> requested) {
  if (requested) {
    if (!query_integer(db, "SELECT id FROM runs WHERE id = ?1", requested))
      throw UsageError("there is no run " + std::to_string(*requested) + " in " + db.path() +
                       ": `crawl runs --db " + db.path() + "` lists the runs");
    return *requested;
  }
  auto latest = query_integer(db, "SELECT max(id) FROM runs", std::nullopt);
  if (!latest) throw UsageError("there are no runs in " + db.path() + " yet: run `crawl run` first");
  return *latest;
}

void bind_run_ids(const Database& db, Statement& statement, std::optional<int64_t> run_id,
                  std::optional<int64_t> against) {
  const int parameters = statement.parameter_count();
  if (parameters == 0) {
    if (run_id) throw UsageError("--run applies to reports and to SQL that uses ?1 for the run id");
    if (against) throw UsageError("--against applies to the changes report and to SQL that uses ?2");
    return;
  }
  if (parameters > 2)
    throw UsageError(
        "crawl query binds two parameters, ?1 to the run id (--run, default the latest run) and ?2 to "
        "the run compared against (--against, default the run before); this SQL uses " +
        std::to_string(parameters));
  if (parameters == 1 && against)
    throw UsageError("--against applies to the changes report and to SQL that uses ?2");
  const int64_t run = resolve_run(db, run_id);
  statement.bind(1, run);
  if (parameters == 1) return;
  if (against) {
    statement.bind(2, resolve_run(db, against));
    return;
  }
  auto earlier = query_integer(db, "SELECT max(id) FROM runs WHERE id < ?1", run);
  if (!earlier)
    throw UsageError("run " + std::to_string(run) + " is the first in " + db.path() +
                     ": there is no earlier run to compare it with; pass --against RUN");
  statement.bind(2, *earlier);
}

// crawl_run_status(status, host, pid, process_start): 'crashed' for a run stored as running whose
// process is no longer alive on this machine, else `status`. Registered on every SQLite connection
// that `crawl query` and `crawl runs` open, so users' own queries can use it too.
void run_status_function(sqlite3_context* context, int, sqlite3_value** args) {
  auto text = [&](int i) {
    auto p = reinterpret_cast<const char*>(sqlite3_value_text(args[i]));
    return p ? std::string(p) : std::string();
  };
  std::string status = text(0);
  if (status == "running") {
    ProcessIdentity who{.host = text(1), .pid = sqlite3_value_int64(args[2]), .start = text(3)};
    if (is_running(who) == false) status = "crashed";
  }
  sqlite3_result_text(context, status.c_str(), static_cast<int>(status.size()), SQLITE_TRANSIENT);
}

// PostgreSQL cannot ask this machine whether a process lives: the runs stored as running whose
// process is gone from this machine are found here and named in the statement.
std::string status_of_gone_runs(const Database& db, const std::string& alias) {
  std::string gone;
  for (int64_t id : runs_whose_process_is_gone(db)) gone += (gone.empty() ? "" : ", ") + std::to_string(id);
  return gone.empty()
             ? alias + "status"
             : "CASE WHEN " + alias + "id IN (" + gone + ") THEN 'crashed' ELSE " + alias + "status END";
}

// A run's status as users are shown it, by `crawl runs` and the summary report alike: 'crashed' for
// a run stored as running whose process is gone. `alias` qualifies the runs table's columns ("r.").
// (A shared run's status depends on its other workers too: the SQL function cannot tell.)
std::string run_status_sql(const Database& db, const std::string& alias) {
  if (db.schema_version() < 5) return alias + "status";
  if (db.engine() == Engine::sqlite && db.schema_version() < 8)
    return "crawl_run_status(" + alias + "status, " + alias + "host, " + alias + "pid, " + alias +
           "process_start)";
  return status_of_gone_runs(db, alias);
}

Database open_for_reading(const std::string& path) {
  Database db = Database::open(path, {.access = Access::read_only});
  if (sqlite3* handle = sqlite_handle(db.connection()))
    sqlite3_create_function(handle, "crawl_run_status", 4, SQLITE_UTF8, nullptr, &run_status_function,
                            nullptr, nullptr);
  return db;
}

}  // namespace

Format parse_format(std::string_view name) {
  if (name == "table") return Format::table;
  if (name == "csv") return Format::csv;
  if (name == "json") return Format::json;
  if (name == "jsonl") return Format::jsonl;
  throw UsageError("--format '" + std::string(name) + "' is not a format: use table, csv, json or jsonl");
}

std::vector<ReportInfo> reports() {
  std::vector<ReportInfo> list;
  for (const Report& report : kReports)
    list.push_back({.name = std::string(report.name), .description = std::string(report.description)});
  return list;
}

namespace {

// "'interrupted', 'worker_crash'": the stored names of the error categories `pick` chooses, for SQL.
template <class Pick>
std::string quoted_names(Pick pick) {
  std::string names;
  for (size_t i = 1; i < kErrorCategories; ++i) {
    const auto category = static_cast<ErrorCategory>(i);
    if (pick(category)) names += (names.empty() ? "'" : ", '") + std::string(name_of(category)) + "'";
  }
  return names;
}

void replace_all(std::string& text, std::string_view placeholder, std::string_view with) {
  for (size_t at; (at = text.find(placeholder)) != std::string::npos;)
    text.replace(at, placeholder.size(), with);
}

std::string with_category_lists(std::string_view sql) {
  static const std::string skipped = quoted_names([](ErrorCategory c) { return !is_failure(c); });
  static const std::string cut_short = quoted_names(cuts_fetch_short);
  std::string out(sql);
  replace_all(out, "{skipped}", skipped);
  replace_all(out, "{cut_short}", cut_short);
  return out;
}

}  // namespace

std::string report_sql(std::string_view name) {
  std::string known;
  for (const Report& report : kReports) {
    if (report.name == name) return with_category_lists(report.sql);
    known += (known.empty() ? "" : ", ") + std::string(report.name);
  }
  throw UsageError("there is no report '" + std::string(name) + "': use one of " + known +
                   " (crawl query --list-reports describes them)");
}

void print_reports(Format format, std::ostream& out) {
  auto sink = make_sink(format, out);
  sink->columns({"name", "description"});
  for (const Report& report : kReports)
    sink->row({std::string(report.name), std::string(report.description)});
  sink->end();
}

void run_query(const std::string& db_path, const std::string& sql, Format format, std::ostream& out,
               std::optional<int64_t> run_id, std::optional<int64_t> against) {
  Database db = open_for_reading(db_path);
  // {run_status} (the summary report's) is the run's status as `crawl runs` shows it.
  std::string resolved = sql;
  replace_all(resolved, "{run_status}", run_status_sql(db, "r."));
  Statement statement = prepare_single_read(db, resolved);
  bind_run_ids(db, statement, run_id, against);
  auto sink = make_sink(format, out);
  write_rows(db, statement, *sink);
}

void print_rows(const std::vector<std::string>& columns, const std::vector<std::vector<Value>>& rows,
                Format format, std::ostream& out) {
  auto sink = make_sink(format, out);
  sink->columns(columns);
  std::vector<Cell> cells;
  for (const auto& row : rows) {
    cells.clear();
    for (const Value& value : row) std::visit([&cells](const auto& v) { cells.emplace_back(v); }, value);
    sink->row(cells);
  }
  sink->end();
}

void list_runs(const std::string& db_path, Format format, std::ostream& out, int limit) {
  if (limit < 1) throw UsageError("--limit must be at least 1");
  Database db = open_for_reading(db_path);
  std::string sql(kListRuns);
  replace_all(sql, "{status}", run_status_sql(db, ""));
  // URLs taken into a run that have no row yet (what `crawl resume` has left to do); an unfinished
  // run's rows are counted as they are.
  const bool durable = db.schema_version() >= 6;
  sql.replace(sql.find("{pending}"), 9,
              durable ? "(SELECT count(*) FROM frontier WHERE run_id = runs.id)" : "NULL");
  sql.replace(sql.find("{sessions}"), 10, durable ? "sessions" : "1");
  // Each list file not read to its end: the bytes after the last line done, in lines as long as
  // the lines done were on average. (lines_read and bytes_read are stored when a session ends;
  // lines_done and bytes_done as it goes.) PostgreSQL computes the sum even when min(b) = 0 picks
  // NULL, hence the nullif.
  sql.replace(sql.find("{unread}"), 8, !durable ? std::string("0") : std::string(R"sql((
  SELECT CASE WHEN count(*) = 0 THEN 0
              WHEN min(b) = 0 THEN NULL
              ELSE CAST(round(sum(CASE WHEN size > b THEN (size - b) * 1.0 * l / nullif(b, 0) ELSE 0 END)) AS INTEGER)
         END
  FROM (SELECT size, CASE WHEN lines_read > lines_done THEN lines_read ELSE lines_done END AS l,
               CASE WHEN bytes_read > bytes_done THEN bytes_read ELSE bytes_done END AS b
        FROM run_sources
        WHERE run_id = runs.id AND finished = 0 AND size > 0 AND source <> '--url') AS lists))sql"));
  // What the run crawled: its first list, or its first --url, and how many more lists and --url
  // values it had.
  sql.replace(sql.find("{crawled}"), 9, db.schema_version() < 5 ? std::string("NULL") : std::string(R"sql((
  SELECT CASE WHEN s.source = '--url'
              THEN coalesce((SELECT p.input FROM pages p WHERE p.run_id = runs.id AND p.source = '--url'
                             ORDER BY p.seq LIMIT 1), '--url')
              ELSE s.source END ||
         CASE WHEN m.more > 0 THEN ' +' || CAST(m.more AS TEXT) || ' more' ELSE '' END
  FROM run_sources s
  CROSS JOIN (SELECT count(*) - 1 + coalesce(sum(CASE WHEN source = '--url' THEN lines_read - 1 ELSE 0 END), 0)
                AS more
              FROM run_sources WHERE run_id = runs.id) AS m
  WHERE s.run_id = runs.id ORDER BY s.position LIMIT 1))sql"));
  // Sessions at work on the run now (the workers of a shared run), those whose process is gone aside.
  std::string workers = durable ? "0" : "1";
  if (durable) {
    const auto live = live_sessions(db);
    if (!live.empty()) {
      workers = "CASE id";
      for (const auto& [id, n] : live)
        workers += " WHEN " + std::to_string(id) + " THEN " + std::to_string(n);
      workers += " ELSE 0 END";
    }
  }
  sql.replace(sql.find("{workers}"), 9, workers);
  Statement statement = prepare_single_read(db, sql);
  statement.bind(1, static_cast<int64_t>(limit));
  auto sink = make_sink(format, out);
  write_rows(db, statement, *sink);
}

}  // namespace crawl::storage
