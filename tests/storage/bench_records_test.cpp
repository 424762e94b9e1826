// A bench's own row as stored and read back: what it says of its setting (the testbed's latency, the
// machine's cores), and what a file written before version 10 says of it.
#include "storage/bench_records.hpp"

#include <gtest/gtest.h>

#include "storage/database.hpp"
#include "tests/support/db.hpp"
#include "tests/support/process.hpp"

namespace crawl::storage {
namespace {

BenchInfo bench_on(std::string workload, std::optional<double> latency_ms, int cores) {
  return {.workload = std::move(workload),
          .modes = {"fiber", "thread"},
          .concurrencies = {10, 100},
          .repeat = 1,
          .version = "0.0.0",
          .command_line = "crawl bench",
          .latency_ms = latency_ms,
          .cores = cores};
}

TEST(BenchRecords, KeepTheTestbedLatencyAndTheCores) {
  test::TempDir dir;
  const std::string path = dir.file("bench.db");
  const std::string testbed_id =
      BenchRecorder::create(path, bench_on("testbed, 50ms-150ms latency", 100, 2), 1.8e9).info().id;
  const StoredBench testbed = load_bench(path, testbed_id);
  ASSERT_TRUE(testbed.info.latency_ms.has_value());
  EXPECT_DOUBLE_EQ(*testbed.info.latency_ms, 100);
  EXPECT_EQ(testbed.info.cores, 2);

  // A user's list: its latency is unknown, not zero.
  const std::string list_id =
      BenchRecorder::create(path, bench_on("urls.txt", std::nullopt, 8), 1.8e9 + 60).info().id;
  const StoredBench list = load_bench(path, list_id);
  EXPECT_FALSE(list.info.latency_ms.has_value());
  EXPECT_EQ(list.info.cores, 8);
}

// A bench stored by a crawl before version 10 recorded neither; it reads as unknown, before and after
// the file is migrated.
TEST(BenchRecords, ABenchFromBeforeVersionTenHasNoLatencyOrCores) {
  test::TempDir dir;
  const std::string path = dir.file("v9.db");
  {
    Database db = Database::open(path);
    db.exec(
        "DROP VIEW broken_links; DROP VIEW failed_pages; DROP VIEW host_summary; DROP TABLE run_hosts; "
        "ALTER TABLE benches DROP COLUMN latency_ms; ALTER TABLE benches DROP COLUMN cores; "
        "ALTER TABLE pages DROP COLUMN host; ALTER TABLE pages DROP COLUMN http_version; "
        "ALTER TABLE pages DROP COLUMN server_ip; ALTER TABLE pages DROP COLUMN etag; "
        "ALTER TABLE pages DROP COLUMN last_modified; ALTER TABLE pages DROP COLUMN body_hash; "
        "ALTER TABLE pages DROP COLUMN not_modified; "
        "INSERT INTO benches (id, status, started_at, workload, modes, concurrencies, repeat, version, "
        "command_line) VALUES ('b1', 'completed', '2026-11-24T09:37:00.000Z', 'testbed, 100ms latency', "
        "'fiber', '10', 1, '0.0.0', 'crawl bench'); PRAGMA user_version = 9");
  }
  // Read-only: not migrated.
  const StoredBench before = load_bench(path, "b1");
  EXPECT_EQ(test::query_int(path, "PRAGMA user_version"), 9);
  EXPECT_FALSE(before.info.latency_ms.has_value());
  EXPECT_EQ(before.info.cores, 0);

  { Database db = Database::open(path); }
  EXPECT_EQ(test::query_int(path, "PRAGMA user_version"), latest_schema_version());
  const auto row = test::query_rows(path, "SELECT latency_ms, cores FROM benches");
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(row[0].at("latency_ms"), std::nullopt);
  EXPECT_EQ(row[0].at("cores"), std::nullopt);
  const StoredBench after = load_bench(path, "b1");
  EXPECT_FALSE(after.info.latency_ms.has_value());
  EXPECT_EQ(after.info.cores, 0);
}

}  // namespace
}  // namespace crawl::storage
