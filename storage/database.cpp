#include "storage/database.hpp"

#include <sqlite3.h>

#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>

#include "common/process_identity.hpp"
#include "common/usage_error.hpp"
#include "storage/sqlite_connection.hpp"

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

// Version 8: what lets several processes, on one machine or many, share one run through one
// database: each host's URLs are leased to one worker at a time (host_leases), every URL is taken
// into the run once whoever finds it (run_urls), and seqs are handed out in blocks (runs.next_seq).
// Runs of one process leave them empty.
constexpr const char* kSchemaVersion8 = R"sql(
ALTER TABLE runs ADD COLUMN next_seq INTEGER;  -- the next seq to hand out; NULL: the run's process counts
ALTER TABLE frontier ADD COLUMN host TEXT;     -- the URL's politeness key (host:port) when workers share the run
CREATE INDEX frontier_by_host ON frontier(run_id, host, depth, seq) WHERE host IS NOT NULL;

-- Every URL taken into a shared run, by any worker: only the first insert of a URL admits it.
CREATE TABLE run_urls (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  url    TEXT NOT NULL,
  PRIMARY KEY (run_id, url)
) WITHOUT ROWID;

-- One row per host of a shared run: who may fetch its URLs now, until when, and when its next fetch
-- may start (its delay, Crawl-delay or Retry-After), so that politeness holds across workers.
CREATE TABLE host_leases (
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  host          TEXT NOT NULL,
  depth         INTEGER NOT NULL,           -- the lowest depth its URLs had when added: claims go by it
  worker        TEXT,                       -- who holds the lease, e.g. 'hostname/pid'; NULL: nobody
  claim         INTEGER,                    -- which claim of that worker took it
  expires_at    REAL NOT NULL DEFAULT 0,    -- unix time the lease ends unless renewed
  next_fetch_at REAL NOT NULL DEFAULT 0,    -- unix time before which no fetch of the host may start
  PRIMARY KEY (run_id, host)
) WITHOUT ROWID;
CREATE INDEX host_leases_by_depth ON host_leases(run_id, depth, host);

PRAGMA user_version = 8;
)sql";

// Version 9: which HTML parser a run used, and which parsers a bench compared.
constexpr const char* kSchemaVersion9 = R"sql(
ALTER TABLE runs ADD COLUMN parser TEXT;     -- gumbo | libxml2; NULL with --no-parse (and for runs before version 9)
ALTER TABLE benches ADD COLUMN parsers TEXT; -- comma-separated, in the order given; NULL when parsers were not compared

PRAGMA user_version = 9;
)sql";

// Version 10: what a bench's chart says of where it ran: the testbed's added latency, from which the
// ideal throughput (concurrency / latency) follows, and the machine's cores.
constexpr const char* kSchemaVersion10 = R"sql(
ALTER TABLE benches ADD COLUMN latency_ms REAL; -- the testbed's mean added latency; NULL for URL lists, where it is unknown
ALTER TABLE benches ADD COLUMN cores INTEGER;   -- hardware threads of the machine; NULL for benches before version 10

PRAGMA user_version = 10;
)sql";

// Version 11: what the reports ask of a page without parsing URLs in SQL (its host), and what tells
// two fetches of a URL apart, or lets a re-crawl ask only for what changed (its validators and the
// hash of its body), with the HTTP version and address curl -w and httpx users look for. Rows stored
// before version 11 have NULL in each.
constexpr const char* kSchemaVersion11 = R"sql(
ALTER TABLE pages ADD COLUMN host TEXT;          -- the URL's host, lower case (IDN as punycode); NULL when not a URL
ALTER TABLE pages ADD COLUMN http_version TEXT;  -- of the last response: 1.0 | 1.1 | 2 | 3; NULL without one
ALTER TABLE pages ADD COLUMN server_ip TEXT;     -- the address the last response came from
ALTER TABLE pages ADD COLUMN etag TEXT;          -- the last response's ETag, as sent
ALTER TABLE pages ADD COLUMN last_modified TEXT; -- its Last-Modified, as sent
ALTER TABLE pages ADD COLUMN body_hash TEXT;     -- XXH3-128 of the decoded body, hex (as xxh128sum prints it); NULL without a whole body
ALTER TABLE pages ADD COLUMN not_modified INTEGER NOT NULL DEFAULT 0; -- 1: a --since re-crawl got 304; the facts are the earlier run's

PRAGMA user_version = 11;
)sql";

// Version 12: timings are NULL for rows never fetched; views for tools that open the file as it is
// (the sqlite3 shell, sqlite-utils, Datasette): what the reports answer, over every run, each row
// with its run_id. What counts as a failure is said once, in failed_pages.
constexpr const char* kSchemaVersion12 = R"sql(
-- A row never fetched has no timings (NULL, where it had 0). The columns' NOT NULL is dropped
-- first, by each engine's own means (relax_page_timings).
UPDATE pages SET dns_ms = NULL, connect_ms = NULL, tls_ms = NULL, ttfb_ms = NULL, total_ms = NULL, queue_ms = NULL
WHERE fetched_at IS NULL;

-- Per run and host: how long politeness held its URLs back (--delay, Crawl-delay, --per-host, a
-- retry's back-off, its robots.txt), summed over the run's sessions and workers.
CREATE TABLE run_hosts (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  host   TEXT NOT NULL, -- as pages.host
  held_s REAL NOT NULL, -- seconds the host had URLs waiting that its rules did not let start
  PRIMARY KEY (run_id, host)
) WITHOUT ROWID;

CREATE VIEW failed_pages AS  -- rows of URLs that failed; not duplicates, robots.txt refusals, exclusions, what a stop left
SELECT run_id, seq, url, host, status, error, error_message, depth, parent_url, source, line, attempts, fetched_at
FROM pages
WHERE error IS NOT NULL AND error NOT IN ('duplicate', 'interrupted', 'robots', 'excluded', 'max_pages');

CREATE VIEW broken_links AS  -- each failed URL once per page linking to it, and once per list line naming it
WITH referred AS (
  -- Driven from links, looked up in the failed URLs (links has no index on to_url: the writer
  -- would pay for it on every link; a join the other way round reads a run's links per failure).
  SELECT l.run_id, l.to_url AS url, l.from_url AS referrer
  FROM links l WHERE (l.run_id, l.to_url) IN (SELECT run_id, url FROM failed_pages)
  UNION
  SELECT run_id, url, parent_url FROM failed_pages WHERE depth > 0 AND parent_url IS NOT NULL
  UNION
  SELECT run_id, url, source || ':' || line FROM failed_pages WHERE depth = 0 AND url IS NOT NULL)
SELECT f.run_id, f.url, f.status, f.error, r.referrer, f.error_message AS message
FROM failed_pages f LEFT JOIN referred r ON r.run_id = f.run_id AND r.url = f.url
WHERE f.url IS NOT NULL;

CREATE VIEW host_summary AS  -- per run and host: rows, ok, failed, robots.txt refusals, times, bytes, politeness waits
SELECT run_id, host, count(*) AS pages, sum(CASE WHEN error IS NULL THEN 1 ELSE 0 END) AS ok,
       (SELECT count(*) FROM failed_pages f WHERE f.run_id = pages.run_id AND f.host = pages.host) AS failed,
       sum(CASE WHEN error = 'robots' THEN 1 ELSE 0 END) AS robots,
       avg(CASE WHEN fetched_at IS NOT NULL THEN total_ms END) AS avg_ms,
       max(CASE WHEN fetched_at IS NOT NULL THEN total_ms END) AS max_ms,
       sum(body_bytes) AS body_bytes,
       coalesce((SELECT h.held_s FROM run_hosts h WHERE h.run_id = pages.run_id AND h.host = pages.host), 0) AS held_s
FROM pages
WHERE host IS NOT NULL
GROUP BY run_id, host;

PRAGMA user_version = 12;
)sql";

constexpr std::array kMigrations = {kSchemaVersion1, kSchemaVersion2,  kSchemaVersion3,  kSchemaVersion4,
                                    kSchemaVersion5, kSchemaVersion6,  kSchemaVersion7,  kSchemaVersion8,
                                    kSchemaVersion9, kSchemaVersion10, kSchemaVersion11, kSchemaVersion12};

}  // namespace

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

int64_t single_integer(const Database& db, std::string_view sql) {
  Statement statement = db.prepare(sql);
  if (!statement.step()) throw StorageError("no row from " + std::string(sql));
  return statement.integer(0);
}

Contents contents_of(const Database& db) {
  const int64_t application_id = single_integer(db, "PRAGMA application_id");
  if (application_id == kApplicationId) return Contents::crawl;
  if (application_id != 0) return Contents::another_program;
  const int64_t objects = single_integer(db, "SELECT count(*) FROM sqlite_schema");
  const int version = db.schema_version();
  if (objects == 0) return version == 0 ? Contents::empty : Contents::another_program;
  const int64_t crawl_tables = single_integer(
      db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('runs', 'pages')");
  return crawl_tables == 2 && version >= 1 ? Contents::unmarked_crawl : Contents::another_program;
}

// The one place where the schema's SQL differs between the engines: each migration step is written
// for SQLite and mapped here. PostgreSQL has no rowid tables and no dynamic typing: an INTEGER
// PRIMARY KEY becomes an identity column, INTEGER a BIGINT (SQLite's integers are 64-bit), REAL a
// DOUBLE PRECISION, and the version goes into crawl_schema instead of PRAGMA user_version.
std::string postgres_ddl(std::string_view sqlite_ddl) {
  std::string ddl(sqlite_ddl);
  auto replace_words = [&ddl](std::string_view from, std::string_view to) {
    auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    for (size_t at = ddl.find(from); at != std::string::npos; at = ddl.find(from, at)) {
      const bool starts = at == 0 || !is_word(ddl[at - 1]);
      const bool ends = at + from.size() >= ddl.size() || !is_word(ddl[at + from.size()]);
      if (starts && ends) {
        ddl.replace(at, from.size(), to);
        at += to.size();
      } else {
        at += from.size();
      }
    }
  };
  replace_words("INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
  replace_words("INTEGER", "BIGINT");
  replace_words("REAL", "DOUBLE PRECISION");
  replace_words(") WITHOUT ROWID", ")");
  const std::string pragma = "PRAGMA user_version = ";
  for (size_t at = ddl.find(pragma); at != std::string::npos; at = ddl.find(pragma, at))
    ddl.replace(at, pragma.size(), "UPDATE crawl_schema SET version = ");
  return ddl;
}

// SQLite functions the reports and users' queries use that PostgreSQL lacks or names otherwise,
// defined in the database so that the same SQL runs on both (group_concat(value, separator) is
// PostgreSQL's string_agg). PostgreSQL rounds only numeric to a
// number of places; crawl_run_status is registered by `crawl query` on SQLite connections, where it
// also tells a run whose process is gone on this machine.
constexpr std::string_view kPostgresFunctions = R"sql(
CREATE OR REPLACE FUNCTION round(value DOUBLE PRECISION, places INTEGER) RETURNS DOUBLE PRECISION
  LANGUAGE sql IMMUTABLE STRICT AS 'SELECT round(value::numeric, places)::double precision';
CREATE OR REPLACE FUNCTION crawl_run_status(status TEXT, host TEXT, pid BIGINT, process_start TEXT)
  RETURNS TEXT LANGUAGE sql IMMUTABLE AS 'SELECT status';
CREATE OR REPLACE FUNCTION crawl_concat_step(joined TEXT, value TEXT, separator TEXT) RETURNS TEXT
  LANGUAGE sql IMMUTABLE AS
  'SELECT CASE WHEN value IS NULL THEN joined WHEN joined IS NULL THEN value ELSE joined || separator || value END';
CREATE OR REPLACE AGGREGATE group_concat(TEXT, TEXT) (SFUNC = crawl_concat_step, STYPE = TEXT);
)sql";

}  // namespace

Database Database::open(const std::string& where, const OpenOptions& options) {
  // SQLite takes "" for a temporary database deleted on close: a run stored there would be lost.
  if (where.empty())
    throw UsageError("--db is empty: pass the path of a database file or a postgresql:// URI");
  return is_postgres_uri(where) ? open_postgres_database(where, options) : open_sqlite_file(where, options);
}

bool Database::may_exist(const std::string& where) {
  return is_postgres_uri(where) || where == ":memory:" || std::filesystem::exists(where);
}

Database Database::open_sqlite_file(const std::string& path, const OpenOptions& options) {
  const bool read_only = options.access == Access::read_only;
  // SQLite would report a missing file as "unable to open database file"; say what to do instead.
  if (read_only && !may_exist(path))
    throw UsageError("no database at " + path + ": run `crawl run` first or pass --db");
  if (std::filesystem::is_directory(path))
    throw UsageError(path + " is a directory: pass --db with the path of a database file");
  // A new database goes into a directory that is there: the path given is what is wrong.
  if (const auto directory = std::filesystem::path(path).parent_path();
      !read_only && !directory.empty() && !std::filesystem::is_directory(directory))
    throw UsageError("cannot make the database " + path + ": " + directory.string() +
                     (std::filesystem::exists(directory) ? " is not a directory" : " does not exist") +
                     " (create it, or pass --db with another path)");

  // Readers open read-write too, without CREATE, and refuse writes with query_only: a connection
  // opened SQLITE_OPEN_READONLY creates the -wal and -shm files of a WAL database and cannot remove
  // them when it closes, so every `crawl query` would leave them behind. A read-write connection
  // that is the last one to close checkpoints and removes them, as the sqlite3 shell does. SQLite
  // falls back to read-only by itself for a file the user cannot write.
  int flags = read_only ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  // Each connection is used by one thread at a time; SQLite's own per-connection mutex is not needed.
  flags |= SQLITE_OPEN_NOMUTEX;
  std::unique_ptr<Connection> connection;
  try {
    connection = open_sqlite(path, flags, options.busy_timeout_ms);
  } catch (const StorageError& e) {
    if (read_only) throw StorageError("cannot open the database " + path + " for reading: " + e.what());
    throw StorageError("cannot open the database " + path + " for writing: " + e.what() +
                       ": check that its directory exists and is writable, or pass --db with another path");
  }
  sqlite3* raw = sqlite_handle(*connection);
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
      throw UsageError(path + " is not a SQLite database: pass --db with the path of a crawl database");
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

Database Database::open_postgres_database(const std::string& uri, const OpenOptions& options) {
  const bool read_only = options.access == Access::read_only;
  const std::string shown = redact_password(uri);
  std::unique_ptr<Connection> connection;
  try {
    connection = open_postgres(uri);
  } catch (const StorageError& e) {
    throw StorageError("cannot connect to the PostgreSQL database " + shown + ": " + e.what() +
                       ": check that the server runs, that the URI names a database and a role that may " +
                       (read_only ? "read it" : "create tables in it") +
                       ", or pass --db with another database");
  }
  Database db(shown, std::move(connection));
  bool marked = false;
  int64_t tables = 0;
  int version = 0;
  try {
    // A statement waits this long for a lock another worker holds before it fails.
    db.exec("SET lock_timeout = " + std::to_string(options.busy_timeout_ms));
    if (read_only) db.exec("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY");
    // As SQLite's synchronous=NORMAL: a commit survives a crash of crawl; one of the server may lose
    // the last commits (whose URLs are then pending again), never the database. --sync full undoes it.
    else
      db.exec("SET synchronous_commit = off");
    // Every statement a crawl prepares is keyed by a run: a run that began after the last ANALYZE
    // has an id the statistics have never seen, so a plan made for its value expects one row (the
    // frontier's deletes and claims then walked the run's whole frontier: 8 µs a URL instead of 2).
    // Plans made for any value go by the column's distinct count and stay right as the run grows.
    // (Readers' queries run once each: they keep plans made for their values.)
    if (!read_only) db.exec("SET plan_cache_mode = force_generic_plan");
    tables =
        single_integer(db, "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()");
    // crawl_schema is created with the tables, in one transaction: a database with it has a version.
    version = db.schema_version();
    marked = version > 0;
  } catch (const StorageError& e) {
    throw StorageError("cannot read the PostgreSQL database " + shown + ": " + e.what());
  }
  if (!marked && tables > 0)
    throw UsageError(shown + " holds tables of another program (no crawl_schema table in its schema): pass " +
                     "--db with a database of its own for crawl");
  if (!marked && read_only)
    throw UsageError(shown + " is an empty database, not a crawl database: run `crawl run --db " + shown +
                     "` first or pass --db with a crawl database");
  if (version > latest_schema_version())
    throw StorageError(shown + " has schema version " + std::to_string(version) +
                       " but this crawl knows up to " + std::to_string(latest_schema_version()) +
                       ": use a newer crawl or another --db");
  if (read_only) return db;
  try {
    db.migrate_postgres();
  } catch (const StorageError& e) {
    throw StorageError("cannot set up the PostgreSQL database " + shown + ": " + e.what());
  }
  return db;
}

void Database::migrate() {
  auto current = [this] {
    return schema_version() == latest_schema_version() &&
           single_integer(*this, "PRAGMA application_id") == kApplicationId;
  };
  if (current()) return;
  // IMMEDIATE takes the write lock up front, so two runs starting on a new file do not both try to
  // create the tables: the second waits, then sees the version the first one wrote.
  begin_exclusive();
  try {
    for (int version = schema_version(); version < latest_schema_version(); ++version) {
      if (version + 1 == 12) relax_page_timings();
      exec(kMigrations[static_cast<size_t>(version)]);
      if (schema_version() != version + 1)
        throw StorageError("internal error: migration step " + std::to_string(version + 1) +
                           " did not set user_version");
    }
    // New files, and files from before the mark, are marked as crawl's.
    exec("PRAGMA application_id = " + std::to_string(kApplicationId));
    exec("COMMIT");
  } catch (...) {
    rollback_quietly();
    throw;
  }
}

void Database::migrate_postgres() {
  if (schema_version() == latest_schema_version()) return;
  // Workers starting together on a new database take turns: the first creates the tables, the
  // others wait for its lock and then find them at the latest version.
  begin_exclusive();
  try {
    exec("CREATE TABLE IF NOT EXISTS crawl_schema (version INTEGER NOT NULL)");
    exec("INSERT INTO crawl_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM crawl_schema)");
    // The functions first: the schema's views use them.
    exec(kPostgresFunctions);
    for (int version = schema_version(); version < latest_schema_version(); ++version) {
      if (version + 1 == 12) relax_page_timings();
      exec(postgres_ddl(kMigrations[static_cast<size_t>(version)]));
      if (schema_version() != version + 1)
        throw StorageError("internal error: migration step " + std::to_string(version + 1) +
                           " did not set the version");
    }
    exec("COMMIT");
  } catch (...) {
    rollback_quietly();
    throw;
  }
}

// Drops NOT NULL from the timing columns of pages, within the migration's transaction. PostgreSQL
// alters the columns; SQLite, whose ALTER TABLE cannot, has the table's stored definition edited,
// the procedure SQLite documents for dropping NOT NULL (lang_altertable.html, "other kinds of table
// schema changes"): the rows on disk do not change, so a database of any size migrates at once.
// The only REAL columns of pages are the timings.
void Database::relax_page_timings() {
  if (engine() == Engine::postgres) {
    std::string alterations;
    for (const char* column : {"dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "total_ms", "queue_ms"})
      alterations +=
          std::string(alterations.empty() ? "" : ", ") + "ALTER COLUMN " + column + " DROP NOT NULL";
    exec("ALTER TABLE pages " + alterations);
    return;
  }
  const int64_t cookie = single_integer(*this, "PRAGMA schema_version");
  exec("PRAGMA writable_schema = ON");
  exec(R"sql(UPDATE sqlite_schema SET sql = replace(sql, ' REAL NOT NULL', ' REAL')
WHERE type = 'table' AND name = 'pages')sql");
  exec("PRAGMA schema_version = " + std::to_string(cookie + 1));
  exec("PRAGMA writable_schema = RESET");
  if (single_integer(
          *this,
          R"sql(SELECT count(*) FROM pragma_table_info('pages') WHERE "notnull" AND type = 'REAL')sql") != 0)
    throw StorageError(
        "internal error: the timing columns of pages still refuse NULL after migration step 12");
}

void Database::exec(std::string_view sql) const {
  try {
    connection_->exec(sql);
  } catch (const StorageError& e) {
    throw StorageError((engine() == Engine::sqlite ? "SQLite failed on " : "PostgreSQL failed on ") + path_ +
                       ": " + e.what());
  }
}

Statement Database::prepare(std::string_view sql) const {
  try {
    return connection_->prepare(sql);
  } catch (const StorageError& e) {
    throw StorageError((engine() == Engine::sqlite ? "SQLite" : "PostgreSQL") +
                       std::string(" cannot prepare a statement on ") + path_ + ": " + e.what());
  }
}

int Database::schema_version() const {
  if (engine() == Engine::sqlite) return static_cast<int>(single_integer(*this, "PRAGMA user_version"));
  Statement marked = prepare(
      "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = "
      "'crawl_schema'");
  if (!marked.step() || marked.integer(0) == 0) return 0;
  Statement version = prepare("SELECT version FROM crawl_schema");
  return version.step() ? static_cast<int>(version.integer(0)) : 0;
}

void Database::begin_exclusive() const {
  if (engine() == Engine::sqlite) {
    exec("BEGIN IMMEDIATE");
    return;
  }
  exec("BEGIN");
  exec("SELECT pg_advisory_xact_lock(" + std::to_string(kApplicationId) + ")");
}

void Database::rollback_quietly() const noexcept {
  try {
    if (connection_ && connection_->in_transaction()) connection_->exec("ROLLBACK");
  } catch (...) {
    // The transaction is gone with the connection, or will be when it closes.
  }
}

bool Database::file_moved() const {
  sqlite3* raw = sqlite_handle(*connection_);
  int moved = 0;
  return raw && sqlite3_file_control(raw, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved;
}

std::vector<int64_t> runs_whose_process_is_gone(const Database& database) {
  const bool shares = database.schema_version() >= 8;
  Statement running = database.prepare(
      shares ? "SELECT id, host, pid, process_start, CASE WHEN next_seq IS NULL THEN 0 ELSE 1 END FROM runs "
               "WHERE status = 'running'"
             : "SELECT id, host, pid, process_start, 0 FROM runs WHERE status = 'running'");
  std::vector<int64_t> gone;
  std::optional<std::map<int64_t, int>> live;
  while (running.step()) {
    const ProcessIdentity who{.host = running.text(1), .pid = running.integer(2), .start = running.text(3)};
    const std::optional<bool> alive = is_running(who);
    if (alive == true) continue;
    if (!shares) {
      if (!alive.has_value()) continue;  // another machine's: nothing tells
    } else {
      // A run goes on while any of its sessions does: a shared run's workers, here or elsewhere,
      // and on another machine the run's own process while its heartbeat is recent.
      if (!live) live = live_sessions(database);
      if (live->contains(running.integer(0))) continue;
    }
    gone.push_back(running.integer(0));
  }
  return gone;
}

std::map<int64_t, int> live_sessions(const Database& database) {
  std::map<int64_t, int> live;
  // A process on another machine cannot be looked for: its session is taken for alive while its
  // writer has noted progress, or its heartbeat (WriterOptions::heartbeat, 5 s), within this long.
  // Machines' clocks are taken to agree within a few seconds (NTP).
  constexpr double kSilentFor = 60;
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string recent = iso8601_utc(now - kSilentFor);  // the format sorts as the time does
  Statement q = database.prepare(
      "SELECT run_id, host, pid, process_start, coalesce(ended_at, started_at) FROM run_sessions "
      "WHERE status = 'running'");
  while (q.step()) {
    const ProcessIdentity who{.host = q.text(1), .pid = q.integer(2), .start = q.text(3)};
    const std::optional<bool> alive = is_running(who);
    if (alive == true || (!alive.has_value() && q.text(4) >= recent)) ++live[q.integer(0)];
  }
  return live;
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
