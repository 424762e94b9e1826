#include "storage/bench_records.hpp"

#include <ctime>

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

}  // namespace

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
      "command_line, parsers, latency_ms, cores) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
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
  if (info.latency_ms)
    insert.bind(11, *info.latency_ms);
  else
    insert.bind_null(11);
  if (info.cores > 0)
    insert.bind(12, static_cast<int64_t>(info.cores));
  else
    insert.bind_null(12);
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

StoredBench load_bench(const std::string& db_path, std::string_view id) {
  Database db = Database::open(db_path, {.access = Access::read_only});
  const std::string no_benches =
      "there are no benches in " + db_path + " yet: run `crawl bench ... --db " + db_path + "` first";
  // A file no bench has written to may predate the bench tables; read-only opens do not migrate.
  if (db.schema_version() < kFirstVersionWithBenches) throw UsageError(no_benches);

  const std::string columns =
      "SELECT id, status, started_at, coalesce(ended_at, ''), workload, modes, concurrencies, repeat, "
      "version, command_line, " +
      std::string(db.schema_version() >= 9 ? "coalesce(parsers, '')" : "''") + ", " +
      std::string(db.schema_version() >= 10 ? "latency_ms, coalesce(cores, 0)" : "NULL, 0") +
      " FROM benches ";
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
                 .command_line = b.text(9),
                 .latency_ms = b.is_null(11) ? std::nullopt : std::optional<double>(b.real(11)),
                 .cores = static_cast<int>(b.integer(12))};
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
  return {.info = std::move(info), .runs = std::move(runs), .skips = std::move(skips)};
}

}  // namespace crawl::storage
