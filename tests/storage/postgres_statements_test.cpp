// A statement text run a second time on a PostgreSQL connection is prepared on the server, so that
// the server parses and plans it once per connection; a text run once leaves nothing there; a
// preparation lost with a failed batch is made again; statements made anew share their text's
// preparation, and a connection prepares a bounded number of texts. Against a real PostgreSQL 15.
#include <gtest/gtest.h>

#include <string>

#include "storage/database.hpp"
#include "tests/support/postgres.hpp"

namespace crawl::storage {
namespace {

// The statements this connection has prepared on the server whose text holds `marker`.
int64_t prepared_with(Database& db, const std::string& marker) {
  Statement s = db.prepare("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE ?1");
  s.bind(1, std::string_view("%" + marker + "%"));
  const int64_t n = s.step() ? s.integer(0) : -1;
  s.reset();
  return n;
}

int64_t rows_of_t(Database& db) {
  Statement count = db.prepare("SELECT count(*) FROM t");
  const int64_t n = count.step() ? count.integer(0) : -1;
  count.reset();
  return n;
}

int64_t run(Statement& s, int64_t value) {
  s.bind(1, value);
  const int64_t out = s.step() ? s.integer(0) : -1;
  s.reset();
  return out;
}

TEST(PostgresStatements, ARepeatedStatementIsPreparedOnceAndAOneShotIsNot) {
  Database db = Database::open(test::fresh_postgres_database("statements"));
  Statement once = db.prepare("SELECT ?1::bigint + 7 AS once_marker");
  EXPECT_EQ(run(once, 1), 8);
  EXPECT_EQ(prepared_with(db, "once_marker"), 0);

  Statement twice = db.prepare("SELECT ?1::bigint * 3 AS twice_marker");
  for (int64_t i = 1; i <= 5; ++i) EXPECT_EQ(run(twice, i), 3 * i);
  EXPECT_EQ(prepared_with(db, "twice_marker"), 1);
}

// Statements made anew for each call (as some of the leases' and the writer's are) share their
// text's one preparation: the server does not gain one per call.
TEST(PostgresStatements, StatementsMadeAnewShareTheirTextsPreparation) {
  Database db = Database::open(test::fresh_postgres_database("statements_anew"));
  for (int64_t i = 1; i <= 50; ++i) {
    Statement each = db.prepare("SELECT ?1::bigint - 1 AS anew_marker");
    EXPECT_EQ(run(each, i), i - 1);
  }
  EXPECT_EQ(prepared_with(db, "anew_marker"), 1);
}

// A connection running endless distinct texts (each twice) prepares a bounded number of them; the
// rest still run, unnamed.
TEST(PostgresStatements, AConnectionPreparesABoundedNumberOfTexts) {
  Database db = Database::open(test::fresh_postgres_database("statements_bounded"));
  for (int64_t i = 0; i < 1500; ++i) {
    Statement distinct = db.prepare("SELECT ?1::bigint + " + std::to_string(i) + " AS bounded_marker");
    EXPECT_EQ(run(distinct, 1), 1 + i);
    EXPECT_EQ(run(distinct, 2), 2 + i);
  }
  const int64_t prepared = prepared_with(db, "bounded_marker");
  EXPECT_GT(prepared, 0);
  EXPECT_LE(prepared, 1024);
}

// A statement prepared before another process changed the columns it reads (a newer crawl migrating
// the schema beside a running worker) still runs: PostgreSQL refuses the stale preparation ("cached
// plan must not change result type"), and the statement runs unnamed, then is prepared again.
TEST(PostgresStatements, AStatementPreparedBeforeItsTableChangedStillRuns) {
  const std::string uri = test::fresh_postgres_database("statements_stale");
  Database db = Database::open(uri);
  db.exec("CREATE TABLE t (a BIGINT)");
  db.exec("INSERT INTO t VALUES (1)");
  Statement all = db.prepare("SELECT * FROM t WHERE a = ?1 -- stale_marker");
  for (int i = 0; i < 2; ++i) EXPECT_EQ(run(all, 1), 1);
  ASSERT_EQ(prepared_with(db, "stale_marker"), 1);

  Database other = Database::open(uri);
  other.exec("ALTER TABLE t ADD COLUMN b BIGINT DEFAULT 7");
  for (int i = 0; i < 3; ++i) {
    all.bind(1, int64_t{1});
    ASSERT_TRUE(all.step());
    EXPECT_EQ(all.column_count(), 2);
    EXPECT_EQ(all.integer(1), 7);
    all.reset();
  }
  // The stale preparation stays on the server, unused; the statement runs under a new one.
  EXPECT_EQ(prepared_with(db, "stale_marker"), 2);
}

TEST(PostgresStatements, QueuedStatementsArePreparedInThePipelineToo) {
  Database db = Database::open(test::fresh_postgres_database("statements_queued"));
  db.exec("CREATE TABLE t (n BIGINT PRIMARY KEY)");
  Statement insert = db.prepare("INSERT INTO t (n) VALUES (?1) -- queued_marker");
  for (int64_t i = 0; i < 100; ++i) {
    insert.bind(1, i);
    insert.queue();
  }
  db.flush();
  EXPECT_EQ(rows_of_t(db), 100);
  EXPECT_EQ(prepared_with(db, "queued_marker"), 1);
}

// A statement's preparation that went in a batch the server refused (here, in a transaction an
// earlier statement aborted) did not happen: the statement is prepared again when next run, and
// works. (Believed prepared, every later run failed: the name was unknown to the server.)
TEST(PostgresStatements, APreparationLostWithAFailedBatchIsMadeAgain) {
  Database db = Database::open(test::fresh_postgres_database("statements_failed"));
  db.exec("CREATE TABLE t (n BIGINT PRIMARY KEY)");
  Statement insert = db.prepare("INSERT INTO t (n) VALUES (?1) -- failed_marker");
  insert.bind(1, int64_t{1});
  insert.queue();
  db.flush();
  db.exec("BEGIN");
  Statement duplicate = db.prepare("INSERT INTO t (n) VALUES (1)");
  duplicate.queue();           // aborts the transaction
  insert.bind(1, int64_t{2});  // the second run: prepared now, in the aborted transaction
  insert.queue();
  EXPECT_THROW(db.flush(), StatementError);
  db.exec("ROLLBACK");
  EXPECT_EQ(prepared_with(db, "failed_marker"), 0);

  for (int64_t n = 2; n <= 4; ++n) {
    insert.bind(1, n);
    insert.queue();
  }
  db.flush();
  EXPECT_EQ(rows_of_t(db), 4);
  EXPECT_EQ(prepared_with(db, "failed_marker"), 1);
}

}  // namespace
}  // namespace crawl::storage
