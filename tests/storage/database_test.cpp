#include "storage/database.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "common/usage_error.hpp"
#include "tests/support/db.hpp"
#include "tests/support/process.hpp"

namespace crawl::storage {
namespace {

std::set<std::string> column_names(const std::string& path, const std::string& table) {
  std::set<std::string> names;
  for (auto& row : test::query_rows(path, "SELECT name FROM pragma_table_info('" + table + "')"))
    names.insert(*row["name"]);
  return names;
}

// A completed run as a crawl of version 1 stored it: only the columns every version has.
void insert_a_completed_run(const Database& db) {
  db.exec(
      "INSERT INTO runs (status, started_at, mode, processes, threads, fibers, concurrency, "
      "queue_capacity, consumers, callback_threads, parse, version, command_line) "
      "VALUES ('completed', '2024-01-01T00:00:00.000Z', 'fiber', 1, 1, 8, 8, 10, 1, 1, 1, '0.1.0', 'crawl "
      "run')");
}

TEST(Database, CreatesTheSchemaInANewFile) {
  test::TempDir dir;
  const std::string path = dir.file("new.db");
  { Database db = Database::open(path); }

  EXPECT_EQ(test::query_int(path, "PRAGMA user_version"), latest_schema_version());
  EXPECT_EQ(latest_schema_version(), 12);
  auto journal = test::query_rows(path, "PRAGMA journal_mode");
  EXPECT_EQ(*journal.at(0)["journal_mode"], "wal");

  std::set<std::string> runs = column_names(path, "runs");
  for (const char* column :
       {"id",          "status",        "started_at",      "ended_at",       "mode",      "processes",
        "threads",     "fibers",        "concurrency",     "queue_capacity", "consumers", "callback_threads",
        "parse",       "wall_s",        "crawl_s",         "user_s",         "sys_s",     "parse_cpu_s",
        "peak_rss_kb", "voluntary_ctx", "involuntary_ctx", "urls",           "pages_ok",  "pages_failed",
        "bytes_wire",  "bytes_body",    "pages_per_s",     "p50_ms",         "p90_ms",    "p99_ms",
        "version",     "command_line",  "bench_id",        "host",           "pid",       "process_start",
        "settings",    "sessions"})
    EXPECT_TRUE(runs.count(column)) << column;
  for (const char* column :
       {"connections", "tls_full", "tls_resumed", "connected_hosts", "max_host_connections"})
    EXPECT_TRUE(runs.count(column)) << column;
  EXPECT_EQ(column_names(path, "run_sources"),
            (std::set<std::string>{"run_id", "position", "source", "lines_read", "bytes_read", "size",
                                   "mtime_ns", "finished", "lines_done", "bytes_done"}));
  EXPECT_EQ(column_names(path, "frontier"),
            (std::set<std::string>{"run_id", "seq", "source", "line", "input", "url", "depth", "parent_url",
                                   "seed_host", "attempts", "not_before", "host"}));
  EXPECT_EQ(
      column_names(path, "host_leases"),
      (std::set<std::string>{"run_id", "host", "depth", "worker", "claim", "expires_at", "next_fetch_at"}));
  EXPECT_EQ(column_names(path, "run_urls"), (std::set<std::string>{"run_id", "url"}));
  EXPECT_TRUE(column_names(path, "runs").count("next_seq"));
  EXPECT_EQ(column_names(path, "frontier_links"),
            (std::set<std::string>{"run_id", "parent_seq", "depth", "seed_host", "links"}));

  std::set<std::string> pages = column_names(path, "pages");
  for (const char* column :
       {"id",      "run_id",       "seq",        "source",     "line",          "input",
        "url",     "final_url",    "status",     "error",      "error_message", "content_type",
        "charset", "wire_bytes",   "body_bytes", "text_bytes", "title",         "link_count",
        "depth",   "parent_url",   "attempts",   "redirects",  "dns_ms",        "connect_ms",
        "tls_ms",  "ttfb_ms",      "total_ms",   "queue_ms",   "worker",        "fetched_at",
        "host",    "http_version", "server_ip",  "etag",       "last_modified", "body_hash"})
    EXPECT_TRUE(pages.count(column)) << column;
  EXPECT_EQ(pages.size(), 37u);

  EXPECT_EQ(
      test::query_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'pages'"),
      2);
}

// The reports' queries still find their rows through an index where one is kept: `errors` through
// the partial index of failed pages, the run's count through pages_by_run_seq.
TEST(Database, ErrorsReportUsesThePartialIndex) {
  test::TempDir dir;
  const std::string path = dir.file("plan.db");
  { Database db = Database::open(path); }
  auto plan = test::query_rows(path,
                               "EXPLAIN QUERY PLAN SELECT error, count(*) FROM pages "
                               "WHERE run_id = 1 AND error IS NOT NULL GROUP BY error");
  std::string details;
  for (auto& row : plan) details += *row.at("detail") + "\n";
  EXPECT_NE(details.find("pages_failed_by_run"), std::string::npos) << details;
}

TEST(Database, MigratesAnEmptyExistingFile) {
  test::TempDir dir;
  const std::string path = dir.file("empty.db");
  test::write_file(path, "");  // zero bytes is a valid, empty SQLite database at version 0
  Database db = Database::open(path);
  EXPECT_EQ(db.schema_version(), latest_schema_version());
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM runs"), 0);
}

TEST(Database, ReopeningAtTheLatestVersionKeepsTheData) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  {
    Database db = Database::open(path);
    db.exec(
        "INSERT INTO runs (status, started_at, mode, processes, threads, fibers, concurrency, "
        "queue_capacity, "
        "consumers, callback_threads, parse, version, command_line) "
        "VALUES ('completed', '2024-01-01T00:00:00.000Z', 'thread', 1, 4, 1, 4, 10, 1, 1, 1, '0.1.0', 'crawl "
        "run')");
  }
  Database again = Database::open(path);
  EXPECT_EQ(again.schema_version(), latest_schema_version());
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM runs"), 1);
}

// Before version 12 a row never fetched had 0 in each timing column (NOT NULL); from 12 on it has
// NULL, and a fetched row keeps its times. The version-11 file is this one with the constraint put
// back as version 11 made it.
TEST(Database, RowsNeverFetchedHaveNullTimingsFromVersion12) {
  test::TempDir dir;
  const std::string path = dir.file("v11.db");
  const std::string timings = "dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, queue_ms";
  {
    Database db = Database::open(path);
    insert_a_completed_run(db);
    const std::string insert =
        "INSERT INTO pages (run_id, seq, source, line, input, url, wire_bytes, body_bytes, "
        "depth, attempts, redirects, worker, fetched_at, " +
        timings + ") VALUES ";
    db.exec(insert + "(1, 1, 'a.txt', 1, 'x', NULL, 0, 0, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 0, 0)");
    db.exec(insert +
            "(1, 2, 'a.txt', 2, 'http://127.0.0.1:1/', 'http://127.0.0.1:1/', 5, 5, 0, 1, 0, 't0', "
            "'2024-01-01T00:00:01.000Z', "
            "1, 2, 3, 4, 5, 6)");
    const int64_t cookie = test::query_int(path, "PRAGMA schema_version");
    db.exec(
        "DROP VIEW broken_links; DROP VIEW failed_pages; DROP VIEW host_summary; DROP TABLE run_hosts; "
        "PRAGMA writable_schema = "
        "ON; "
        "UPDATE sqlite_schema SET sql = replace(sql, ' REAL', ' REAL NOT NULL') WHERE name = 'pages'; "
        "PRAGMA schema_version = " +
        std::to_string(cookie + 1) + "; PRAGMA writable_schema = RESET; PRAGMA user_version = 11");
    EXPECT_THROW(db.exec("UPDATE pages SET total_ms = NULL"), StorageError);  // as version 11 was
  }
  Database db = Database::open(path);
  EXPECT_EQ(db.schema_version(), latest_schema_version());
  EXPECT_EQ(test::query_int(path,
                            "SELECT count(*) FROM pragma_table_info('pages') WHERE \"notnull\" AND name "
                            "IN ('dns_ms', 'connect_ms', 'tls_ms', 'ttfb_ms', 'total_ms', 'queue_ms')"),
            0);
  EXPECT_EQ(test::query_rows(path, "PRAGMA integrity_check")[0].at("integrity_check"), "ok");
  const auto rows = test::query_rows(path, "SELECT " + timings + " FROM pages ORDER BY seq");
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& [column, value] : rows[0]) EXPECT_EQ(value, std::nullopt) << column;
  EXPECT_EQ(rows[1].at("dns_ms"), "1.0");
  EXPECT_EQ(rows[1].at("queue_ms"), "6.0");
}

// A file written before `crawl bench` existed (version 1) gains the bench tables, trades two indexes
// for the partial one (version 4) and keeps its runs.
TEST(Database, MigratesVersionOneToTheBenchTables) {
  test::TempDir dir;
  const std::string path = dir.file("v1.db");
  {
    Database db = Database::open(path);
    insert_a_completed_run(db);
    // What version 1 had and later versions do not.
    db.exec(
        "DROP VIEW broken_links; DROP VIEW failed_pages; DROP VIEW host_summary; DROP TABLE run_hosts; "
        "DROP TABLE links; DROP TABLE bench_skips; DROP TABLE benches; DROP INDEX pages_failed_by_run; "
        "CREATE INDEX pages_by_run_total_ms ON pages(run_id, total_ms); "
        "CREATE INDEX pages_by_run_error ON pages(run_id, error); DROP TABLE run_sources; "
        "ALTER TABLE runs DROP COLUMN host; ALTER TABLE runs DROP COLUMN pid; "
        "ALTER TABLE runs DROP COLUMN process_start; ALTER TABLE runs DROP COLUMN settings; "
        "ALTER TABLE runs DROP COLUMN sessions; DROP TABLE frontier; DROP TABLE frontier_links; "
        "DROP TABLE run_sessions; ALTER TABLE runs DROP COLUMN connections; "
        "ALTER TABLE runs DROP COLUMN tls_full; ALTER TABLE runs DROP COLUMN tls_resumed; "
        "ALTER TABLE runs DROP COLUMN connected_hosts; ALTER TABLE runs DROP COLUMN max_host_connections; "
        "ALTER TABLE runs DROP COLUMN next_seq; DROP TABLE run_urls; DROP TABLE host_leases; "
        "ALTER TABLE runs DROP COLUMN parser; ALTER TABLE pages DROP COLUMN host; "
        "ALTER TABLE pages DROP COLUMN http_version; ALTER TABLE pages DROP COLUMN server_ip; "
        "ALTER TABLE pages DROP COLUMN etag; ALTER TABLE pages DROP COLUMN last_modified; "
        "ALTER TABLE pages DROP COLUMN body_hash; ALTER TABLE pages DROP COLUMN not_modified; PRAGMA "
        "user_version = 1");
  }
  Database db = Database::open(path);
  EXPECT_EQ(db.schema_version(), 12);
  // The views tools read from version 12.
  EXPECT_EQ(test::query_int(path,
                            "SELECT count(*) FROM sqlite_schema WHERE type = 'view' AND name IN "
                            "('failed_pages', 'broken_links', 'host_summary')"),
            3);
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM broken_links"), 0);
  // A page keeps its host, its validators and its body's hash from version 11.
  for (const char* column :
       {"host", "http_version", "server_ip", "etag", "last_modified", "body_hash", "not_modified"})
    EXPECT_EQ(column_names(path, "pages").count(column), 1u) << column;
  // A bench records the testbed's latency and the machine's cores from version 10.
  for (const char* column : {"latency_ms", "cores"})
    EXPECT_EQ(column_names(path, "benches").count(column), 1u);
  // A run from before version 9 did not record its parser.
  EXPECT_EQ(test::query_rows(path, "SELECT parser FROM runs")[0].at("parser"), std::nullopt);
  EXPECT_EQ(test::query_int(path, "SELECT sessions FROM runs"), 1);
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM frontier"), 0);
  // A run from before version 7 did not count its connections: NULL, not 0.
  EXPECT_EQ(test::query_rows(path, "SELECT connections, tls_full FROM runs")[0].at("tls_full"), std::nullopt);
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM run_sources"), 0);
  EXPECT_EQ(test::query_rows(path, "SELECT host, pid FROM runs")[0].at("host"), std::nullopt);
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM runs"), 1);
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM benches"), 0);
  EXPECT_EQ(column_names(path, "bench_skips"),
            (std::set<std::string>{"bench_id", "mode", "concurrency", "reason"}));
  EXPECT_EQ(column_names(path, "links"), (std::set<std::string>{"run_id", "from_seq", "from_url", "to_url"}));
  auto indexes = test::query_rows(
      path, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'pages' ORDER BY name");
  ASSERT_EQ(indexes.size(), 2u);
  EXPECT_EQ(*indexes[0].at("name"), "pages_by_run_seq");
  EXPECT_EQ(*indexes[1].at("name"), "pages_failed_by_run");
}

TEST(Database, WorksInMemory) {
  Database db = Database::open(":memory:");
  EXPECT_EQ(db.schema_version(), latest_schema_version());
  Statement statement = db.prepare("SELECT count(*) FROM pages");
  ASSERT_TRUE(statement.step());
  EXPECT_EQ(statement.integer(0), 0);
}

TEST(Database, RefusesAFileFromANewerCrawl) {
  test::TempDir dir;
  const std::string path = dir.file("future.db");
  {
    Database db = Database::open(path);
    db.exec("PRAGMA user_version = 99");
  }
  try {
    Database::open(path);
    FAIL() << "opened a version 99 file";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("newer crawl"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Database::open(path, {.access = Access::read_only}), StorageError);
}

TEST(Database, ReadOnlyOpenOfAMissingFileSaysWhatToDo) {
  test::TempDir dir;
  const std::string path = dir.file("missing.db");
  try {
    Database::open(path, {.access = Access::read_only});
    FAIL() << "opened a missing file";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()), "no database at " + path + ": run `crawl run` first or pass --db");
  }
  EXPECT_FALSE(std::filesystem::exists(path)) << "a read-only open must not create the file";
}

TEST(Database, ReadOnlyConnectionCannotWrite) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  { Database::open(path); }
  Database db = Database::open(path, {.access = Access::read_only});
  EXPECT_EQ(db.schema_version(), latest_schema_version());
  EXPECT_THROW(db.exec("DELETE FROM runs"), StorageError);
}

// The directory of a new database is part of the path given: its absence is a usage error.
TEST(Database, WriteOpenInAMissingDirectoryIsAUsageErrorWithAHint) {
  test::TempDir dir;
  const std::string path = dir.file("no/such/dir/crawl.db");
  try {
    Database::open(path);
    FAIL() << "opened " << path;
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot make the database " + path + ": " + dir.file("no/such/dir") +
                                         " does not exist (create it, or pass --db with another path)");
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("no")));
}

TEST(Database, AFileThatIsNotADatabaseIsReported) {
  test::TempDir dir;
  const std::string path = dir.file("urls.txt");
  test::write_file(path, std::string(4096, 'x'));
  for (Access access : {Access::read_write, Access::read_only}) {
    try {
      Database::open(path, {.access = access});
      FAIL() << "opened a text file";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("is not a SQLite database"), std::string::npos) << e.what();
    }
  }
}

TEST(Database, MarksNewFilesWithCrawlsApplicationId) {
  test::TempDir dir;
  const std::string path = dir.file("new.db");
  { Database::open(path); }
  EXPECT_EQ(test::query_int(path, "PRAGMA application_id"), 0x4352574C);  // "CRWL"
  EXPECT_EQ(kApplicationId, ('C' << 24) | ('R' << 16) | ('W' << 8) | 'L');
}

// Files written before the mark existed have crawl's tables and a schema version, and no mark.
TEST(Database, MarksACrawlDatabaseFromBeforeTheMark) {
  test::TempDir dir;
  const std::string path = dir.file("old.db");
  { Database::open(path); }
  test::exec_sql(path, "PRAGMA application_id = 0");
  { Database db = Database::open(path, {.access = Access::read_only}); }
  EXPECT_EQ(test::query_int(path, "PRAGMA application_id"), 0) << "a reader does not write";
  { Database::open(path); }
  EXPECT_EQ(test::query_int(path, "PRAGMA application_id"), kApplicationId);
}

TEST(Database, RefusesAnotherProgramsDatabaseWithoutWritingToIt) {
  test::TempDir dir;
  const std::vector<std::pair<std::string, const char*>> files = {
      {"tables.db", "CREATE TABLE notes (x); INSERT INTO notes VALUES (1);"},
      {"version.db", "PRAGMA user_version = 3;"},
      {"marked.db",
       "PRAGMA application_id = 7; CREATE TABLE runs (x); CREATE TABLE pages (x); PRAGMA user_version = 4;"},
      {"wal.db", "PRAGMA journal_mode = WAL; CREATE TABLE notes (x);"},
  };
  for (const auto& [name, sql] : files) {
    SCOPED_TRACE(name);
    const std::string path = dir.file(name);
    test::exec_sql(path, sql);
    const std::string before = test::read_file(path);
    for (Access access : {Access::read_write, Access::read_only}) {
      try {
        Database::open(path, {.access = access});
        FAIL() << "opened another program's database";
      } catch (const UsageError& e) {
        EXPECT_NE(std::string(e.what()).find(path + " is a SQLite database but not a crawl database"),
                  std::string::npos)
            << e.what();
      }
    }
    EXPECT_EQ(test::read_file(path), before);
    for (const char* suffix : {"-journal", "-wal", "-shm"})
      EXPECT_FALSE(std::filesystem::exists(path + suffix)) << suffix;
  }
}

TEST(Database, ReadOnlyOpenOfAnEmptyFileSaysItIsNotACrawlDatabase) {
  test::TempDir dir;
  const std::string path = dir.file("empty.db");
  test::write_file(path, "");
  EXPECT_THROW(Database::open(path, {.access = Access::read_only}), UsageError);
  { Database::open(path); }  // but a run may start one there
  EXPECT_EQ(test::query_int(path, "PRAGMA application_id"), kApplicationId);
}

// A read-only connection cannot remove the -wal and -shm files it creates; readers must not leave
// them behind.
TEST(Database, ReadersLeaveNoWalOrShmFiles) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  { Database::open(path); }
  ASSERT_FALSE(std::filesystem::exists(path + "-wal"));
  {
    Database db = Database::open(path, {.access = Access::read_only});
    EXPECT_EQ(db.schema_version(), latest_schema_version());
  }
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
  EXPECT_FALSE(std::filesystem::exists(path + "-shm"));
}

TEST(Database, FormatsTimesAsIsoUtcWithMilliseconds) {
  EXPECT_EQ(iso8601_utc(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601_utc(1714566896.789), "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(iso8601_utc(1714566896.9996), "2024-05-01T12:34:57.000Z");
}

}  // namespace
}  // namespace crawl::storage
