#include "storage/writer.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "storage/leases.hpp"
#include "tests/support/db.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"

namespace crawl::storage {
namespace {

using namespace std::chrono_literals;

RunConfig thread_run_config() {
  return RunConfig{.mode = "thread",
                   .processes = 1,
                   .threads = 4,
                   .fibers = 1,
                   .concurrency = 4,
                   .queue_capacity = 100,
                   .consumers = 2,
                   .callback_threads = 1,
                   .parse = true,
                   .version = "0.1.0",
                   .command_line = "crawl run urls.txt --mode thread -c 4",
                   .started_at = 1714566896.5};
}

PageRecord simple_page(int64_t seq) {
  PageRecord r;
  r.seq = seq;
  r.source = "urls.txt";
  r.line = seq;
  r.input = "http://127.0.0.1/" + std::to_string(seq);
  r.url = r.input;
  r.final_url = r.input;
  r.status = 200;
  r.body_bytes = 100;
  r.wire_bytes = 100;
  r.attempts = 1;
  r.timings.total_ms = 1.5;
  r.worker = "t0";
  r.fetched_at = 1714566897;
  return r;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

std::string str(const std::optional<std::string>& value) {
  return value.value_or("<NULL>");
}

TEST(ResultWriter, StoresEveryFieldAndNullsForWhatIsMissing) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  auto writer = ResultWriter::open({.path = path}, thread_run_config());

  PageRecord full;
  full.seq = 7;
  full.source = "urls.txt";
  full.line = 9;
  full.input = "  http://h1.localhost/a  ";
  full.url = "http://h1.localhost/a";
  full.final_url = "http://h1.localhost/b";
  full.status = 200;
  full.content_type = "text/html";
  full.charset = "utf-8";
  full.wire_bytes = 1000;
  full.body_bytes = 4000;
  full.text_bytes = 1200;
  full.title = "Ünïcode, \"quoted\"";
  full.link_count = 17;
  full.depth = 1;
  full.parent_url = "http://h1.localhost/";
  full.attempts = 2;
  full.redirects = 1;
  full.timings = {
      .dns_ms = 1.25, .connect_ms = 2.5, .tls_ms = 3.75, .ttfb_ms = 10, .total_ms = 12.5, .queue_ms = 0.5};
  full.worker = "p1.t0.f37";
  full.fetched_at = 1714566896.789;
  writer->submit(PageRecord(full));

  PageRecord bad_url;
  bad_url.seq = 8;
  bad_url.source = "urls.txt";
  bad_url.line = 10;
  bad_url.input = "not a url";
  bad_url.error = ErrorCategory::bad_url;
  bad_url.error_message = "no scheme";
  bad_url.title = "";  // present but empty reads as missing
  writer->submit(std::move(bad_url));
  writer->finish(RunStats{});
  ASSERT_FALSE(writer->failure()) << *writer->failure();

  auto rows = test::query_rows(path, "SELECT * FROM pages ORDER BY seq");
  ASSERT_EQ(rows.size(), 2u);
  auto& a = rows[0];
  EXPECT_EQ(str(a["run_id"]), std::to_string(writer->run_id()));
  EXPECT_EQ(str(a["seq"]), "7");
  EXPECT_EQ(str(a["source"]), "urls.txt");
  EXPECT_EQ(str(a["line"]), "9");
  EXPECT_EQ(str(a["input"]), "  http://h1.localhost/a  ");
  EXPECT_EQ(str(a["url"]), "http://h1.localhost/a");
  EXPECT_EQ(str(a["final_url"]), "http://h1.localhost/b");
  EXPECT_EQ(str(a["status"]), "200");
  EXPECT_EQ(str(a["error"]), "<NULL>");
  EXPECT_EQ(str(a["error_message"]), "<NULL>");
  EXPECT_EQ(str(a["content_type"]), "text/html");
  EXPECT_EQ(str(a["charset"]), "utf-8");
  EXPECT_EQ(str(a["wire_bytes"]), "1000");
  EXPECT_EQ(str(a["body_bytes"]), "4000");
  EXPECT_EQ(str(a["text_bytes"]), "1200");
  EXPECT_EQ(str(a["title"]), "Ünïcode, \"quoted\"");
  EXPECT_EQ(str(a["link_count"]), "17");
  EXPECT_EQ(str(a["depth"]), "1");
  EXPECT_EQ(str(a["parent_url"]), "http://h1.localhost/");
  EXPECT_EQ(str(a["attempts"]), "2");
  EXPECT_EQ(str(a["redirects"]), "1");
  EXPECT_EQ(str(a["dns_ms"]), "1.25");
  EXPECT_EQ(str(a["connect_ms"]), "2.5");
  EXPECT_EQ(str(a["tls_ms"]), "3.75");
  EXPECT_EQ(str(a["ttfb_ms"]), "10.0");
  EXPECT_EQ(str(a["total_ms"]), "12.5");
  EXPECT_EQ(str(a["queue_ms"]), "0.5");
  EXPECT_EQ(str(a["worker"]), "p1.t0.f37");
  EXPECT_EQ(str(a["fetched_at"]), "2024-05-01T12:34:56.789Z");

  auto& b = rows[1];
  EXPECT_EQ(str(b["input"]), "not a url");
  EXPECT_EQ(str(b["error"]), "bad_url");
  EXPECT_EQ(str(b["error_message"]), "no scheme");
  // Never fetched: no timings either.
  for (const char* column : {"url", "final_url", "status", "content_type", "charset", "text_bytes", "title",
                             "link_count", "parent_url", "worker", "fetched_at", "dns_ms", "connect_ms",
                             "tls_ms", "ttfb_ms", "total_ms", "queue_ms"})
    EXPECT_EQ(str(b[column]), "<NULL>") << column;
  EXPECT_EQ(str(b["wire_bytes"]), "0");
  EXPECT_EQ(test::query_int(path, "SELECT typeof(total_ms) = 'real' FROM pages WHERE seq = 7"), 1);
}

TEST(ResultWriter, TheRunRowIsRunningUntilFinishRecordsTheStats) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  RunConfig config = thread_run_config();
  config.bench_id = "bench-1";
  auto writer = ResultWriter::open({.path = path}, config);

  auto running = test::query_rows(path, "SELECT * FROM runs");
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(str(running[0]["id"]), std::to_string(writer->run_id()));
  EXPECT_EQ(str(running[0]["status"]), "running");
  EXPECT_EQ(str(running[0]["started_at"]), "2024-05-01T12:34:56.500Z");
  EXPECT_EQ(str(running[0]["ended_at"]), "<NULL>");
  EXPECT_EQ(str(running[0]["mode"]), "thread");
  EXPECT_EQ(str(running[0]["threads"]), "4");
  EXPECT_EQ(str(running[0]["queue_capacity"]), "100");
  EXPECT_EQ(str(running[0]["parse"]), "1");
  EXPECT_EQ(str(running[0]["command_line"]), "crawl run urls.txt --mode thread -c 4");
  EXPECT_EQ(str(running[0]["bench_id"]), "bench-1");
  EXPECT_EQ(str(running[0]["urls"]), "<NULL>");

  RunStats stats{.status = "interrupted",
                 .ended_at = 1714566906.5,
                 .wall_s = 10,
                 .crawl_s = 9.5,
                 .user_s = 1.25,
                 .sys_s = 0.5,
                 .parse_cpu_s = 0.75,
                 .peak_rss_kb = 20480,
                 .voluntary_ctx = 300,
                 .involuntary_ctx = 40,
                 .urls = 1000,
                 .pages_ok = 990,
                 .pages_failed = 10,
                 .bytes_wire = 123456,
                 .bytes_body = 654321,
                 .pages_per_s = 100,
                 .p50_ms = 5,
                 .p90_ms = 9,
                 .p99_ms = 20,
                 .connections = 7,
                 .tls_full = 3,
                 .tls_resumed = 4,
                 .connected_hosts = 2,
                 .max_host_connections = 5};
  writer->finish(stats);
  writer->finish(RunStats{.status = "completed"});  // idempotent: the first call wins

  auto run = test::query_rows(path, "SELECT * FROM runs")[0];
  EXPECT_EQ(str(run["status"]), "interrupted");
  EXPECT_EQ(str(run["ended_at"]), "2024-05-01T12:35:06.500Z");
  EXPECT_EQ(str(run["wall_s"]), "10.0");
  EXPECT_EQ(str(run["crawl_s"]), "9.5");
  EXPECT_EQ(str(run["user_s"]), "1.25");
  EXPECT_EQ(str(run["sys_s"]), "0.5");
  EXPECT_EQ(str(run["parse_cpu_s"]), "0.75");
  EXPECT_EQ(str(run["peak_rss_kb"]), "20480");
  EXPECT_EQ(str(run["voluntary_ctx"]), "300");
  EXPECT_EQ(str(run["involuntary_ctx"]), "40");
  EXPECT_EQ(str(run["urls"]), "1000");
  EXPECT_EQ(str(run["pages_ok"]), "990");
  EXPECT_EQ(str(run["pages_failed"]), "10");
  EXPECT_EQ(str(run["bytes_wire"]), "123456");
  EXPECT_EQ(str(run["bytes_body"]), "654321");
  EXPECT_EQ(str(run["pages_per_s"]), "100.0");
  EXPECT_EQ(str(run["p50_ms"]), "5.0");
  EXPECT_EQ(str(run["p90_ms"]), "9.0");
  EXPECT_EQ(str(run["p99_ms"]), "20.0");
  EXPECT_EQ(str(run["connections"]), "7");
  EXPECT_EQ(str(run["tls_full"]), "3");
  EXPECT_EQ(str(run["tls_resumed"]), "4");
  EXPECT_EQ(str(run["connected_hosts"]), "2");
  EXPECT_EQ(str(run["max_host_connections"]), "5");
}

// A process killed between the run's end and its session's would have left a completed run whose
// session still said running (Modes/Resume.DepthCrawlKilledFiveTimes... once, beside two busy loops).
// Here the session's update fails instead, which the single transaction must undo whole.
TEST(ResultWriter, TheRunAndItsSessionEndInOneTransaction) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  auto writer = ResultWriter::open({.path = path}, thread_run_config());
  ASSERT_NO_FATAL_FAILURE(
      test::exec_sql(path,
                     "CREATE TRIGGER no_session_end BEFORE UPDATE OF status ON run_sessions "
                     "BEGIN SELECT RAISE(ABORT, 'the session cannot end'); END"));

  writer->finish(RunStats{.status = "completed"});

  EXPECT_TRUE(writer->failure().has_value());
  EXPECT_EQ(str(test::query_rows(path, "SELECT status FROM runs")[0]["status"]), "running");
  EXPECT_EQ(str(test::query_rows(path, "SELECT status FROM run_sessions")[0]["status"]), "running");
}

TEST(ResultWriter, EachOpenIsANewRun) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  auto first = ResultWriter::open({.path = path}, thread_run_config());
  first->finish(RunStats{});
  auto second = ResultWriter::open({.path = path}, thread_run_config());
  EXPECT_GT(second->run_id(), first->run_id());
  second->submit(simple_page(1));
  second->finish(RunStats{});
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM runs"), 2);
  EXPECT_EQ(test::query_int(path, "SELECT run_id FROM pages"), second->run_id());
}

TEST(ResultWriter, StoresThePageLinksInTheLinksTable) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  auto writer = ResultWriter::open({.path = path}, thread_run_config());
  PageRecord page = simple_page(3);
  page.links = {"http://127.0.0.1/a", "http://127.0.0.1/b"};
  writer->submit(std::move(page));
  writer->submit(simple_page(4));
  writer->finish(RunStats{});
  auto rows = test::query_rows(path, "SELECT run_id, from_seq, from_url, to_url FROM links ORDER BY to_url");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(str(rows[0]["run_id"]), std::to_string(writer->run_id()));
  EXPECT_EQ(str(rows[0]["from_seq"]), "3");
  EXPECT_EQ(str(rows[0]["from_url"]), "http://127.0.0.1/3");
  EXPECT_EQ(str(rows[0]["to_url"]), "http://127.0.0.1/a");
  EXPECT_EQ(str(rows[1]["to_url"]), "http://127.0.0.1/b");
}

// With link_edges (links followed without --store-links) the writer leaves out the edges into URLs
// it has already stored without an error: the run's end would prune them (only edges into failed
// URLs are kept). Edges into a failed URL, into one not yet stored, and those of a duplicate row's URL
// are written. This run does not complete, so nothing is pruned: the table shows what was written.
TEST(ResultWriter, LinkEdgesIntoURLsAlreadyStoredWithoutErrorAreNotWritten) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  auto writer = ResultWriter::open({.path = path, .link_edges = true}, thread_run_config());
  writer->submit(simple_page(1));  // http://127.0.0.1/1, fine
  PageRecord failed = simple_page(2);
  failed.status = 404;
  failed.error = ErrorCategory::http_4xx;
  writer->submit(std::move(failed));
  PageRecord duplicate = simple_page(3);
  duplicate.url = "http://127.0.0.1/2";
  duplicate.error = ErrorCategory::duplicate;
  writer->submit(std::move(duplicate));
  PageRecord page = simple_page(4);
  page.follow = {"http://127.0.0.1/1", "http://127.0.0.1/2", "http://127.0.0.1/4", "http://127.0.0.1/9"};
  writer->submit(std::move(page));
  writer->finish(RunStats{.status = "interrupted"});
  auto rows = test::query_rows(path, "SELECT from_seq, to_url FROM links ORDER BY to_url");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(str(rows[0]["from_seq"]), "4");
  EXPECT_EQ(str(rows[0]["to_url"]), "http://127.0.0.1/2");  // failed
  EXPECT_EQ(str(rows[1]["to_url"]), "http://127.0.0.1/9");  // not yet stored
}

TEST(ResultWriter, RowsFromFourThreadsAreAllStoredExactlyOnce) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  auto writer =
      ResultWriter::open({.path = path, .batch_rows = 256, .queue_capacity = 1024}, thread_run_config());
  constexpr int kThreads = 4;
  constexpr int kRowsEach = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&writer, t] {
      for (int i = 0; i < kRowsEach; ++i) writer->submit(simple_page(int64_t{t} * kRowsEach + i));
    });
  for (auto& thread : threads) thread.join();
  writer->finish(RunStats{});

  ASSERT_FALSE(writer->failure()) << *writer->failure();
  EXPECT_EQ(writer->rows_written(), kThreads * kRowsEach);
  EXPECT_GT(writer->last_commit_time(), 0);
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM pages"), kThreads * kRowsEach);
  EXPECT_EQ(test::query_int(path, "SELECT count(DISTINCT seq) FROM pages"), kThreads * kRowsEach);
  EXPECT_EQ(test::query_int(path, "SELECT min(seq) FROM pages"), 0);
  EXPECT_EQ(test::query_int(path, "SELECT max(seq) FROM pages"), kThreads * kRowsEach - 1);
}

TEST(ResultWriter, BackpressureOnATinyQueueNeverDeadlocks) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  auto writer = ResultWriter::open(
      {.path = path, .batch_rows = 3, .batch_interval = 1ms, .queue_capacity = 2}, thread_run_config());
  auto done = std::async(std::launch::async, [&writer] {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&writer, t] {
        for (int i = 0; i < 500; ++i) writer->submit(simple_page(t * 500 + i));
      });
    for (auto& thread : threads) thread.join();
    writer->finish(RunStats{});
  });
  ASSERT_EQ(done.wait_for(60s), std::future_status::ready) << "submitters or finish() are stuck";
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM pages"), 2000);
}

TEST(ResultWriter, CommitsWhenTheBatchIntervalEndsEvenIfTheBatchIsNotFull) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  auto writer = ResultWriter::open({.path = path, .batch_rows = 1'000'000, .batch_interval = 20ms},
                                   thread_run_config());
  for (int i = 0; i < 10; ++i) writer->submit(simple_page(i));
  EXPECT_TRUE(eventually([&] { return writer->rows_written() == 10; }));
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM pages"), 10) << "readers see committed rows mid-run";
  writer->finish(RunStats{});
}

TEST(ResultWriter, CommitsWhenTheBatchIsFullWithoutWaitingForTheInterval) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  auto writer = ResultWriter::open({.path = path, .batch_rows = 5, .batch_interval = std::chrono::hours(1)},
                                   thread_run_config());
  for (int i = 0; i < 12; ++i) writer->submit(simple_page(i));
  EXPECT_TRUE(eventually([&] { return writer->rows_written() == 10; }));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(writer->rows_written(), 10) << "the last two rows wait for the interval or finish()";
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM pages"), 10);
  writer->finish(RunStats{});
  EXPECT_EQ(writer->rows_written(), 12);
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM pages"), 12);
}

// With no rows to write, the writer still notes the time in its session's row, now and then: how a
// machine that cannot look for the process tells a worker waiting for work from a dead one.
TEST(ResultWriter, AnIdleWriterNotesThatItsSessionIsAlive) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  auto writer = ResultWriter::open({.path = path, .heartbeat = 20ms}, thread_run_config());
  const auto noted = [&] {
    const auto rows = test::query_rows(path, "SELECT ended_at FROM run_sessions WHERE status = 'running'");
    return rows.size() == 1 ? rows[0].at("ended_at").value_or("") : std::string();
  };
  ASSERT_TRUE(eventually([&] { return !noted().empty(); }));
  const std::string first = noted();
  EXPECT_TRUE(eventually([&] { return noted() > first; })) << first;
  EXPECT_EQ(writer->rows_written(), 0);
  writer->finish(RunStats{});
}

TEST(ResultWriter, RowsAfterFinishAreDroppedWithoutBlocking) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  auto writer = ResultWriter::open({.path = path, .queue_capacity = 1}, thread_run_config());
  writer->finish(RunStats{});
  for (int i = 0; i < 10; ++i) writer->submit(simple_page(i));
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM pages"), 0);
}

TEST(ResultWriter, DestroyedWithoutFinishStoresTheRowsAndMarksTheRunFailed) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  {
    auto writer = ResultWriter::open({.path = path}, thread_run_config());
    for (int i = 0; i < 3; ++i) writer->submit(simple_page(i));
  }
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM pages"), 3);
  auto run = test::query_rows(path, "SELECT status, ended_at FROM runs")[0];
  EXPECT_EQ(str(run["status"]), "failed");
  EXPECT_NE(str(run["ended_at"]), "<NULL>");
}

// In a shared run a row is stored only by the worker that removes its URL's frontier entry,
// whatever its category: a fetched URL's `bad_url` (a redirect to a malformed URL) is such a row,
// not a line of the list; an `interrupted` row is not stored, its entry stays for another worker.
TEST(ResultWriter, ASharedRunStoresARowOnlyForTheEntryItRemoves) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  WriterOptions options{.path = path,
                        .batch_interval = 5ms,
                        .shared = true,
                        .worker = "here/1",
                        .host_of = [](const std::string& url) { return url.substr(0, url.find('/', 8)); }};
  auto writer = ResultWriter::open(options, thread_run_config());
  auto line = [](int64_t n, const std::string& url) {
    return PendingUrl{.seq = n, .source = "urls.txt", .line = n, .input = url, .url = url};
  };
  writer->submit(ListedUrl{line(1, "http://a.test/1")});
  writer->submit(ListedRow{PageRecord{.seq = 2,
                                      .source = "urls.txt",
                                      .line = 2,
                                      .input = "nope",
                                      .error = ErrorCategory::bad_url,
                                      .error_message = "not a URL"}});
  writer->submit(ListedUrl{line(3, "http://a.test/2")});
  writer->submit(ListedUrl{line(4, "http://a.test/1")});
  // The lines are committed (the duplicate and the bad line have rows) before any fetch ends.
  ASSERT_TRUE(eventually([&] { return writer->rows_written() == 2; }));
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM frontier"), 2);
  // Seqs follow the lines.
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM pages WHERE seq = 1 AND error = 'bad_url'"), 1);
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM pages WHERE seq = 3 AND error = 'duplicate'"), 1);
  const int64_t first = test::query_int(path, "SELECT seq FROM frontier WHERE url = 'http://a.test/1'");
  const int64_t second = test::query_int(path, "SELECT seq FROM frontier WHERE url = 'http://a.test/2'");
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 2);

  PageRecord malformed = simple_page(first);
  malformed.url = "http://a.test/1";
  malformed.error = ErrorCategory::bad_url;
  writer->submit(PageRecord(malformed));
  PageRecord stopped = simple_page(second);
  stopped.url = "http://a.test/2";
  stopped.error = ErrorCategory::interrupted;
  writer->submit(std::move(stopped));
  ASSERT_TRUE(eventually([&] { return writer->rows_written() == 3; }));
  // Once more, as a worker whose lease had lapsed would: not stored again.
  writer->submit(std::move(malformed));
  writer->finish(RunStats{.status = "interrupted"});
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM pages WHERE seq = 0"), 1);
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM pages WHERE error = 'interrupted'"), 0);
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM frontier"), 1);
  EXPECT_EQ(test::query_int(path, "SELECT seq FROM frontier"), second);
  EXPECT_EQ(test::query_int(path, "SELECT rows FROM run_sessions"), 3);
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM host_leases WHERE worker IS NOT NULL"), 0);
}

// Two workers, each done with its host (hv, hw) in a batch that admits a link to the other's. The
// batch used to give its host back in its own transaction, after admitting the link: v's held hw
// (the link's host) while waiting for hv, which w's batch held (its link) while waiting to give hw
// back, and PostgreSQL failed one of them ("deadlock detected"). The host goes back in a
// transaction of its own now, after the batch's commit: v's release waits for w's commit, and
// both end.
TEST(ResultWriter, ASharedRunGivesAHostBackWithoutDeadlockingWithABatchLinkingToIt) {
  const std::string where = test::fresh_postgres_database("give_back");
  const auto host_of = [](const std::string& url) { return url.substr(0, url.find('/', 8)); };
  WriterOptions options{
      .path = where, .batch_interval = 5ms, .shared = true, .worker = "v/1", .host_of = host_of};
  auto writer = ResultWriter::open(options, thread_run_config());

  Database w_db = Database::open(where);
  HostLeases w(w_db, {.run_id = writer->run_id(), .worker = "w", .ttl_s = 60});
  const int64_t seq = w.reserve_seqs(3);
  const auto entry = [&](int64_t n, const std::string& url, int depth) {
    return PendingUrl{.seq = n,
                      .source = "urls.txt",
                      .line = n,
                      .input = url,
                      .url = url,
                      .depth = depth,
                      .seed_host = host_of(url)};
  };
  w.admit({entry(seq, "http://hv.test/1", 0), entry(seq + 1, "http://hw.test/1", 0)},
          {"http://hv.test", "http://hw.test"});
  Database v_db = Database::open(where);
  HostLeases v(v_db, {.run_id = writer->run_id(), .worker = "v/1", .ttl_s = 60});
  ASSERT_EQ(v.claim(1, 10, unix_now()).at(0).host, "http://hv.test");
  ASSERT_EQ(w.claim(1, 10, unix_now()).at(0).host, "http://hw.test");

  // w's batch so far: a link to hv.
  w_db.exec("BEGIN");
  w.admit({entry(seq + 2, "http://hv.test/2", 1)}, {"http://hv.test"});
  // v's batch: hv's page, with a link to hw, and hv given back.
  PageRecord page = simple_page(seq);
  page.url = "http://hv.test/1";
  page.seed_host = "http://hv.test";
  page.follow = {"http://hw.test/2"};
  writer->submit(std::move(page));
  writer->submit(HostDone{.host = "http://hv.test", .next_fetch_at = 0});
  writer->commit_soon();
  ASSERT_TRUE(test::a_statement_waits_for_a_lock(where, 30s));
  // w's batch ends: hw given back.
  std::string w_failure;
  try {
    w.release("http://hw.test", 0);
    w_db.exec("COMMIT");
  } catch (const StorageError& e) {
    w_failure = e.what();
    w_db.rollback_quietly();
  }
  EXPECT_EQ(w_failure, "");
  EXPECT_TRUE(eventually([&] { return writer->rows_written() == 1; }, 30s));
  writer->finish(RunStats{.status = "interrupted"});
  EXPECT_EQ(str(writer->failure()), "<NULL>");
  EXPECT_EQ(test::query_int(where, "SELECT count(*) FROM host_leases WHERE worker IS NOT NULL"), 0);
  EXPECT_EQ(test::query_int(where, "SELECT count(*) FROM frontier"), 3);  // hw/1, hv/2, hw/2
}

// commit_soon() commits what waits at once, however long the batch interval: here an hour, so
// without it nothing would be in before finish(). In a shared run each commit is reported to the
// frontier (on_work_committed).
TEST(ResultWriter, CommitSoonCommitsWhatWaitsAndASharedRunReportsEachCommit) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  std::atomic<int> commits{0};
  WriterOptions options{.path = path,
                        .batch_interval = std::chrono::hours(1),
                        .shared = true,
                        .worker = "here/1",
                        .host_of = [](const std::string& url) { return url.substr(0, url.find('/', 8)); },
                        .on_work_committed = [&commits] { ++commits; }};
  auto writer = ResultWriter::open(options, thread_run_config());
  for (int64_t n = 0; n < 3; ++n) {
    const std::string url = "http://a.test/" + std::to_string(n);
    writer->submit(
        ListedUrl{PendingUrl{.seq = n, .source = "urls.txt", .line = n, .input = url, .url = url}});
  }
  writer->commit_soon();
  ASSERT_TRUE(eventually([&] { return test::query_int(path, "SELECT count(*) FROM frontier") == 3; }));
  EXPECT_TRUE(eventually([&] { return commits.load() == 1; }));

  PageRecord row = simple_page(test::query_int(path, "SELECT min(seq) FROM frontier"));
  row.url = "http://a.test/0";
  writer->submit(std::move(row));
  writer->commit_soon();
  EXPECT_TRUE(eventually([&] { return writer->rows_written() == 1; }));
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM frontier"), 2);
  EXPECT_TRUE(eventually([&] { return commits.load() == 2; }));
  writer->finish(RunStats{.status = "interrupted"});
}

// SQLite cannot make the file (here: a link into a directory that is not there; a directory the
// user may not write to is the same to SQLite, and root may write anywhere).
TEST(ResultWriter, AFileSQLiteCannotMakeThrowsAUsefulError) {
  test::TempDir dir;
  const std::string path = dir.file("link.db");
  std::filesystem::create_symlink(dir.file("gone/crawl.db"), path);
  try {
    ResultWriter::open({.path = path}, thread_run_config());
    FAIL() << "opened " << path;
  } catch (const StorageError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("directory exists and is writable"), std::string::npos) << message;
  }
}

// Another connection holds the write lock for longer than the writer waits: the same path as a
// full disk or a vanished file (SQLite fails mid-run), reproducible in a test.
TEST(ResultWriter, ASQLiteFailureMidRunIsReportedAndNeverBlocksSubmitters) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  auto writer = ResultWriter::open({.path = path, .batch_rows = 4, .queue_capacity = 8, .busy_timeout = 50ms},
                                   thread_run_config());
  sqlite3* blocker = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &blocker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  auto submitted = std::async(std::launch::async, [&writer] {
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t)
      threads.emplace_back([&writer, t] {
        for (int i = 0; i < 1000; ++i) writer->submit(simple_page(t * 1000 + i));
      });
    for (auto& thread : threads) thread.join();
  });
  ASSERT_EQ(submitted.wait_for(30s), std::future_status::ready) << "submitters blocked after the failure";
  ASSERT_TRUE(writer->failure());
  std::string message = *writer->failure();
  EXPECT_NE(message.find("writing pages to " + path + " failed"), std::string::npos) << message;
  EXPECT_NE(message.find("database is locked"), std::string::npos) << message;
  EXPECT_NE(message.find("check free disk space"), std::string::npos) << message;

  sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(blocker);
  writer->finish(RunStats{.status = "completed"});
  EXPECT_EQ(writer->failure(), message) << "the first failure is the one reported";
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM pages"), writer->rows_written());
  EXPECT_EQ(*test::query_rows(path, "SELECT status FROM runs")[0]["status"], "failed");
}

TEST(ResultWriter, ADatabaseFileDeletedMidRunIsAFailure) {
  test::TempDir dir;
  const std::string path = dir.file("crawl.db");
  auto writer =
      ResultWriter::open({.path = path, .batch_interval = 1ms, .queue_capacity = 4}, thread_run_config());
  std::filesystem::remove(path);
  auto submitted = std::async(std::launch::async, [&writer] {
    for (int i = 0; i < 1000; ++i) writer->submit(simple_page(i));
  });
  ASSERT_EQ(submitted.wait_for(30s), std::future_status::ready) << "submitters blocked after the failure";
  ASSERT_TRUE(eventually([&] { return writer->failure().has_value(); }));
  EXPECT_NE(writer->failure()->find("deleted or moved"), std::string::npos) << *writer->failure();
  writer->finish(RunStats{});
}

}  // namespace
}  // namespace crawl::storage
