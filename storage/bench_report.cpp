#include "storage/bench_report.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <ostream>
#include <sstream>

#include "common/usage_error.hpp"
#include "storage/database.hpp"

namespace crawl::storage {
namespace {

constexpr int kFirstVersionWithBenches = 2;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    items.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return items;
}

// Runs a statement that returns no rows; throws StorageError naming `what` when it fails.
void step_done(const Database& db, Statement& statement, std::string_view what) {
  try {
    statement.run();
  } catch (const StorageError& e) {
    throw StorageError("cannot " + std::string(what) + " in " + db.path() + ": " + e.what());
  }
}

// Steps a statement that reads; throws StorageError naming `what` when it fails.
bool step_read(const Database& db, Statement& statement, std::string_view what) {
  try {
    return statement.step();
  } catch (const StorageError& e) {
    throw StorageError("cannot read " + std::string(what) + " of " + db.path() + ": " + e.what());
  }
}

// The order rows were inserted in: SQLite's rowid; PostgreSQL has none, and its tuple ids follow
// insertion in these small tables, which are only ever appended to.
std::string_view insertion_order(const Database& db) {
  return db.engine() == Engine::sqlite ? "rowid" : "ctid";
}

// "b20261124-093700": sorts by time, reads as a date, and is safe on a command line.
std::string id_for_time(double unix_seconds) {
  auto seconds = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "b%Y%m%d-%H%M%S", &utc);
  return text;
}

bool bench_exists(const Database& db, const std::string& id) {
  Statement statement = db.prepare("SELECT 1 FROM benches WHERE id = ?1");
  statement.bind(1, std::string_view(id));
  return step_read(db, statement, "the benches");
}

// The columns read_run() reads. A read-only open does not migrate, so columns newer than the file
// are read as 0 or ''.
std::string run_columns(const Database& db) {
  const int version = db.schema_version();
  return std::string(
             "id, status, mode, concurrency, processes, threads, fibers, coalesce(urls, 0), coalesce(wall_s, "
             "0), "
             "coalesce(pages_per_s, 0), coalesce(user_s, 0), coalesce(sys_s, 0), coalesce(peak_rss_kb, 0), "
             "coalesce(voluntary_ctx, 0), coalesce(involuntary_ctx, 0), coalesce(p50_ms, 0), "
             "coalesce(p99_ms, 0), "
             "coalesce(pages_failed, 0), ") +
         (version >= 7 ? "coalesce(connections, 0), coalesce(connected_hosts, 0), " : "0, 0, ") +
         (version >= 9 ? "coalesce(parser, '')" : "''");
}

BenchRun read_run(const Statement& s) {
  BenchRun run;
  run.id = s.integer(0);
  run.status = s.text(1);
  run.mode = s.text(2);
  run.concurrency = static_cast<int>(s.integer(3));
  run.processes = static_cast<int>(s.integer(4));
  run.threads = static_cast<int>(s.integer(5));
  run.fibers = static_cast<int>(s.integer(6));
  run.urls = s.integer(7);
  run.wall_s = s.real(8);
  run.pages_per_s = s.real(9);
  run.user_s = s.real(10);
  run.sys_s = s.real(11);
  run.peak_rss_kb = s.integer(12);
  run.voluntary_ctx = s.integer(13);
  run.involuntary_ctx = s.integer(14);
  run.p50_ms = s.real(15);
  run.p99_ms = s.real(16);
  run.pages_failed = s.integer(17);
  run.connections = s.integer(18);
  run.connected_hosts = s.integer(19);
  run.parser = s.text(20);
  return run;
}

Spread spread(const std::vector<double>& values) {
  if (values.empty()) return {};
  auto [lowest, highest] = std::minmax_element(values.begin(), values.end());
  return {.median = median(values), .min = *lowest, .max = *highest};
}

template <typename Field>
double median_of(const std::vector<const BenchRun*>& runs, Field field) {
  std::vector<double> values;
  for (const BenchRun* run : runs) values.push_back(static_cast<double>(run->*field));
  return median(std::move(values));
}

template <typename Field>
std::vector<double> values_of(const std::vector<const BenchRun*>& runs, Field field) {
  std::vector<double> values;
  for (const BenchRun* run : runs) values.push_back(static_cast<double>(run->*field));
  return values;
}

double round_to(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

std::string fixed(double value, int decimals) {
  std::ostringstream text;
  text.setf(std::ios::fixed);
  text.precision(decimals);
  text << value;
  return text.str();
}

// Decimals per measure: enough to tell pairs apart without noise digits. One table shared by every
// format, so csv and json carry the numbers the table shows.
constexpr int kWallDecimals = 3;
constexpr int kCpuDecimals = 2;
constexpr int kCpuPerPageDecimals = 3;
constexpr int kMemoryDecimals = 1;
constexpr int kLatencyDecimals = 1;
constexpr int kRatioDecimals = 2;

Value measured(const BenchPair& pair, double value, int decimals) {
  if (pair.runs == 0) return std::monostate{};
  return round_to(value, decimals);
}

Value measured_count(const BenchPair& pair, double value) {
  if (pair.runs == 0) return std::monostate{};
  return static_cast<int64_t>(std::llround(value));
}

Value range_text(const BenchPair& pair, const Spread& s, int decimals) {
  if (pair.runs == 0) return std::monostate{};
  return fixed(s.min, decimals) + "–" + fixed(s.max, decimals);
}

Value note_value(const BenchPair& pair) {
  if (pair.note.empty()) return std::monostate{};
  return pair.note;
}

// Wide enough to say what happened; bench_notes() below the table says it in full.
constexpr size_t kTableNoteWidth = 40;

Value short_note_value(const BenchPair& pair) {
  if (pair.note.size() <= kTableNoteWidth) return note_value(pair);
  size_t cut = kTableNoteWidth - 1;
  while (cut > 0 && (static_cast<unsigned char>(pair.note[cut]) & 0xC0) == 0x80) --cut;  // whole characters
  return pair.note.substr(0, cut) + "…";
}

void print_heading(const BenchReport& report, std::ostream& out) {
  const BenchInfo& info = report.info;
  int64_t urls = 0;
  for (const auto& pair : report.pairs) urls = std::max(urls, pair.urls);
  out << "bench " << info.id << " (" << info.status << "): " << info.workload;
  if (urls > 0) out << ", " << urls << " URLs";
  out << ", " << info.repeat << (info.repeat == 1 ? " run" : " interleaved runs") << " per pair, started "
      << info.started_at.substr(0, 19) << " UTC\n";
}

}  // namespace

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  if (values.size() % 2 == 1) return values[middle];
  return (values[middle - 1] + values[middle]) / 2;
}

BenchReport aggregate_bench(const BenchInfo& info, const std::vector<BenchRun>& runs,
                            const std::vector<BenchSkip>& skips) {
  BenchReport report{.info = info};
  // Runs went in the order given; a reader compares along rising concurrency.
  std::vector<int> concurrencies = info.concurrencies;
  std::sort(concurrencies.begin(), concurrencies.end());
  const std::vector<std::string> parsers = info.parsers.empty() ? std::vector<std::string>{""} : info.parsers;
  for (const auto& mode : info.modes) {
    for (const auto& parser : parsers) {
      for (int concurrency : concurrencies) {
        BenchPair pair{.mode = mode, .parser = parser, .concurrency = concurrency};
        const std::string label = pair_label(mode, parser);
        std::vector<const BenchRun*> completed;
        int unfinished = 0;
        for (const BenchRun& run : runs) {
          if (run.mode != mode || run.concurrency != concurrency || (!parser.empty() && run.parser != parser))
            continue;
          if (run.status == "completed")
            completed.push_back(&run);
          else
            ++unfinished;
        }
        pair.runs = static_cast<int>(completed.size());
        if (!completed.empty()) {
          const BenchRun& first = *completed.front();
          pair.layout = std::to_string(first.processes) + "×" + std::to_string(first.threads) + "×" +
                        std::to_string(first.fibers);
          pair.urls = std::llround(median_of(completed, &BenchRun::urls));
          pair.wall_s = spread(values_of(completed, &BenchRun::wall_s));
          pair.pages_per_s = spread(values_of(completed, &BenchRun::pages_per_s));
          pair.user_s = median_of(completed, &BenchRun::user_s);
          pair.sys_s = median_of(completed, &BenchRun::sys_s);
          std::vector<double> per_page;
          for (const BenchRun* run : completed)
            if (run->urls > 0)
              per_page.push_back((run->user_s + run->sys_s) * 1000 / static_cast<double>(run->urls));
          pair.cpu_ms_per_page = median(per_page);
          pair.peak_rss_mb = median_of(completed, &BenchRun::peak_rss_kb) / 1024;
          pair.voluntary_ctx = median_of(completed, &BenchRun::voluntary_ctx);
          pair.involuntary_ctx = median_of(completed, &BenchRun::involuntary_ctx);
          pair.p50_ms = median_of(completed, &BenchRun::p50_ms);
          pair.p99_ms = median_of(completed, &BenchRun::p99_ms);
          std::vector<double> per_host;
          for (const BenchRun* run : completed)
            if (run->connected_hosts > 0)
              per_host.push_back(static_cast<double>(run->connections) /
                                 static_cast<double>(run->connected_hosts));
          pair.connections_per_host = median(per_host);
          for (const BenchRun* run : completed) pair.failed += run->pages_failed;
        }
        for (const BenchSkip& skip : skips)
          if (skip.mode == label && skip.concurrency == concurrency)
            pair.note = (completed.empty() ? "skipped: " : "stopped: ") + skip.reason;
        if (pair.note.empty() && unfinished > 0)
          pair.note = std::to_string(unfinished) + (unfinished == 1 ? " run" : " runs") + " did not complete";
        report.pairs.push_back(std::move(pair));
      }
    }
  }
  double best = 0;
  for (const auto& pair : report.pairs)
    if (pair.runs > 0 && pair.wall_s.median > 0 && (best == 0 || pair.wall_s.median < best))
      best = pair.wall_s.median;
  for (auto& pair : report.pairs)
    if (pair.runs > 0 && best > 0) pair.vs_best = pair.wall_s.median / best;
  return report;
}

std::string pair_label(std::string_view mode, std::string_view parser) {
  return parser.empty() ? std::string(mode) : std::string(mode) + "/" + std::string(parser);
}

std::vector<std::string> series_labels(const BenchInfo& info) {
  std::vector<std::string> labels;
  for (const auto& mode : info.modes) {
    if (info.parsers.empty()) labels.push_back(mode);
    for (const auto& parser : info.parsers) labels.push_back(pair_label(mode, parser));
  }
  return labels;
}

std::vector<std::string> bench_notes(const BenchReport& report) {
  std::vector<std::string> notes;
  for (const auto& label : series_labels(report.info)) {
    std::vector<std::pair<std::string, std::string>> by_note;  // note, its concurrencies; first seen first
    for (const auto& pair : report.pairs) {
      if (pair_label(pair.mode, pair.parser) != label || pair.note.empty()) continue;
      auto same =
          std::find_if(by_note.begin(), by_note.end(), [&](const auto& n) { return n.first == pair.note; });
      if (same == by_note.end())
        by_note.emplace_back(pair.note, std::to_string(pair.concurrency));
      else
        same->second += ", " + std::to_string(pair.concurrency);
    }
    for (const auto& [note, concurrencies] : by_note)
      notes.push_back(label + " -c " + concurrencies + ": " + note);
  }
  return notes;
}

BenchRecorder::BenchRecorder(std::unique_ptr<Database> db, BenchInfo info)
    : db_(std::move(db)), info_(std::move(info)) {}
BenchRecorder::BenchRecorder(BenchRecorder&&) noexcept = default;
BenchRecorder::~BenchRecorder() = default;

BenchRecorder BenchRecorder::create(const std::string& db_path, BenchInfo info, double unix_now) {
  auto db = std::make_unique<Database>(Database::open(db_path));
  // Two benches started in the same second get -2, -3...: ids stay unique and still sort by time.
  const std::string base = id_for_time(unix_now);
  info.id = base;
  for (int n = 2; bench_exists(*db, info.id); ++n) info.id = base + "-" + std::to_string(n);
  info.started_at = iso8601_utc(unix_now);
  info.status = "running";
  std::vector<std::string> concurrencies;
  for (int c : info.concurrencies) concurrencies.push_back(std::to_string(c));
  Statement insert = db->prepare(
      "INSERT INTO benches (id, status, started_at, workload, modes, concurrencies, repeat, version, "
      "command_line, parsers) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  insert.bind(1, std::string_view(info.id));
  insert.bind(2, std::string_view(info.status));
  insert.bind(3, std::string_view(info.started_at));
  insert.bind(4, std::string_view(info.workload));
  const std::string modes = join(info.modes), concurrency_list = join(concurrencies);
  insert.bind(5, std::string_view(modes));
  insert.bind(6, std::string_view(concurrency_list));
  insert.bind(7, static_cast<int64_t>(info.repeat));
  insert.bind(8, std::string_view(info.version));
  insert.bind(9, std::string_view(info.command_line));
  const std::string parsers = join(info.parsers);
  if (parsers.empty())
    insert.bind_null(10);
  else
    insert.bind(10, std::string_view(parsers));
  step_done(*db, insert, "record the bench");
  return BenchRecorder(std::move(db), std::move(info));
}

void BenchRecorder::record_skip(const BenchSkip& skip) {
  Statement insert = db_->prepare(
      "INSERT INTO bench_skips (bench_id, mode, concurrency, reason) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (bench_id, mode, concurrency) DO UPDATE SET reason = excluded.reason");
  insert.bind(1, std::string_view(info_.id));
  insert.bind(2, std::string_view(skip.mode));
  insert.bind(3, static_cast<int64_t>(skip.concurrency));
  insert.bind(4, std::string_view(skip.reason));
  step_done(*db_, insert, "record a skipped pair");
}

std::optional<BenchRun> BenchRecorder::newest_run() const {
  Statement select =
      db_->prepare("SELECT " + run_columns(*db_) + " FROM runs WHERE bench_id = ?1 ORDER BY id DESC LIMIT 1");
  select.bind(1, std::string_view(info_.id));
  if (!step_read(*db_, select, "the runs")) return std::nullopt;
  return read_run(select);
}

void BenchRecorder::finish(std::string_view status, double unix_now) {
  info_.status = std::string(status);
  info_.ended_at = iso8601_utc(unix_now);
  Statement update = db_->prepare("UPDATE benches SET status = ?2, ended_at = ?3 WHERE id = ?1");
  update.bind(1, std::string_view(info_.id));
  update.bind(2, std::string_view(info_.status));
  update.bind(3, std::string_view(info_.ended_at));
  step_done(*db_, update, "finish the bench");
}

BenchReport load_bench_report(const std::string& db_path, std::string_view id) {
  Database db = Database::open(db_path, {.access = Access::read_only});
  const std::string no_benches =
      "there are no benches in " + db_path + " yet: run `crawl bench ... --db " + db_path + "` first";
  // A file no bench has written to may predate the bench tables; read-only opens do not migrate.
  if (db.schema_version() < kFirstVersionWithBenches) throw UsageError(no_benches);

  const std::string columns =
      "SELECT id, status, started_at, coalesce(ended_at, ''), workload, modes, concurrencies, repeat, "
      "version, command_line, " +
      std::string(db.schema_version() >= 9 ? "coalesce(parsers, '')" : "''") + " FROM benches ";
  Statement select_bench = db.prepare(id == "latest" ? columns + "ORDER BY started_at DESC, id DESC LIMIT 1"
                                                     : columns + "WHERE id = ?1");
  if (id != "latest") select_bench.bind(1, std::string_view(id));
  if (!step_read(db, select_bench, "the benches")) {
    if (id == "latest") throw UsageError(no_benches);
    throw UsageError("there is no bench '" + std::string(id) + "' in " + db_path +
                     ": pass --bench latest, or list them with `crawl query --db " + db_path +
                     " \"select id, started_at, workload from benches\"`");
  }
  const Statement& b = select_bench;
  BenchInfo info{.id = b.text(0),
                 .status = b.text(1),
                 .started_at = b.text(2),
                 .ended_at = b.text(3),
                 .workload = b.text(4),
                 .modes = split(b.text(5)),
                 .parsers = b.text(10).empty() ? std::vector<std::string>{} : split(b.text(10)),
                 .concurrencies = {},
                 .repeat = static_cast<int>(b.integer(7)),
                 .version = b.text(8),
                 .command_line = b.text(9)};
  for (const auto& c : split(b.text(6))) info.concurrencies.push_back(std::stoi(c));

  std::vector<BenchRun> runs;
  Statement select_runs =
      db.prepare("SELECT " + run_columns(db) + " FROM runs WHERE bench_id = ?1 ORDER BY id");
  select_runs.bind(1, std::string_view(info.id));
  while (step_read(db, select_runs, "the runs")) runs.push_back(read_run(select_runs));

  std::vector<BenchSkip> skips;
  Statement select_skips =
      db.prepare("SELECT mode, concurrency, reason FROM bench_skips WHERE bench_id = ?1 ORDER BY " +
                 std::string(insertion_order(db)));
  select_skips.bind(1, std::string_view(info.id));
  while (step_read(db, select_skips, "the skipped pairs"))
    skips.push_back({.mode = select_skips.text(0),
                     .concurrency = static_cast<int>(select_skips.integer(1)),
                     .reason = select_skips.text(2)});
  return aggregate_bench(info, runs, skips);
}

namespace {

// The measures every format shows alike, vs_best to failed, put before the row's last value (its
// note).
void insert_measures(std::vector<Value>& row, const BenchPair& p) {
  row.insert(row.end() - 1,
             {measured(p, p.vs_best, kRatioDecimals), measured(p, p.user_s, kCpuDecimals),
              measured(p, p.sys_s, kCpuDecimals), measured(p, p.cpu_ms_per_page, kCpuPerPageDecimals),
              measured(p, p.peak_rss_mb, kMemoryDecimals), measured_count(p, p.voluntary_ctx),
              measured_count(p, p.involuntary_ctx), measured(p, p.p50_ms, kLatencyDecimals),
              measured(p, p.p99_ms, kLatencyDecimals), measured(p, p.connections_per_host, kRatioDecimals),
              p.runs == 0 ? Value{} : Value{p.failed}});
}

}  // namespace

void print_bench_report(const BenchReport& report, Format format, std::ostream& out) {
  std::vector<std::vector<Value>> rows;
  if (format == Format::table) {
    print_heading(report, out);
    // The parser column only when the bench compares parsers.
    const bool parsers = !report.info.parsers.empty();
    for (const BenchPair& p : report.pairs) {
      rows.push_back({p.mode, int64_t{p.concurrency}, p.layout.empty() ? Value{} : Value{p.layout},
                      int64_t{p.runs}, measured(p, p.wall_s.median, kWallDecimals),
                      range_text(p, p.wall_s, kWallDecimals), measured_count(p, p.pages_per_s.median),
                      range_text(p, p.pages_per_s, 0), short_note_value(p)});
      insert_measures(rows.back(), p);
      if (parsers) rows.back().insert(rows.back().begin() + 1, Value{p.parser});
    }
    std::vector<std::string> columns = {"mode",       "c",           "layout",        "runs",    "wall_s",
                                        "wall_range", "pages/s",     "pages/s_range", "vs_best", "user_s",
                                        "sys_s",      "cpu_ms/page", "peak_mb",       "vol_ctx", "invol_ctx",
                                        "p50_ms",     "p99_ms",      "conn/host",     "failed",  "note"};
    if (parsers) columns.insert(columns.begin() + 1, "parser");
    print_rows(columns, rows, format, out);
    // The table only starts each note; a reason is worth reading whole.
    for (const std::string& note : bench_notes(report)) out << note << '\n';
    return;
  }
  for (const BenchPair& p : report.pairs) {
    rows.push_back({p.mode, p.parser.empty() ? Value{} : Value{p.parser}, int64_t{p.concurrency},
                    p.layout.empty() ? Value{} : Value{p.layout}, int64_t{p.runs},
                    p.runs == 0 ? Value{} : Value{p.urls}, measured(p, p.wall_s.median, kWallDecimals),
                    measured(p, p.wall_s.min, kWallDecimals), measured(p, p.wall_s.max, kWallDecimals),
                    measured_count(p, p.pages_per_s.median), measured_count(p, p.pages_per_s.min),
                    measured_count(p, p.pages_per_s.max), note_value(p)});
    insert_measures(rows.back(), p);
  }
  print_rows({"mode",
              "parser",
              "concurrency",
              "layout",
              "runs",
              "urls",
              "wall_s",
              "wall_min_s",
              "wall_max_s",
              "pages_per_s",
              "pages_per_s_min",
              "pages_per_s_max",
              "vs_best",
              "user_s",
              "sys_s",
              "cpu_ms_per_page",
              "peak_rss_mb",
              "voluntary_ctx",
              "involuntary_ctx",
              "p50_ms",
              "p99_ms",
              "connections_per_host",
              "failed",
              "note"},
             rows, format, out);
}

}  // namespace crawl::storage
