// What a crawl keeps in the database to go on after a crash: list marks (SourceLedger), frontier
// entries and waiting links written in the rows' transactions, and what a resumed run reads back.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/usage_error.hpp"
#include "storage/source_ledger.hpp"
#include "storage/writer.hpp"
#include "tests/support/db.hpp"
#include "tests/support/process.hpp"

namespace crawl::storage {
namespace {

TEST(SourceLedger, AMarkMovesOnlyOverLinesThatAreAllDone) {
  SourceLedger ledger;
  ledger.read(0, 0, 1, 10);
  ledger.read(1, 0, 3, 30);  // line 2 was blank
  ledger.read(5, 0, 4, 40);  // seqs 2-4 went to links
  ledger.done(1);
  EXPECT_TRUE(ledger.advance().empty());  // line 1 holds it back
  ledger.done(0);
  auto marks = ledger.advance();
  ASSERT_EQ(marks.size(), 1u);
  EXPECT_EQ(marks[0].position, 0);
  EXPECT_EQ(marks[0].lines_done, 3);
  EXPECT_EQ(marks[0].bytes_done, 30);
  EXPECT_TRUE(ledger.advance().empty());  // nothing moved since
  ledger.done(3);                         // not a line: ignored
  ledger.source_end(0, 6, 64);            // two comment lines after line 4
  EXPECT_TRUE(ledger.advance().empty());
  ledger.done(5);
  marks = ledger.advance();
  ASSERT_EQ(marks.size(), 1u);
  EXPECT_EQ(marks[0].lines_done, 6);
  EXPECT_EQ(marks[0].bytes_done, 64);
  EXPECT_EQ(ledger.held(), 0u);
}

TEST(SourceLedger, ListsAreMarkedEachOnItsOwn) {
  SourceLedger ledger;
  ledger.read(0, 0, 1, 5);
  ledger.source_end(0, 1, 5);
  ledger.source_end(1, 0, 0);  // an empty list
  ledger.read(1, 2, 1, 0);     // --url values
  ledger.done(1);
  ledger.done(0);
  auto marks = ledger.advance();
  ASSERT_EQ(marks.size(), 3u);
  EXPECT_EQ(marks[0].lines_done, 1);
  EXPECT_EQ(marks[1].lines_done, 0);
  EXPECT_EQ(marks[2].position, 2);
  EXPECT_EQ(marks[2].lines_done, 1);
}

TEST(SourceLedger, WaitingForRoomGivesUpWhenAsked) {
  SourceLedger ledger;
  ledger.read(0, 0, 1, 5);
  EXPECT_TRUE(ledger.wait_for_room(2, [] { return false; }));
  EXPECT_FALSE(ledger.wait_for_room(1, [] { return true; }));
}

RunConfig config() {
  return RunConfig{.mode = "fiber",
                   .concurrency = 8,
                   .version = "0.1.0",
                   .command_line = "crawl run list.txt --depth 2",
                   .settings = R"({"lists":[]})",
                   .sources = {SourceRecord{.source = "list.txt", .size = 100, .mtime_ns = 7}}};
}

PageRecord row(int64_t seq, const std::string& url, int depth) {
  PageRecord r;
  r.seq = seq;
  r.source = "list.txt";
  r.line = depth == 0 ? seq + 1 : 1;
  r.input = url;
  r.url = url;
  r.status = 200;
  r.depth = depth;
  r.attempts = 1;
  r.fetched_at = 1714566896.5;
  return r;
}

PendingUrl pending(int64_t seq, const std::string& url, int depth, int attempts = 0) {
  return PendingUrl{.seq = seq,
                    .source = "list.txt",
                    .line = 1,
                    .input = url,
                    .url = url,
                    .depth = depth,
                    .parent_url = "http://a.test/",
                    .seed_host = "a.test",
                    .attempts = attempts,
                    .not_before = attempts > 0 ? 1e10 : 0};
}

// Each URL is final or pending, never both: a row removes its entry, and a page's links wait in
// frontier_links, written with its row, until the frontier has dealt with them.
TEST(DurableState, RowsRemoveTheirEntriesAndCarryTheirLinks) {
  test::TempDir dir;
  const std::string path = dir.file("c.db");
  SourceLedger ledger;
  auto writer = ResultWriter::open({.path = path, .ledger = &ledger}, config());
  const int64_t run = writer->run_id();
  ledger.read(0, 0, 1, 20);
  PageRecord seed = row(0, "http://a.test/", 0);
  seed.follow = {"http://a.test/1", "http://a.test/2"};
  seed.seed_host = "a.test";
  writer->submit(std::move(seed));
  writer->submit(pending(1, "http://a.test/1", 1));
  writer->submit(pending(2, "http://a.test/2", 1));
  writer->submit(LinksTaken{0});
  writer->submit(row(1, "http://a.test/1", 1));
  writer->submit(pending(2, "http://a.test/2", 1, 1));  // a retry replaces the entry
  RunStats stats;
  stats.status = "interrupted";
  writer->finish(stats);

  EXPECT_EQ(test::query_int(path, "select count(*) from pages"), 2);
  EXPECT_EQ(test::query_int(path, "select count(*) from frontier"), 1);
  EXPECT_EQ(test::query_int(path, "select seq from frontier"), 2);
  EXPECT_EQ(test::query_int(path, "select attempts from frontier"), 1);
  EXPECT_EQ(test::query_int(path, "select count(*) from frontier_links"), 0);
  EXPECT_EQ(test::query_int(path, "select lines_done from run_sources"), 1);
  EXPECT_EQ(test::query_int(path, "select bytes_done from run_sources"), 20);
  EXPECT_EQ(test::query_int(path, "select count(*) from run_sessions where status = 'interrupted'"), 1);

  // Taken up again: what is pending comes back, interrupted rows become entries again.
  test::run_process(
      {"/usr/bin/sqlite3", path,
       "insert into pages (run_id, seq, source, line, input, url, error, wire_bytes, body_bytes, "
       "depth, attempts, redirects, dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, queue_ms) "
       "values (" +
           std::to_string(run) +
           ", 3, 'list.txt', 2, 'http://a.test/3', 'http://a.test/3', 'interrupted', 0, 0, 0, 0, 0, "
           "0, 0, 0, 0, 0, 0)"});
  ResumeState state;
  std::vector<int64_t> previous;
  auto again = ResultWriter::open({.path = path, .resume_run = run}, config(), &state,
                                  [&](const PageRecord& r) { previous.push_back(r.seq); });
  EXPECT_EQ(state.session, 2);
  EXPECT_EQ(state.next_seq, 4);
  ASSERT_EQ(state.pending.size(), 2u);
  EXPECT_EQ(state.pending[0].seq, 2);
  EXPECT_EQ(state.pending[0].attempts, 1);
  EXPECT_GT(state.pending[0].not_before, 0);
  EXPECT_EQ(state.pending[1].seq, 3);  // the interrupted row
  EXPECT_EQ(state.pending[1].url, "http://a.test/3");
  EXPECT_EQ(previous, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(state.seen.size(), 4u);  // two rows, two entries
  ASSERT_EQ(state.sources.size(), 1u);
  EXPECT_EQ(state.sources[0].lines_done, 1);
  EXPECT_EQ(state.sources[0].size, 100);
  // Line 2 (the interrupted row, now an entry) is past the mark and done: a resumed reader skips it.
  ASSERT_EQ(state.done_lines.size(), 1u);
  EXPECT_EQ(state.done_lines[0].line, 2);
  EXPECT_EQ(test::query_int(path, "select count(*) from pages where error = 'interrupted'"), 0);
  EXPECT_EQ(test::query_int(path, "select status = 'running' from runs"), 1);
  again->submit(row(2, "http://a.test/2", 1));
  again->submit(row(3, "http://a.test/3", 0));
  again->finish(RunStats{});
  EXPECT_EQ(test::query_int(path, "select count(*) from frontier"), 0);
  EXPECT_EQ(test::query_int(path, "select count(*) from pages"), 4);
  EXPECT_EQ(test::query_int(path, "select sessions from runs"), 2);
  EXPECT_THROW(ResultWriter::open({.path = path, .resume_run = run}, config(), &state), UsageError);
}

TEST(DurableState, LinksWaitingWhenTheRunStoppedComeBackWithTheirPage) {
  test::TempDir dir;
  const std::string path = dir.file("c.db");
  auto writer = ResultWriter::open({.path = path}, config());
  const int64_t run = writer->run_id();
  PageRecord page = row(4, "http://a.test/x", 1);
  page.parent_url = "http://a.test/";
  page.follow = {"http://a.test/y", "http://a.test/z"};
  page.seed_host = "a.test";
  writer->submit(std::move(page));
  RunStats stats;
  stats.status = "interrupted";
  writer->finish(stats);
  ResumeState state;
  auto again = ResultWriter::open({.path = path, .resume_run = run}, config(), &state);
  ASSERT_EQ(state.waiting.size(), 1u);
  EXPECT_EQ(state.waiting[0].parent_seq, 4);
  EXPECT_EQ(state.waiting[0].depth, 2);
  EXPECT_EQ(state.waiting[0].parent_url, "http://a.test/x");
  EXPECT_EQ(state.waiting[0].seed_host, "a.test");
  EXPECT_EQ(state.waiting[0].links, (std::vector<std::string>{"http://a.test/y", "http://a.test/z"}));
}

}  // namespace
}  // namespace crawl::storage
