#include "storage/database.hpp"

#include <sqlite3.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "common/usage_error.hpp"

namespace crawl::storage {
namespace {

// Version 1: one row per run, one row per page. Every column is documented here because this file is
// the schema's documentation for people reading the database with the sqlite3 shell.
constexpr const char* kSchemaVersion1 = R"sql(
CREATE TABLE runs (
  id               INTEGER PRIMARY KEY,
  status           TEXT NOT NULL,    -- running | completed | interrupted | failed | crashed
  started_at       TEXT NOT NULL,    -- ISO-8601 UTC
  ended_at         TEXT,             -- NULL while running
  mode             TEXT NOT NULL,    -- fiber | thread | process | hybrid
  processes        INTEGER NOT NULL,
  threads          INTEGER NOT NULL, -- per process
  fibers           INTEGER NOT NULL, -- per thread
  concurrency      INTEGER NOT NULL, -- fetches in flight, all workers together
  queue_capacity   INTEGER NOT NULL,
  consumers        INTEGER NOT NULL,
  callback_threads INTEGER NOT NULL,
  parse            INTEGER NOT NULL, -- 0 with --no-parse
  wall_s           REAL,             -- start to end, callbacks included
  crawl_s          REAL,             -- start to the last page stored
  user_s           REAL,
  sys_s            REAL,
  parse_cpu_s      REAL,
  peak_rss_kb      INTEGER,
  voluntary_ctx    INTEGER,
  involuntary_ctx  INTEGER,
  urls             INTEGER,
  pages_ok         INTEGER,
  pages_failed     INTEGER,
  bytes_wire       INTEGER,
  bytes_body       INTEGER,
  pages_per_s      REAL,
  p50_ms           REAL,
  p90_ms           REAL,
  p99_ms           REAL,
  version          TEXT NOT NULL,    -- of crawl
  command_line     TEXT NOT NULL,
  bench_id         TEXT              -- NULL unless the run is part of `crawl bench`
);
CREATE INDEX runs_by_bench ON runs(bench_id) WHERE bench_id IS NOT NULL;

CREATE TABLE pages (
  id            INTEGER PRIMARY KEY,
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq           INTEGER NOT NULL, -- order in which the URL was read
  source        TEXT NOT NULL,    -- list file, '-' for stdin, '--url'
  line          INTEGER NOT NULL, -- 1-based line in source; 0 when not from a file
  input         TEXT NOT NULL,    -- the line as given
  url           TEXT,             -- normalised; NULL when the line was not a usable URL
  final_url     TEXT,             -- after redirects; NULL without a response
  status        INTEGER,          -- last HTTP status; NULL without a response
  error         TEXT,             -- error category; NULL when the fetch succeeded
  error_message TEXT,
  content_type  TEXT,
  charset       TEXT,
  wire_bytes    INTEGER NOT NULL, -- body bytes as received
  body_bytes    INTEGER NOT NULL, -- after content decoding
  text_bytes    INTEGER,          -- visible text; NULL when not parsed
  title         TEXT,
  link_count    INTEGER,
  depth         INTEGER NOT NULL,
  parent_url    TEXT,
  attempts      INTEGER NOT NULL,
  redirects     INTEGER NOT NULL,
  dns_ms        REAL NOT NULL,    -- each timing is the duration of its own phase
  connect_ms    REAL NOT NULL,
  tls_ms        REAL NOT NULL,
  ttfb_ms       REAL NOT NULL,    -- request start to the first response byte
  total_ms      REAL NOT NULL,
  queue_ms      REAL NOT NULL,    -- waiting in the bounded queue for a consumer
  worker        TEXT,             -- e.g. 't12' or 'p1.t0.f37'
  fetched_at    TEXT              -- ISO-8601 UTC; NULL when never fetched
);
-- Not UNIQUE: a duplicate seq would be a crawler bug, and failing the whole run's storage over it
-- would lose more than it protects.
CREATE INDEX pages_by_run_seq ON pages(run_id, seq);
CREATE INDEX pages_by_run_total_ms ON pages(run_id, total_ms);
CREATE INDEX pages_by_run_error ON pages(run_id, error);

PRAGMA user_version = 1;
)sql";

// Version 2: `crawl bench` records each comparison it makes (its runs point here through
// runs.bench_id) and each (mode, concurrency) pair it could not run, with the reason.
constexpr const char* kSchemaVersion2 = R"sql(
CREATE TABLE benches (
  id            TEXT PRIMARY KEY, -- e.g. b20261124-093700; runs.bench_id holds it
  status        TEXT NOT NULL,    -- running | completed | interrupted
  started_at    TEXT NOT NULL,    -- ISO-8601 UTC
  ended_at      TEXT,             -- NULL while running
  workload      TEXT NOT NULL,    -- what was crawled, e.g. 'testbed, 100ms latency' or the list files
  modes         TEXT NOT NULL,    -- comma-separated, in the order given
  concurrencies TEXT NOT NULL,    -- comma-separated, in the order given
  repeat        INTEGER NOT NULL, -- runs of each pair
  version       TEXT NOT NULL,    -- of crawl
  command_line  TEXT NOT NULL
);

CREATE TABLE bench_skips (
  bench_id    TEXT NOT NULL REFERENCES benches(id) ON DELETE CASCADE,
  mode        TEXT NOT NULL,
  concurrency INTEGER NOT NULL,
  reason      TEXT NOT NULL,      -- why the pair was skipped or stopped, as `crawl run` said it
  PRIMARY KEY (bench_id, mode, concurrency)
);

PRAGMA user_version = 2;
)sql";

// kMigrations[i] takes a database from version i to version i + 1 and ends by setting user_version
// to i + 1. A new schema version appends a step (ALTER TABLE ..., PRAGMA user_version = 2) here;
// earlier steps never change, so every old file walks the same path.
// Version 3: the links pages contain, written with `crawl run --store-links`.
constexpr const char* kSchemaVersion3 = R"sql(
CREATE TABLE links (
  run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  from_seq INTEGER NOT NULL,  -- pages.seq of the page the link is on
  from_url TEXT NOT NULL,     -- that page's URL
  to_url   TEXT NOT NULL      -- the link, resolved and normalised (http and https links only)
);
CREATE INDEX links_by_run ON links(run_id, from_seq);

PRAGMA user_version = 3;
)sql";

// Version 4: every index on pages costs each stored page time in the writer (a third of it with
// two more indexes than a report needs). `slowest` reads the run's rows once either way (a top-20
// sort, no index needed); `errors` reads only failed pages, which are few, so its index holds
// only those.
constexpr const char* kSchemaVersion4 = R"sql(
DROP INDEX IF EXISTS pages_by_run_total_ms;
DROP INDEX IF EXISTS pages_by_run_error;
CREATE INDEX pages_failed_by_run ON pages(run_id, error) WHERE error IS NOT NULL;

PRAGMA user_version = 4;
)sql";

// Version 5: who runs a run, so that a run whose process is gone is never shown as running; and how
// far each list was read, so that an interrupted run says which lines have no row (and can be
// continued from there).
constexpr const char* kSchemaVersion5 = R"sql(
ALTER TABLE runs ADD COLUMN host TEXT;           -- the machine the run's process runs on
ALTER TABLE runs ADD COLUMN pid INTEGER;         -- that process
ALTER TABLE runs ADD COLUMN process_start TEXT;  -- '<boot id>/<start ticks>': tells a reused pid apart

CREATE TABLE run_sources (
  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  position   INTEGER NOT NULL, -- order among the run's sources, from 0
  source     TEXT NOT NULL,    -- list file as given, '-' for stdin, '--url'
  lines_read INTEGER NOT NULL, -- the last URL line read (its line number); --url: values read
  bytes_read INTEGER NOT NULL, -- bytes of the file up to the end of line lines_read
  size       INTEGER,          -- the file's size when the run opened it; NULL for a pipe or --url
  mtime_ns   INTEGER,          -- its modification time then, ns since the epoch; NULL likewise
  finished   INTEGER NOT NULL, -- 1: read to the end; 0: the run stopped before
  PRIMARY KEY (run_id, position)
);

PRAGMA user_version = 5;
)sql";

// Version 6: what a run needs to go on after a crash or a stop (`crawl resume`). Each URL taken into
// the crawl either has its row in pages or an entry in frontier, never both, never neither: the
// writer adds and removes entries in the transactions that write the rows. A list file is not copied
// here: run_sources says up to which line every URL line is done, and the lines after that are read
// again from the file.
constexpr const char* kSchemaVersion6 = R"sql(
ALTER TABLE runs ADD COLUMN settings TEXT;  -- JSON: the lists and the flags that decide what is crawled
ALTER TABLE runs ADD COLUMN sessions INTEGER NOT NULL DEFAULT 1;  -- `crawl run` plus each `crawl resume`

ALTER TABLE run_sources ADD COLUMN lines_done INTEGER NOT NULL DEFAULT 0; -- every URL line up to this
                                                                          -- one has its row or entry
ALTER TABLE run_sources ADD COLUMN bytes_done INTEGER NOT NULL DEFAULT 0; -- where that line ends

-- URLs taken into the crawl that have no row yet: links found and admitted, URLs waiting for a
-- retry, lines of a list that cannot be read again (stdin), what a stopped run left.
CREATE TABLE frontier (
  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq        INTEGER NOT NULL, -- the row's seq once it has one
  source     TEXT NOT NULL,
  line       INTEGER NOT NULL,
  input      TEXT NOT NULL,
  url        TEXT NOT NULL,
  depth      INTEGER NOT NULL,
  parent_url TEXT,
  seed_host  TEXT NOT NULL,    -- host of the list URL it descends from (--scope)
  attempts   INTEGER NOT NULL, -- fetches already made
  not_before REAL,             -- unix time before which it is not tried again (a retry's back-off)
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- Links of a stored page that the crawl is to follow but has not taken in yet (breadth-first, a
-- level's links wait until the level before is done): newline-separated, checked against the URLs
-- seen when they are taken in.
CREATE TABLE frontier_links (
  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  parent_seq INTEGER NOT NULL, -- pages.seq of the page they are on
  depth      INTEGER NOT NULL, -- theirs: the page's depth + 1
  seed_host  TEXT NOT NULL,
  links      TEXT NOT NULL,
  PRIMARY KEY (run_id, parent_seq)
) WITHOUT ROWID;

-- Each process that worked on a run: `crawl run`, then each `crawl resume`.
CREATE TABLE run_sessions (
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  session       INTEGER NOT NULL, -- 1 for `crawl run`
  status        TEXT NOT NULL,    -- running | completed | interrupted | failed | crashed
  started_at    TEXT NOT NULL,
  ended_at      TEXT,             -- NULL until it ends; the last progress seen when it crashed
  mode          TEXT NOT NULL,
  concurrency   INTEGER NOT NULL,
  host          TEXT,
  pid           INTEGER,
  process_start TEXT,
  rows          INTEGER NOT NULL DEFAULT 0, -- pages rows it wrote
  wall_s        REAL,
  user_s        REAL,
  sys_s         REAL,
  command_line  TEXT NOT NULL,
  PRIMARY KEY (run_id, session)
);

PRAGMA user_version = 6;
)sql";

// Version 7: how many connections a run opened, to how many hosts, and how many of its TLS
// handshakes were made in full or resumed: what a crawl of many HTTPS hosts pays for.
constexpr const char* kSchemaVersion7 = R"sql(
ALTER TABLE runs ADD COLUMN connections INTEGER;          -- opened by page fetches (robots.txt not counted)
ALTER TABLE runs ADD COLUMN tls_full INTEGER;             -- TLS handshakes on them made in full
ALTER TABLE runs ADD COLUMN tls_resumed INTEGER;          -- TLS handshakes that resumed a session
ALTER TABLE runs ADD COLUMN connected_hosts INTEGER;      -- hosts those connections went to
ALTER TABLE runs ADD COLUMN max_host_connections INTEGER; -- the most connections opened to one host

PRAGMA user_version = 7;
)sql";

constexpr std::array kMigrations = {kSchemaVersion1, kSchemaVersion2, kSchemaVersion3, kSchemaVersion4,
                                    kSchemaVersion5, kSchemaVersion6, kSchemaVersion7};

}  // namespace

void CloseConnection::operator()(sqlite3* db) const noexcept {
  sqlite3_close_v2(db);
}
void FinalizeStatement::operator()(sqlite3_stmt* stmt) const noexcept {
  sqlite3_finalize(stmt);
}

int latest_schema_version() {
  return static_cast<int>(kMigrations.size());
}

namespace {

// What a file opened as --db holds, judged from its header and its schema before anything is
// written to it.
enum class Contents {
  empty,            // a new or empty file: the schema is created in it
  crawl,            // marked with kApplicationId
  unmarked_crawl,   // written by a crawl before the mark existed: runs and pages, user_version >= 1
  another_program,  // anything else: never written to
};

int pragma_int(const Database& db, const char* pragma) {
  Statement statement = db.prepare(pragma);
  if (sqlite3_step(statement.get()) != SQLITE_ROW) throw StorageError(db.last_error());
  return sqlite3_column_int(statement.get(), 0);
}

Contents contents_of(const Database& db) {
  const int application_id = pragma_int(db, "PRAGMA application_id");
  if (application_id == kApplicationId) return Contents::crawl;
  if (application_id != 0) return Contents::another_program;
  const int objects = pragma_int(db, "SELECT count(*) FROM sqlite_schema");
  const int version = db.schema_version();
  if (objects == 0) return version == 0 ? Contents::empty : Contents::another_program;
  const int crawl_tables =
      pragma_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('runs', 'pages')");
  return crawl_tables == 2 && version >= 1 ? Contents::unmarked_crawl : Contents::another_program;
}

}  // namespace

Database Database::open(const std::string& path, const OpenOptions& options) {
  const bool read_only = options.access == Access::read_only;
  // SQLite would report a missing file as "unable to open database file"; say what to do instead.
  if (read_only && path != ":memory:" && !std::filesystem::exists(path))
    throw StorageError("no database at " + path + ": run `crawl run` first or pass --db");
  if (std::filesystem::is_directory(path))
    throw UsageError(path + " is a directory: pass --db with the path of a database file");

  // Readers open read-write too, without CREATE, and refuse writes with query_only: a connection
  // opened SQLITE_OPEN_READONLY creates the -wal and -shm files of a WAL database and cannot remove
  // them when it closes, so every `crawl query` would leave them behind. A read-write connection
  // that is the last one to close checkpoints and removes them, as the sqlite3 shell does. SQLite
  // falls back to read-only by itself for a file the user cannot write.
  int flags = read_only ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  // Each connection is used by one thread at a time; SQLite's own per-connection mutex is not needed.
  flags |= SQLITE_OPEN_NOMUTEX;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Connection connection(raw);
  if (rc != SQLITE_OK) {
    std::string why = raw ? sqlite3_errmsg(raw) : "out of memory";
    if (read_only) throw StorageError("cannot open the database " + path + " for reading: " + why);
    throw StorageError("cannot open the database " + path + " for writing: " + why +
                       ": check that its directory exists and is writable, or pass --db with another path");
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  Database db(path, std::move(connection));
  if (read_only) db.exec("PRAGMA query_only = ON");

  // The first read is where SQLite notices a file that is not a database at all. Reading another
  // program's file changes nothing in it: a WAL file that its first read creates is empty, and
  // closing removes it again (as the sqlite3 shell would, a WAL left with frames in it is
  // checkpointed: the same content).
  Contents contents = Contents::empty;
  int version = 0;
  try {
    contents = contents_of(db);
    version = db.schema_version();
  } catch (const StorageError& e) {
    if ((sqlite3_extended_errcode(raw) & 0xff) == SQLITE_NOTADB)
      throw StorageError(path + " is not a SQLite database: pass --db with the path of a crawl database");
    throw StorageError("cannot read the database " + path + ": " + e.what());
  }
  if (contents == Contents::another_program)
    throw UsageError(path + " is a SQLite database but not a crawl database (it holds another program's " +
                     "tables): pass --db with the path of a crawl database" +
                     (read_only ? "" : ", or of a new file"));
  if (read_only && contents == Contents::empty)
    throw UsageError(path + " is an empty database, not a crawl database: run `crawl run --db " + path +
                     "` first or pass --db with the path of a crawl database");
  if (version > latest_schema_version())
    throw StorageError(path + " has schema version " + std::to_string(version) +
                       " but this crawl knows up to " + std::to_string(latest_schema_version()) +
                       ": use a newer crawl or another --db");
  if (read_only) return db;

  // WAL lets `crawl query` read while a run writes; NORMAL is durable across application crashes
  // and only risks the last transactions on power loss, which is fine for measurements.
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA foreign_keys = ON");
  db.migrate();
  return db;
}

void Database::migrate() {
  auto current = [this] {
    return schema_version() == latest_schema_version() &&
           pragma_int(*this, "PRAGMA application_id") == kApplicationId;
  };
  if (current()) return;
  // IMMEDIATE takes the write lock up front, so two runs starting on a new file do not both try to
  // create the tables: the second waits, then sees the version the first one wrote.
  exec("BEGIN IMMEDIATE");
  try {
    for (int version = schema_version(); version < latest_schema_version(); ++version) {
      exec(kMigrations[static_cast<size_t>(version)]);
      if (schema_version() != version + 1)
        throw StorageError("internal error: migration step " + std::to_string(version + 1) +
                           " did not set user_version");
    }
    // New files, and files from before the mark, are marked as crawl's.
    exec(("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str());
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void Database::exec(const char* sql) const {
  char* message = nullptr;
  if (sqlite3_exec(handle(), sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string why = message ? message : last_error();
    sqlite3_free(message);
    throw StorageError("SQLite failed on " + path_ + ": " + why);
  }
}

Statement Database::prepare(std::string_view sql) const {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(handle(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                              &raw, nullptr);
  Statement statement(raw);
  if (rc != SQLITE_OK)
    throw StorageError("SQLite cannot prepare a statement on " + path_ + ": " + last_error());
  return statement;
}

int Database::schema_version() const {
  Statement statement = prepare("PRAGMA user_version");
  int rc = sqlite3_step(statement.get());
  if (rc != SQLITE_ROW) throw StorageError(last_error());
  return sqlite3_column_int(statement.get(), 0);
}

std::string Database::last_error() const {
  return std::string(sqlite3_errmsg(handle())) + " (SQLite code " +
         std::to_string(sqlite3_extended_errcode(handle())) + ")";
}

std::string iso8601_utc(double unix_seconds) {
  double whole = std::floor(unix_seconds);
  auto seconds = static_cast<std::time_t>(whole);
  int millis = static_cast<int>(std::lround((unix_seconds - whole) * 1000));
  if (millis == 1000) {  // 0.9996 rounds up into the next second
    ++seconds;
    millis = 0;
  }
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[96];  // room for any int the format could see, which GCC checks
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
  return text;
}

}  // namespace crawl::storage
