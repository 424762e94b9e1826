// The same product on a PostgreSQL database as on an SQLite file: `crawl run`, `runs`, `query` (every
// report, read-only), `bench` and `resume` against a real PostgreSQL 15 server the tests start.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "storage/database.hpp"
#include "tests/support/db.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

using test::query_int;

void execute(const std::string& uri, const std::string& sql) {
  PGconn* conn = PQconnectdb(uri.c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* result = PQexec(conn, sql.c_str());
  EXPECT_EQ(PQresultStatus(result), PGRES_COMMAND_OK) << PQresultErrorMessage(result);
  PQclear(result);
  PQfinish(conn);
}

// Waits up to 30 s for `table` to have a row (a crawl started in the background has got that far).
void wait_for_a_row(const std::string& uri, const std::string& table) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < until) {
    try {
      if (query_int(uri, "select count(*) from " + table) > 0) return;
    } catch (const std::exception&) {
      // the schema is not there yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "no row in " << table << " after 30 s";
}

// `crawl run` in the background on `pages` testbed pages that each take `delay_ms`, into `pg`.
test::Child crawl_in_background(test::TempDir& dir, const test::Testbed& testbed, const std::string& pg,
                                int pages, int delay_ms, int concurrency) {
  std::string list;
  for (int i = 0; i < pages; ++i)
    list += testbed.url("/delay/" + std::to_string(delay_ms) + "/page/" + std::to_string(i)) + "\n";
  test::write_file(dir.file("list.txt"), list);
  return test::Child({test::crawl_binary(), "run", dir.file("list.txt"), "--db", pg, "-c",
                      std::to_string(concurrency), "--no-progress"});
}

// 60 pages, a bad line, a 404, a redirect and a duplicate line.
std::string write_list(test::TempDir& dir, const test::Testbed& testbed) {
  std::string list = "# pages\n";
  for (int i = 0; i < 60; ++i) list += testbed.url("/page/" + std::to_string(i)) + "\n";
  list += "not a url\n";
  list += testbed.url("/status/404") + "\n";
  list += testbed.url("/redirect/2/page/7") + "\n";
  list += testbed.url("/page/3") + "\n";
  const std::string path = dir.file("list.txt");
  test::write_file(path, list);
  return path;
}

TEST(Postgres, ARunStoresTheRowsAnSqliteRunStores) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  const std::string list = write_list(dir, testbed);
  const std::string pg = test::fresh_postgres_database("same_rows");
  const std::string file = dir.file("c.db");

  for (const std::string& db : {pg, file}) {
    auto r = test::run_crawl({"run", list, "--db", db, "--no-progress", "-c", "8"});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_NE(r.out.find("stored in " + db + " as run 1"), std::string::npos) << r.out;
  }
  EXPECT_EQ(query_int(pg, "select count(*) from pages"), 64);
  EXPECT_EQ(query_int(pg, "select count(*) from runs where status = 'completed'"), 1);
  EXPECT_EQ(query_int(pg, "select count(*) from run_sessions where status = 'completed'"), 1);
  EXPECT_EQ(query_int(pg, "select count(*) from frontier"), 0);

  // Every column that does not measure time or name the worker is the same in both stores, read
  // through `crawl query` as a user reads it.
  const std::string rows =
      "select seq, source, line, input, url, final_url, status, error, error_message, content_type, charset, "
      "wire_bytes, body_bytes, text_bytes, title, link_count, depth, parent_url, attempts, redirects, "
      "fetched_at is null as never_fetched from pages order by seq";
  auto from_pg = test::run_crawl({"query", "--db", pg, "--format", "csv", rows});
  auto from_file = test::run_crawl({"query", "--db", file, "--format", "csv", rows});
  ASSERT_EQ(from_pg.exit_code, 0) << from_pg.err;
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  // PostgreSQL's booleans print as integers through crawl query, as SQLite's do.
  EXPECT_EQ(from_pg.out, from_file.out);
  EXPECT_GT(from_pg.out.size(), 3000u);

  // The run's stored totals agree too.
  const std::string totals =
      "select status, mode, urls, pages_ok, pages_failed, bytes_wire, bytes_body, sessions from runs";
  EXPECT_EQ(test::run_crawl({"query", "--db", pg, "--format", "csv", totals}).out,
            test::run_crawl({"query", "--db", file, "--format", "csv", totals}).out);
}

TEST(Postgres, RunsAndEveryReportWorkAndQueriesCannotWrite) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  const std::string list = write_list(dir, testbed);
  const std::string pg = test::fresh_postgres_database("reports");
  // Twice: the changes report compares a run with the one before.
  ASSERT_EQ(test::run_crawl({"run", list, "--db", pg, "--no-progress"}).exit_code, 0);
  ASSERT_EQ(test::run_crawl({"run", list, "--db", pg, "--no-progress"}).exit_code, 0);

  auto runs = test::run_crawl({"runs", "--db", pg});
  ASSERT_EQ(runs.exit_code, 0) << runs.err;
  EXPECT_NE(runs.out.find("completed"), std::string::npos) << runs.out;

  auto listed = test::run_crawl({"query", "--list-reports", "--format", "csv"});
  ASSERT_EQ(listed.exit_code, 0);
  std::vector<std::string> names;
  for (size_t start = listed.out.find('\n') + 1; start < listed.out.size();) {
    const size_t end = listed.out.find('\n', start);
    const std::string line = listed.out.substr(start, end - start);
    if (!line.empty()) names.push_back(line.substr(0, line.find(',')));
    start = end == std::string::npos ? listed.out.size() : end + 1;
  }
  ASSERT_GE(names.size(), 7u);
  for (const std::string& name : names) {
    // csv: the changes between two crawls of one list may be none, and the header still shows.
    auto r = test::run_crawl({"query", "--db", pg, "--report", name, "--format", "csv"});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_FALSE(r.out.empty()) << name;
  }
  auto errors = test::run_crawl({"query", "--db", pg, "--report", "errors", "--format", "csv"});
  EXPECT_NE(errors.out.find("bad_url,1,"), std::string::npos) << errors.out;
  EXPECT_NE(errors.out.find("http_4xx,1,"), std::string::npos) << errors.out;
  // group_concat, which PostgreSQL lacks, is defined in the database for the hosts report.
  auto hosts = test::run_crawl({"query", "--db", pg, "--report", "hosts", "--format", "csv"});
  EXPECT_NE(hosts.out.find("http_4xx 1"), std::string::npos) << hosts.out;

  auto write = test::run_crawl({"query", "--db", pg, "delete from pages"});
  EXPECT_EQ(write.exit_code, 2);
  EXPECT_NE(write.err.find("read-only"), std::string::npos) << write.err;
  EXPECT_EQ(query_int(pg, "select count(*) from pages"), 2 * 64);
  auto two = test::run_crawl({"query", "--db", pg, "select 1; select 2"});
  EXPECT_EQ(two.exit_code, 2);
  EXPECT_NE(two.err.find("one SQL statement"), std::string::npos) << two.err;
  auto bad = test::run_crawl({"query", "--db", pg, "select nope from pages"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("column \"nope\" does not exist"), std::string::npos) << bad.err;
}

// A shared run following links into pages that are gone: its broken-links report on PostgreSQL
// reads as the same crawl's on SQLite, and once it completes both keep only the links it needs.
TEST(Postgres, BrokenLinksOfASharedFollowingRunReadAsOnSqlite) {
  test::TempDir dir;
  auto testbed = test::Testbed::start({"--pages", "40"});
  test::HttpClient client;
  ASSERT_EQ(client.get(testbed.url("/__revision/1")).status, 200);  // page N % 4 == 3 is gone
  const std::string pg = test::fresh_postgres_database("broken");
  const std::string file = dir.file("crawl.db");
  for (const std::string& db : {pg, file}) {
    std::vector<std::string> args = {
        "run",  "--url", testbed.url("/page/0"), "--depth", "100", "--retries", "0",
        "--db", db,      "--no-progress"};
    if (db == pg) args.push_back("--shared");
    const auto r = test::run_crawl(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const auto from_pg = test::run_crawl({"query", "--db", pg, "--report", "broken-links", "--format", "csv"});
  const auto from_file =
      test::run_crawl({"query", "--db", file, "--report", "broken-links", "--format", "csv"});
  ASSERT_EQ(from_pg.exit_code, 0) << from_pg.err;
  EXPECT_EQ(from_pg.out, from_file.out);
  EXPECT_NE(from_pg.out.find(testbed.url("/page/3") + ",404,http_4xx," + testbed.url("/page/2") + ","),
            std::string::npos)
      << from_pg.out;
  const std::string kept =
      "select count(*) from links l where not exists (select 1 from pages p where "
      "p.url = l.to_url and p.error = 'http_4xx')";
  EXPECT_EQ(query_int(pg, kept), 0);
  EXPECT_EQ(query_int(file, kept), 0);
  EXPECT_GT(query_int(pg, "select count(*) from links"), 5);
}

TEST(Postgres, BenchRecordsItsRunsAndReportsThem) {
  const std::string pg = test::fresh_postgres_database("bench");
  auto r = test::run_crawl({"bench", "--testbed", "--pages", "30", "--modes", "fiber,thread", "-c", "4",
                            "--repeat", "2", "--db", pg, "--format", "csv", "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(query_int(pg, "select count(*) from benches where status = 'completed'"), 1);
  EXPECT_EQ(query_int(pg, "select count(*) from runs where bench_id is not null and status = 'completed'"),
            4);
  EXPECT_NE(r.out.find("fiber,,4,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("thread,,4,"), std::string::npos) << r.out;
}

TEST(Postgres, WorkersStartingTogetherOnANewDatabaseCreateTheSchemaOnce) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  const std::string pg = test::fresh_postgres_database("together");
  std::vector<test::ProcessResult> results(4);
  std::vector<std::thread> starts;
  for (size_t i = 0; i < results.size(); ++i)
    starts.emplace_back([&, i] {
      results[i] = test::run_crawl(
          {"run", "--url", testbed.url("/page/" + std::to_string(i)), "--db", pg, "--no-progress"});
    });
  for (auto& t : starts) t.join();
  for (const auto& r : results) EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(query_int(pg, "select count(*) from runs"), 4);
  EXPECT_EQ(query_int(pg, "select count(*) from pages"), 4);
  EXPECT_EQ(query_int(pg, "select version from crawl_schema"), storage::latest_schema_version());
}

// The writer queues a batch's statements and reads their outcomes together: a statement the server
// refuses in the middle of a batch still fails the run, with the server's own words.
TEST(Postgres, AWriteTheServerRefusesFailsTheRunAndSaysWhy) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  const std::string pg = test::fresh_postgres_database("refused");
  test::Child crawl = crawl_in_background(dir, testbed, pg, 400, 100, 8);
  wait_for_a_row(pg, "pages");
  ASSERT_GT(query_int(pg, "select count(*) from pages"), 0);
  execute(pg, "alter table pages add constraint crawl_test_refuses check (seq < 0) not valid");
  EXPECT_EQ(crawl.wait(), 1);
  const std::string out = crawl.rest_of_output();
  EXPECT_NE(out.find("crawl_test_refuses"), std::string::npos) << out;
  EXPECT_NE(out.find("failed after"), std::string::npos) << out;
  // What to look at is the server's, not a file's.
  EXPECT_NE(out.find("its log for the statement's cause"), std::string::npos) << out;
  EXPECT_EQ(out.find("free disk space"), std::string::npos) << out;
  EXPECT_LT(query_int(pg, "select count(*) from pages"), 400);
  EXPECT_EQ(query_int(pg, "select count(*) from runs where status = 'failed'"), 1);
}

// A run whose process was killed is never shown as running.
TEST(Postgres, AKilledRunShowsAsCrashed) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  const std::string pg = test::fresh_postgres_database("crashed");
  test::Child crawl = crawl_in_background(dir, testbed, pg, 100, 2000, 4);
  wait_for_a_row(pg, "runs");
  auto running = test::run_crawl({"runs", "--db", pg, "--format", "csv"});
  EXPECT_NE(running.out.find(",running,"), std::string::npos) << running.out;
  EXPECT_EQ(crawl.stop(SIGKILL), 128 + SIGKILL);
  auto crashed = test::run_crawl({"runs", "--db", pg, "--format", "csv"});
  EXPECT_EQ(crashed.exit_code, 0) << crashed.err;
  EXPECT_NE(crashed.out.find(",crashed,"), std::string::npos) << crashed.out;
  EXPECT_EQ(crashed.out.find(",running,"), std::string::npos) << crashed.out;
  auto summary = test::run_crawl({"query", "--db", pg, "--format", "csv"});
  EXPECT_EQ(summary.exit_code, 0) << summary.err;
  EXPECT_NE(summary.out.find(",crashed,"), std::string::npos) << summary.out;
  EXPECT_EQ(summary.out.find(",running,"), std::string::npos) << summary.out;
}

// A run whose process is on another machine cannot be looked for: it shows as running while its
// session's heartbeat is recent, and as crashed once it has been silent for a minute.
TEST(Postgres, ARunOfAnotherMachineIsRunningWhileItsHeartbeatIsRecent) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  const std::string pg = test::fresh_postgres_database("elsewhere");
  test::write_file(dir.file("list.txt"), testbed.url("/page/1") + "\n");
  auto r = test::run_crawl({"run", dir.file("list.txt"), "--db", pg, "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // As a worker on another machine leaves the rows while it crawls, its last progress `ago`.
  const auto heard_from = [&](const std::string& ago) {
    execute(pg, "update runs set status = 'running', host = 'worker-7.test', pid = 4242");
    execute(pg,
            "update run_sessions set status = 'running', host = 'worker-7.test', pid = 4242, ended_at = "
            "to_char(now() at time zone 'utc' - interval '" +
                ago + "', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')");
    auto runs = test::run_crawl({"runs", "--db", pg, "--format", "csv"});
    EXPECT_EQ(runs.exit_code, 0) << runs.err;
    return runs.out;
  };
  const std::string recent = heard_from("5 seconds");
  EXPECT_NE(recent.find(",running,"), std::string::npos) << recent;
  const std::string silent = heard_from("10 minutes");
  EXPECT_NE(silent.find(",crashed,"), std::string::npos) << silent;
  EXPECT_EQ(silent.find(",running,"), std::string::npos) << silent;
}

TEST(Postgres, ADatabaseOfAnotherProgramIsNeverWritten) {
  const std::string pg = test::fresh_postgres_database("foreign");
  execute(pg, "create table notes (x text)");
  auto r = test::run_crawl({"run", "--url", "http://127.0.0.1:1/", "--db", pg, "--no-progress"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("another program"), std::string::npos) << r.err;
  EXPECT_EQ(query_int(pg, "select count(*) from pg_tables where schemaname = 'public'"), 1);
  auto q = test::run_crawl({"query", "--db", test::fresh_postgres_database("empty"), "select 1"});
  EXPECT_EQ(q.exit_code, 2);
  EXPECT_NE(q.err.find("empty database"), std::string::npos) << q.err;
}

TEST(Postgres, AServerThatIsNotThereSaysWhatToCheck) {
  // Port 1 on loopback: nothing listens there.
  auto r = test::run_crawl({"run", "--url", "http://127.0.0.1:1/", "--db",
                            "postgresql://crawl:secret@127.0.0.1:1/crawl", "--no-progress"});
  EXPECT_EQ(r.exit_code, 1);
  // One line, though libpq's own message spans two ("\n\tIs the server running on that host...").
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("cannot connect to the PostgreSQL database"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("check that the server runs"), std::string::npos) << r.err;
  // The password is never printed.
  EXPECT_EQ(r.err.find("secret"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("crawl:***@"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace crawl
