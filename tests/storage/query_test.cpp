#include "storage/query.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/usage_error.hpp"
#include "storage/database.hpp"
#include "storage/writer.hpp"
#include "tests/support/db.hpp"
#include "tests/support/process.hpp"

namespace crawl::storage {
namespace {

// A crawl database with one more small table holding every kind of value.
std::string make_sample_db(const test::TempDir& dir) {
  const std::string path = dir.file("sample.db");
  { Database::open(path); }
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* script = R"sql(
    CREATE TABLE t (id INTEGER, name TEXT, score REAL, note TEXT, data BLOB);
    INSERT INTO t VALUES (1, 'plain', 1.5, NULL, NULL);
    INSERT INTO t VALUES (22, 'comma, "quote"', 10.0, 'line1' || char(10) || 'line2', x'0102');
  )sql";
  EXPECT_EQ(sqlite3_exec(db, script, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
  return path;
}

constexpr const char* kSampleQuery = "SELECT id, name, score, note, data FROM t ORDER BY id";

std::string query_output(const std::string& path, const std::string& sql, Format format,
                         std::optional<int64_t> run_id = std::nullopt) {
  std::ostringstream out;
  run_query(path, sql, format, out, run_id);
  return out.str();
}

template <class Error>
std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

TEST(Query, ParsesFormatNames) {
  EXPECT_EQ(parse_format("table"), Format::table);
  EXPECT_EQ(parse_format("csv"), Format::csv);
  EXPECT_EQ(parse_format("json"), Format::json);
  EXPECT_EQ(parse_format("jsonl"), Format::jsonl);
  EXPECT_EQ(error_of<UsageError>([] { parse_format("xml"); }),
            "--format 'xml' is not a format: use table, csv, json or jsonl");
}

TEST(Query, TableAlignsNumbersRightAndTextLeft) {
  test::TempDir dir;
  const std::string path = make_sample_db(dir);
  EXPECT_EQ(query_output(path, kSampleQuery, Format::table),
            "id  name            score  note         data\n"
            "--  --------------  -----  -----------  ---------------\n"
            " 1  plain             1.5\n"
            "22  comma, \"quote\"   10.0  line1 line2  (blob: 2 bytes)\n"
            "(2 rows)\n");
}

TEST(Query, TableCutsLongCellsAtACharacterBoundary) {
  test::TempDir dir;
  const std::string path = dir.file("long.db");
  std::string accented;
  for (int i = 0; i < 100; ++i) accented += "é";
  { Database::open(path); }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "CREATE TABLE t (v TEXT)", nullptr, nullptr, nullptr);
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?1)", -1, &insert, nullptr);
    sqlite3_bind_text(insert, 1, accented.c_str(), -1, nullptr);
    ASSERT_EQ(sqlite3_step(insert), SQLITE_DONE);
    sqlite3_finalize(insert);
    sqlite3_close(db);
  }
  std::string cut;
  for (int i = 0; i < 59; ++i) cut += "é";
  cut += "…";
  EXPECT_EQ(query_output(path, "SELECT v FROM t", Format::table),
            "v\n" + std::string(60, '-') + "\n" + cut + "\n(1 row)\n");
  // Only the table cuts: the other formats carry the whole value.
  EXPECT_EQ(query_output(path, "SELECT v FROM t", Format::csv), "v\n" + accented + "\n");
}

TEST(Query, TableOfNoRowsStillShowsTheColumns) {
  test::TempDir dir;
  const std::string path = make_sample_db(dir);
  EXPECT_EQ(query_output(path, "SELECT id, name FROM t WHERE id < 0", Format::table),
            "id  name\n"
            "--  ----\n"
            "(0 rows)\n");
}

TEST(Query, CsvQuotesLikeRfc4180) {
  test::TempDir dir;
  const std::string path = make_sample_db(dir);
  EXPECT_EQ(query_output(path, kSampleQuery, Format::csv),
            "id,name,score,note,data\n"
            "1,plain,1.5,,\n"
            "22,\"comma, \"\"quote\"\"\",10.0,\"line1\nline2\",(blob: 2 bytes)\n");
}

// Any control byte is quoted, so no CSV reader meets one outside quotes; NUL, which CSV cannot
// carry, becomes U+FFFD.
TEST(Query, CsvQuotesControlCharactersAndReplacesNul) {
  test::TempDir dir;
  const std::string path = make_sample_db(dir);
  EXPECT_EQ(
      query_output(
          path,
          "SELECT 'a' || char(0) || 'b' AS nul, 'tab' || char(9) AS tab, char(1) AS soh, "
          "'cr' || char(13) AS cr, char(127) AS del, 'plain' AS \"x,y\", CAST(x'610062' AS TEXT) AS raw",
          Format::csv),
      "nul,tab,soh,cr,del,\"x,y\",raw\n"
      "\"a\xEF\xBF\xBD"
      "b\",\"tab\t\",\"\x01\",\"cr\r\",\"\x7f\",plain,\"a\xEF\xBF\xBD"
      "b\"\n");
}

TEST(Query, JsonKeepsTypesAndColumnOrder) {
  test::TempDir dir;
  const std::string path = make_sample_db(dir);
  EXPECT_EQ(query_output(path, kSampleQuery, Format::json),
            "[\n"
            "{\"id\":1,\"name\":\"plain\",\"score\":1.5,\"note\":null,\"data\":null},\n"
            "{\"id\":22,\"name\":\"comma, \\\"quote\\\"\",\"score\":10.0,\"note\":\"line1\\nline2\","
            "\"data\":\"(blob: 2 bytes)\"}\n"
            "]\n");
  EXPECT_EQ(query_output(path, "SELECT * FROM t WHERE id < 0", Format::json), "[]\n");
}

TEST(Query, JsonLinesIsOneObjectPerLine) {
  test::TempDir dir;
  const std::string path = make_sample_db(dir);
  EXPECT_EQ(query_output(path, "SELECT id, score, note FROM t ORDER BY id", Format::jsonl),
            "{\"id\":1,\"score\":1.5,\"note\":null}\n"
            "{\"id\":22,\"score\":10.0,\"note\":\"line1\\nline2\"}\n");
}

TEST(Query, JsonReplacesInvalidUtf8InsteadOfFailing) {
  test::TempDir dir;
  const std::string path = make_sample_db(dir);
  std::string out = query_output(path, "SELECT CAST(x'41FF42' AS TEXT) AS bad", Format::jsonl);
  EXPECT_EQ(out,
            "{\"bad\":\"A\xEF\xBF\xBD"
            "B\"}\n");
}

// A repeated column name (a join's p.status and r.status) would be one key of the object, the
// later value winning: each gets a name of its own.
TEST(Query, JsonNamesRepeatedColumnsApart) {
  test::TempDir dir;
  const std::string path = make_sample_db(dir);
  EXPECT_EQ(query_output(path, "SELECT 1 AS a, 2 AS a, 3 AS a_2, 4 AS a", Format::jsonl),
            "{\"a\":1,\"a_3\":2,\"a_2\":3,\"a_4\":4}\n");
  EXPECT_EQ(query_output(path, "SELECT 1 AS a, 2 AS a", Format::csv), "a,a\n1,2\n");
}

// Text from the web need not be UTF-8; CSV readers decode it as UTF-8 and fail on the first bad
// byte. C1 controls are controls like any other: quoted.
TEST(Query, CsvIsValidUtf8AndQuotesC1Controls) {
  test::TempDir dir;
  const std::string path = make_sample_db(dir);
  EXPECT_EQ(query_output(path, "SELECT CAST(x'ff41fe' AS TEXT) AS bad, 'x' || char(155) || 'y' AS csi",
                         Format::csv),
            "bad,csi\n"
            "\xEF\xBF\xBD"
            "A\xEF\xBF\xBD,\"x\xC2\x9By\"\n");
}

// The table shows no control a terminal would act on (escape sequences, C1, bidirectional
// overrides that reorder the line), and lines up wide and combining characters by the columns
// they take.
TEST(Query, TableShowsNoControlsAndAlignsByColumnsTaken) {
  test::TempDir dir;
  const std::string path = make_sample_db(dir);
  EXPECT_EQ(query_output(path,
                         "SELECT char(12484, 12484, 12484) AS a, 'b' AS b UNION ALL SELECT 'abc', 'b' "
                         "UNION ALL SELECT 'e' || char(769) || 'x', 'b' UNION ALL "
                         "SELECT char(27) || '[31m' || char(155) || char(8238) || 'z' || char(8236), 'b' "
                         "UNION ALL SELECT CAST(x'41ff' AS TEXT), 'b'",
                         Format::table),
            "a          b\n"
            "---------  -\n"
            "ツツツ     b\n"
            "abc        b\n"
            "e\xCC\x81x         b\n"
            " [31m  z   b\n"
            "A\xEF\xBF\xBD         b\n"
            "(5 rows)\n");
}

TEST(Query, RefusesStatementsThatWrite) {
  test::TempDir dir;
  const std::string path = make_sample_db(dir);
  for (const char* sql : {"INSERT INTO t (id) VALUES (3)", "DROP TABLE t", "UPDATE t SET id = 0",
                          "CREATE TABLE u (x)", "PRAGMA user_version = 5"}) {
    std::string message = error_of<UsageError>([&] { query_output(path, sql, Format::table); });
    EXPECT_EQ(message.rfind("the database is opened read-only by `crawl query`: ", 0), 0u)
        << sql << ": " << message;
  }
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM t"), 2);
  EXPECT_EQ(test::query_int(path, "PRAGMA user_version"), latest_schema_version());
}

TEST(Query, SqlErrorsCarrySQLitesMessage) {
  test::TempDir dir;
  const std::string path = make_sample_db(dir);
  std::string message =
      error_of<UsageError>([&] { query_output(path, "SELECT nope FROM t", Format::table); });
  EXPECT_NE(message.find("no such column: nope"), std::string::npos) << message;
  message = error_of<UsageError>([&] { query_output(path, "SELEC 1", Format::table); });
  EXPECT_NE(message.find("syntax error"), std::string::npos) << message;
  message = error_of<UsageError>([&] { query_output(path, "SELECT 1; SELECT 2", Format::table); });
  EXPECT_NE(message.find("one SQL statement at a time"), std::string::npos) << message;
  message = error_of<UsageError>([&] { query_output(path, "  -- only a comment", Format::table); });
  EXPECT_NE(message.find("no SQL statement given"), std::string::npos) << message;
  EXPECT_EQ(query_output(path, "SELECT 1 AS one; -- trailing", Format::csv), "one\n1\n");
  // Errors SQLite reports with other codes than SQLITE_ERROR are the SQL's too.
  message = error_of<UsageError>([&] { query_output(path, "SELECT zeroblob(2000000000)", Format::table); });
  EXPECT_NE(message.find("too big"), std::string::npos) << message;
  // The hint names every table and view there is to read.
  message = error_of<UsageError>([&] { query_output(path, "SELECT nope FROM t", Format::table); });
  EXPECT_NE(
      message.find(
          "runs, pages, benches, bench_skips, links, run_sources, frontier, frontier_links, "
          "run_sessions, run_urls, host_leases, run_hosts, t, failed_pages, broken_links, host_summary;"),
      std::string::npos)
      << message;
}

TEST(Query, RefusesADatabaseOfAnotherProgram) {
  test::TempDir dir;
  const std::string path = dir.file("other.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE notes (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  std::string message = error_of<UsageError>([&] { query_output(path, "SELECT * FROM notes", Format::csv); });
  EXPECT_NE(message.find("not a crawl database"), std::string::npos) << message;
  message = error_of<UsageError>([&] {
    std::ostringstream out;
    list_runs(path, Format::csv, out, 5);
  });
  EXPECT_NE(message.find("not a crawl database"), std::string::npos) << message;
}

TEST(Query, AMissingDatabaseSaysHowToGetOne) {
  test::TempDir dir;
  const std::string path = dir.file("nothing.db");
  EXPECT_EQ(error_of<UsageError>([&] { query_output(path, "SELECT 1", Format::table); }),
            "no database at " + path + ": run `crawl run` first or pass --db");
  EXPECT_THROW(
      {
        std::ostringstream out;
        list_runs(path, Format::table, out, 10);
      },
      UsageError);
}

TEST(Query, UnknownReportsListTheKnownOnes) {
  std::string message = error_of<UsageError>([] { report_sql("fastest"); });
  EXPECT_NE(message.find("there is no report 'fastest'"), std::string::npos) << message;
  EXPECT_NE(message.find("slowest, errors"), std::string::npos) << message;
  std::vector<std::string> names;
  for (const auto& report : reports()) names.push_back(report.name);
  for (const char* required : {"summary", "slowest", "errors", "largest", "statuses"})
    EXPECT_NE(std::find(names.begin(), names.end(), required), names.end()) << required;
}

// Two runs through the real writer: the second has a mix of successes and failures.
struct Crawled {
  std::string path;
  int64_t first_run = 0;
  int64_t second_run = 0;
};

PageRecord page(int64_t seq, long status, int64_t body_bytes, double total_ms, std::string error = "") {
  PageRecord r;
  r.seq = seq;
  r.source = "urls.txt";
  r.line = seq;
  r.input = "http://127.0.0.1:8080/page/" + std::to_string(seq);
  r.url = r.input;
  r.status = status;
  if (status) r.final_url = r.input;
  r.body_bytes = body_bytes;
  r.wire_bytes = body_bytes;
  r.error = category_named(error).value();
  if (!error.empty()) r.error_message = error + " on page " + std::to_string(seq);
  r.attempts = 1;
  r.timings.total_ms = total_ms;
  r.timings.ttfb_ms = total_ms / 2;
  r.worker = "t" + std::to_string(seq % 2);
  r.fetched_at = 1714566897;
  return r;
}

Crawled crawl_two_runs(const test::TempDir& dir) {
  Crawled crawled{.path = dir.file("crawl.db")};
  RunConfig config{
      .mode = "thread", .threads = 4, .concurrency = 4, .version = "0.1.0", .command_line = "crawl run"};
  auto first = ResultWriter::open({.path = crawled.path}, config);
  first->submit(page(1, 200, 10, 1));
  first->finish(RunStats{.urls = 1, .pages_ok = 1});
  crawled.first_run = first->run_id();

  config.mode = "fiber";
  config.threads = 1;
  config.fibers = 64;
  config.concurrency = 64;
  auto second = ResultWriter::open({.path = crawled.path}, config);
  second->submit(page(1, 200, 5000, 12.5));
  second->submit(page(2, 200, 90000, 40));
  second->submit(page(3, 404, 300, 3, "http_4xx"));
  second->submit(page(4, 0, 0, 1000, "timeout"));
  second->submit(page(5, 0, 0, 1000, "timeout"));
  second->submit(page(6, 500, 20, 2, "http_5xx"));
  second->finish(RunStats{.wall_s = 1.5, .urls = 6, .pages_ok = 2, .pages_failed = 4, .pages_per_s = 4});
  crawled.second_run = second->run_id();
  return crawled;
}

std::vector<nlohmann::json> report_rows(const Crawled& crawled, std::string_view report,
                                        std::optional<int64_t> run_id = std::nullopt) {
  std::string out = query_output(crawled.path, report_sql(report), Format::json, run_id);
  return nlohmann::json::parse(out).get<std::vector<nlohmann::json>>();
}

TEST(Reports, EveryReportRunsInEveryFormat) {
  test::TempDir dir;
  Crawled crawled = crawl_two_runs(dir);
  for (const auto& report : reports())
    for (Format format : {Format::table, Format::csv, Format::json, Format::jsonl}) {
      std::string out;
      EXPECT_NO_THROW(out = query_output(crawled.path, report_sql(report.name), format)) << report.name;
      EXPECT_FALSE(out.empty()) << report.name;
    }
}

TEST(Reports, SummaryDefaultsToTheLatestRun) {
  test::TempDir dir;
  Crawled crawled = crawl_two_runs(dir);
  auto latest = report_rows(crawled, "summary");
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0]["run"], crawled.second_run);
  EXPECT_EQ(latest[0]["mode"], "fiber");
  EXPECT_EQ(latest[0]["layout"], "1x1x64");
  EXPECT_EQ(latest[0]["pages"], 6);
  EXPECT_EQ(latest[0]["ok"], 2);
  EXPECT_EQ(latest[0]["failed"], 4);
  EXPECT_EQ(latest[0]["wall_s"], 1.5);

  auto first = report_rows(crawled, "summary", crawled.first_run);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0]["run"], crawled.first_run);
  EXPECT_EQ(first[0]["pages"], 1);
}

TEST(Reports, ErrorsAreCountedByCategoryWithAnExample) {
  test::TempDir dir;
  Crawled crawled = crawl_two_runs(dir);
  auto rows = report_rows(crawled, "errors");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["error"], "timeout");  // the most pages first
  EXPECT_EQ(rows[0]["pages"], 2);
  EXPECT_EQ(rows[0]["pct"], 33.3);
  EXPECT_EQ(rows[0]["first_seq"], 4);
  EXPECT_EQ(rows[0]["example_message"], "timeout on page 4");
  EXPECT_EQ(rows[1]["error"], "http_4xx");  // ties are ordered by name
  EXPECT_EQ(rows[1]["pages"], 1);
  EXPECT_EQ(rows[1]["example_message"], "http_4xx on page 3");
  EXPECT_EQ(rows[2]["error"], "http_5xx");
  EXPECT_EQ(rows[2]["first_seq"], 6);
  EXPECT_TRUE(report_rows(crawled, "errors", crawled.first_run).empty());
}

TEST(Reports, SlowestLargestAndStatusesOrderTheirRows) {
  test::TempDir dir;
  Crawled crawled = crawl_two_runs(dir);
  auto slowest = report_rows(crawled, "slowest");
  ASSERT_EQ(slowest.size(), 6u);
  EXPECT_EQ(slowest[0]["seq"], 4);
  EXPECT_EQ(slowest[0]["total_ms"], 1000.0);
  EXPECT_EQ(slowest[5]["seq"], 6);

  auto largest = report_rows(crawled, "largest");
  EXPECT_EQ(largest[0]["seq"], 2);
  EXPECT_EQ(largest[0]["body_bytes"], 90000);

  auto statuses = report_rows(crawled, "statuses");
  ASSERT_EQ(statuses.size(), 4u);
  EXPECT_TRUE(statuses[0]["status"].is_null()) << "no response sorts first";
  EXPECT_EQ(statuses[0]["pages"], 2);
  EXPECT_EQ(statuses[1]["status"], 200);
  EXPECT_EQ(statuses[1]["pages"], 2);
  EXPECT_EQ(statuses[3]["status"], 500);
}

TEST(Reports, RunIdsAreCheckedAndBoundToParametersOneAndTwo) {
  test::TempDir dir;
  Crawled crawled = crawl_two_runs(dir);
  EXPECT_EQ(query_output(crawled.path, "SELECT ?1 AS run", Format::csv),
            "run\n" + std::to_string(crawled.second_run) + "\n");
  EXPECT_EQ(query_output(crawled.path, "SELECT ?1 AS run", Format::csv, crawled.first_run),
            "run\n" + std::to_string(crawled.first_run) + "\n");
  std::string message =
      error_of<UsageError>([&] { query_output(crawled.path, "SELECT ?1", Format::csv, int64_t{999}); });
  EXPECT_NE(message.find("there is no run 999"), std::string::npos) << message;
  message =
      error_of<UsageError>([&] { query_output(crawled.path, "SELECT 1", Format::csv, crawled.first_run); });
  EXPECT_NE(message.find("--run applies to"), std::string::npos) << message;
  // ?2 is the run compared against: by default the run before ?1's.
  EXPECT_EQ(
      query_output(crawled.path, "SELECT ?1 AS run, ?2 AS against", Format::csv),
      "run,against\n" + std::to_string(crawled.second_run) + "," + std::to_string(crawled.first_run) + "\n");
  message = error_of<UsageError>(
      [&] { query_output(crawled.path, "SELECT ?1, ?2", Format::csv, crawled.first_run); });
  EXPECT_NE(message.find("no earlier run"), std::string::npos) << message;
  message = error_of<UsageError>([&] { query_output(crawled.path, "SELECT ?1, ?2, ?3", Format::csv); });
  EXPECT_NE(message.find("binds two parameters"), std::string::npos) << message;
}

TEST(Reports, ADatabaseWithoutRunsSaysSo) {
  test::TempDir dir;
  const std::string path = dir.file("empty.db");
  { Database::open(path); }
  std::string message =
      error_of<UsageError>([&] { query_output(path, report_sql("summary"), Format::table); });
  EXPECT_EQ(message, "there are no runs in " + path + " yet: run `crawl run` first");
}

TEST(Reports, BadSqlOnACrawlDatabaseIsAUsageError) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  { Database::open(path); }  // WAL mode, as runs leave it
  std::string message =
      error_of<UsageError>([&] { query_output(path, "SELECT x FROM pages", Format::table); });
  EXPECT_NE(message.find("no such column: x"), std::string::npos) << message;
}

TEST(Runs, ListsNewestFirstWithTheLayout) {
  test::TempDir dir;
  Crawled crawled = crawl_two_runs(dir);
  std::ostringstream out;
  list_runs(crawled.path, Format::jsonl, out, 10);
  std::istringstream lines(out.str());
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["run"], crawled.second_run);
  EXPECT_EQ(rows[0]["layout"], "1x1x64");
  EXPECT_EQ(rows[0]["concurrency"], 64);
  EXPECT_EQ(rows[0]["urls"], 6);
  EXPECT_EQ(rows[0]["ok"], 2);
  EXPECT_EQ(rows[0]["failed"], 4);
  EXPECT_EQ(rows[0]["status"], "completed");
  EXPECT_EQ(rows[1]["run"], crawled.first_run);
  EXPECT_EQ(rows[1]["layout"], "1x4x1");
  for (const char* column : {"started_at", "mode", "wall_s", "pages_per_s", "p50_ms", "p99_ms"})
    EXPECT_TRUE(rows[0].contains(column)) << column;

  std::ostringstream limited;
  list_runs(crawled.path, Format::csv, limited, 1);
  const std::string text = limited.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  EXPECT_THROW(list_runs(crawled.path, Format::csv, limited, 0), UsageError);
}

TEST(Runs, ARunStillGoingCountsItsPagesSoFar) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  auto writer =
      ResultWriter::open({.path = path, .batch_interval = std::chrono::milliseconds(1)},
                         RunConfig{.mode = "thread", .version = "0.1.0", .command_line = "crawl run"});
  writer->submit(page(1, 200, 10, 1));
  writer->submit(page(2, 0, 0, 1, "timeout"));
  while (writer->rows_written() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::ostringstream out;
  list_runs(path, Format::jsonl, out, 10);
  auto row = nlohmann::json::parse(out.str());
  EXPECT_EQ(row["status"], "running");
  EXPECT_EQ(row["urls"], 2);
  EXPECT_EQ(row["ok"], 1);
  EXPECT_EQ(row["failed"], 1);
  writer->finish(RunStats{});
}

TEST(Reports, ListsThemselves) {
  std::ostringstream out;
  print_reports(Format::csv, out);
  EXPECT_EQ(out.str().rfind("name,description\nsummary,", 0), 0u) << out.str();
}

}  // namespace
}  // namespace crawl::storage
