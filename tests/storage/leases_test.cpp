// Host leases on both engines: each URL admitted once, hosts claimed breadth-first by one worker at a
// time, an expired lease taken over (and its old holder told), and four workers on four connections
// sharing one run on a real PostgreSQL server without ever holding a host together.
#include "storage/leases.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"

namespace crawl::storage {
namespace {

enum class Where { sqlite, postgres };

// Run 1, for the leases to belong to.
void insert_run(Database& db) {
  db.exec(
      "INSERT INTO runs (status, started_at, mode, processes, threads, fibers, concurrency, queue_capacity, "
      "consumers, callback_threads, parse, version, command_line) VALUES ('running', "
      "'2026-12-02T00:00:00.000Z', 'fiber', 1, 1, 1, 1, 1, 1, 1, 1, 'test', 'test')");
}

class Leases : public ::testing::TestWithParam<Where> {
 protected:
  void SetUp() override {
    where_ = GetParam() == Where::sqlite ? dir_.file("leases.db") : test::fresh_postgres_database("leases");
    Database db = Database::open(where_);
    insert_run(db);
  }

  static PendingUrl url(int64_t seq, const std::string& host, int page, int depth = 0) {
    return {.seq = seq,
            .source = "list.txt",
            .line = seq + 1,
            .input = "http://" + host + "/p" + std::to_string(page),
            .url = "http://" + host + "/p" + std::to_string(page),
            .depth = depth,
            .seed_host = host};
  }

  static std::vector<std::string> hosts_of(const std::vector<PendingUrl>& urls) {
    std::vector<std::string> hosts;
    for (const auto& u : urls) hosts.push_back(u.url.substr(7, u.url.find('/', 7) - 7));
    return hosts;
  }

  static int64_t count(Database& db, const std::string& sql) {
    Statement s = db.prepare(sql);
    return s.step() ? s.integer(0) : -1;
  }

  test::TempDir dir_;
  std::string where_;
};

TEST_P(Leases, EachUrlIsAdmittedOnceWhoeverFindsIt) {
  Database a_db = Database::open(where_);
  Database b_db = Database::open(where_);
  HostLeases a(a_db, {.run_id = 1, .worker = "a"});
  HostLeases b(b_db, {.run_id = 1, .worker = "b"});
  const int64_t first = a.reserve_seqs(4);
  EXPECT_EQ(b.reserve_seqs(3), first + 4);  // seqs are never handed out twice
  std::vector<PendingUrl> found = {url(0, "h1", 1, 2), url(1, "h1", 2, 1), url(2, "h2", 1, 1),
                                   url(3, "h1", 1, 2)};
  EXPECT_EQ(a.admit(found, hosts_of(found)), (std::vector<bool>{true, true, true, false}));
  std::vector<PendingUrl> again = {url(4, "h2", 1, 1), url(5, "h3", 1, 3), url(6, "h1", 2, 0)};
  EXPECT_EQ(b.admit(again, hosts_of(again)), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(count(a_db, "SELECT count(*) FROM frontier"), 4);
  EXPECT_EQ(count(a_db, "SELECT count(*) FROM run_urls"), 4);
  // Each host sorts by the lowest depth of its URLs.
  EXPECT_EQ(count(a_db, "SELECT depth FROM host_leases WHERE host = 'h1'"), 1);
  EXPECT_EQ(count(a_db, "SELECT depth FROM host_leases WHERE host = 'h3'"), 3);
}

TEST_P(Leases, HostsAreClaimedBreadthFirstByOneWorkerAtATime) {
  Database a_db = Database::open(where_);
  Database b_db = Database::open(where_);
  HostLeases a(a_db, {.run_id = 1, .worker = "a", .ttl_s = 3000});
  HostLeases b(b_db, {.run_id = 1, .worker = "b", .ttl_s = 3000});
  std::vector<PendingUrl> urls;
  int64_t seq = 0;
  for (int page = 0; page < 5; ++page) urls.push_back(url(seq++, "deep", page, 2));
  for (int page = 0; page < 5; ++page) urls.push_back(url(seq++, "shallow", page, 0));
  for (int page = 0; page < 5; ++page) urls.push_back(url(seq++, "middle", page, 1));
  urls.push_back(url(seq++, "later", 0, 0));
  urls.back().not_before = 1000;  // a retry, not due before t = 1000
  a.admit(urls, hosts_of(urls));

  const auto first = a.claim(2, 3, 100);
  ASSERT_EQ(first.size(), 2u);
  std::set<std::string> claimed = {first[0].host, first[1].host};
  EXPECT_EQ(claimed, (std::set<std::string>{"shallow", "middle"}));
  for (const auto& lease : first) {
    ASSERT_EQ(lease.urls.size(), 3u) << lease.host;
    EXPECT_LT(lease.urls[0].seq, lease.urls[1].seq);
    EXPECT_LT(lease.urls[1].seq, lease.urls[2].seq);
  }
  // The other worker gets what is left and due: not the leased hosts, not the retry.
  const auto second = b.claim(5, 10, 100);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].host, "deep");
  EXPECT_EQ(second[0].urls.size(), 5u);
  EXPECT_TRUE(b.claim(5, 10, 100).empty());

  // Given back with a delay, a host waits for it; then anyone may take it, with what is left.
  std::vector<int64_t> done;
  for (const auto& u : first[0].urls) done.push_back(u.seq);
  EXPECT_EQ(a.complete(done), (std::vector<bool>{true, true, true}));
  a.release(first[0].host, 150);
  a_db.flush();  // a release goes with the worker's next round trip
  EXPECT_TRUE(b.claim(5, 10, 149).empty());
  const auto third = b.claim(5, 10, 150);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].host, first[0].host);
  EXPECT_EQ(third[0].next_fetch_at, 150);
  EXPECT_EQ(third[0].urls.size(), 2u);
  EXPECT_EQ(b.claim(5, 10, 1000).at(0).host, "later");
}

// URLs of a host admitted after it was claimed (a list read on, links found) go to the worker that
// holds it, after those it took, and to nobody else while it does.
TEST_P(Leases, AHeldHostGetsTheUrlsAdmittedSinceItWasClaimed) {
  Database a_db = Database::open(where_);
  Database b_db = Database::open(where_);
  HostLeases a(a_db, {.run_id = 1, .worker = "a", .ttl_s = 3000});
  HostLeases b(b_db, {.run_id = 1, .worker = "b", .ttl_s = 3000});
  std::vector<PendingUrl> urls;
  for (int page = 0; page < 5; ++page) urls.push_back(url(page, "h\"1", page));
  urls.push_back(url(5, "h2", 0));
  a.admit(urls, hosts_of(urls));
  const auto claimed = a.claim(2, 2, 100);
  ASSERT_EQ(claimed.size(), 2u);
  const auto seqs = [](const std::vector<HostLease>& leases) {
    std::map<std::string, std::vector<int64_t>> out;
    for (const auto& l : leases)
      for (const auto& u : l.urls) out[l.host].push_back(u.seq);
    return out;
  };
  using Seqs = std::map<std::string, std::vector<int64_t>>;
  EXPECT_EQ(seqs(claimed), (Seqs{{"h\"1", {0, 1}}, {"h2", {5}}}));

  // After the two taken, the rest, lowest first, up to the batch; h2 has nothing more.
  EXPECT_EQ(seqs(a.take_more({{.host = "h\"1", .after = 1}, {.host = "h2", .after = 5}}, 2, 100)),
            (Seqs{{"h\"1", {2, 3}}}));
  EXPECT_TRUE(a.take_more({{.host = "h\"1", .after = 4}, {.host = "h2", .after = 5}}, 10, 100).empty());
  // A link found at a lower depth than the host's last URL taken still comes: it is newer.
  std::vector<PendingUrl> found = {url(6, "h2", 9, 1), url(7, "h\"1", 8, 0)};
  b.admit(found, hosts_of(found));
  EXPECT_EQ(seqs(a.take_more({{.host = "h\"1", .after = 4}, {.host = "h2", .after = 5}}, 10, 100)),
            (Seqs{{"h\"1", {7}}, {"h2", {6}}}));
  // Only the holder of a host's lease gets its URLs, and only while the lease is live.
  EXPECT_TRUE(b.take_more({{.host = "h\"1", .after = -1}}, 10, 100).empty());
  EXPECT_TRUE(a.take_more({{.host = "h\"1", .after = -1}}, 10, 4000).empty());
}

TEST_P(Leases, AnExpiredLeaseIsTakenOverAndItsOldHolderLearnsIt) {
  Database a_db = Database::open(where_);
  Database b_db = Database::open(where_);
  HostLeases a(a_db, {.run_id = 1, .worker = "a", .ttl_s = 30});
  HostLeases b(b_db, {.run_id = 1, .worker = "b", .ttl_s = 30});
  std::vector<PendingUrl> urls = {url(0, "h", 0), url(1, "h", 1)};
  a.admit(urls, hosts_of(urls));
  ASSERT_EQ(a.claim(1, 10, 100).size(), 1u);
  EXPECT_EQ(a.renew(120), (std::vector<std::string>{"h"}));  // now held until 150
  EXPECT_TRUE(b.claim(1, 10, 149).empty());
  // a stopped renewing (it died, or stalled): b takes the host over, URLs and all.
  const auto taken = b.claim(1, 10, 151);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].urls.size(), 2u);
  EXPECT_TRUE(a.renew(152).empty());
  EXPECT_EQ(b.complete({0}), (std::vector<bool>{true}));
  // a comes back with both fetched: one was finished by b, its row must not be stored twice.
  EXPECT_EQ(a.complete({0, 1}), (std::vector<bool>{false, true}));
}

// Four workers, each on its own connection and thread, share 10,000 URLs on 200 hosts: every URL is
// completed exactly once and no host is ever held by two workers at once.
TEST_P(Leases, FourWorkersShareARunWithoutOverlap) {
  constexpr int kHosts = 200, kPages = 50;
  {
    Database db = Database::open(where_);
    HostLeases seeder(db, {.run_id = 1, .worker = "seeder"});
    std::vector<PendingUrl> urls;
    for (int page = 0; page < kPages; ++page)
      for (int h = 0; h < kHosts; ++h)
        urls.push_back(url(static_cast<int64_t>(urls.size()), "h" + std::to_string(h), page));
    db.exec("BEGIN");
    ASSERT_EQ(seeder.admit(urls, hosts_of(urls)), std::vector<bool>(urls.size(), true));
    db.exec("COMMIT");
  }
  std::mutex mutex;
  std::map<std::string, std::string> holder;  // host -> worker, while held
  std::atomic<int> overlaps{0}, completed{0}, lost{0};
  auto work = [&](const std::string& name) {
    Database db = Database::open(where_);
    HostLeases leases(db, {.run_id = 1, .worker = name, .ttl_s = 60});
    for (int idle = 0; idle < 3;) {
      const auto claimed = leases.claim(8, 20, 100);
      if (claimed.empty()) {
        ++idle;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      idle = 0;
      for (const auto& lease : claimed) {
        {
          std::lock_guard lock(mutex);
          if (!holder.emplace(lease.host, name).second) ++overlaps;
        }
        std::vector<int64_t> seqs;
        for (const auto& u : lease.urls) seqs.push_back(u.seq);
        db.exec("BEGIN");
        for (bool done : leases.complete(seqs)) done ? ++completed : ++lost;
        db.exec("COMMIT");
        {
          std::lock_guard lock(mutex);
          holder.erase(lease.host);
        }
        leases.release(lease.host, 0);
        db.flush();
      }
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) workers.emplace_back(work, "w" + std::to_string(w));
  for (auto& t : workers) t.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(lost.load(), 0);
  EXPECT_EQ(completed.load(), kHosts * kPages);
  Database db = Database::open(where_);
  EXPECT_EQ(count(db, "SELECT count(*) FROM frontier"), 0);
  EXPECT_EQ(count(db, "SELECT count(*) FROM host_leases WHERE worker IS NOT NULL"), 0);
}

// A run's first URLs go into a frontier PostgreSQL has no statistics for. Planned on none, completing
// 256 URLs filtered the run's whole frontier (every URL of the run read, 40 ms at 20,000 URLs); the
// first claim analyzes the table and the plans go by each URL's key.
TEST(LeasesOnPostgres, ARunsFirstClaimGivesTheFrontierStatisticsSoUrlsCompleteByTheirKey) {
  const std::string where = test::fresh_postgres_database("plans");
  Database db = Database::open(where);
  insert_run(db);
  HostLeases leases(db, {.run_id = 1, .worker = "w"});
  std::vector<PendingUrl> urls;
  std::vector<std::string> hosts;
  for (int i = 0; i < 3000; ++i) {
    const std::string host = "h" + std::to_string(i % 10) + ".test";
    const std::string url = "http://" + host + "/p" + std::to_string(i);
    urls.push_back(
        {.seq = i, .source = "list.txt", .line = i + 1, .input = url, .url = url, .seed_host = host});
    hosts.push_back(host);
  }
  db.exec("BEGIN");
  leases.admit(urls, hosts);
  db.exec("COMMIT");
  const auto statistics = [&] {
    Statement s =
        db.prepare("SELECT count(*) FROM pg_stats WHERE tablename = 'frontier' AND attname = 'run_id'");
    return s.step() ? s.integer(0) : -1;
  };
  ASSERT_EQ(statistics(), 0);  // as autovacuum leaves a table it has not reached yet

  const auto claimed = leases.claim(4, 100, 1);
  ASSERT_EQ(claimed.size(), 4u);
  EXPECT_EQ(claimed[0].urls.size(), 100u);
  EXPECT_EQ(statistics(), 1);

  // The plan crawl's own connection makes for completing URLs (as HostLeases::complete states it).
  db.exec(
      "PREPARE gone(bigint, bigint, bigint) AS DELETE FROM frontier WHERE run_id = $1 AND seq IN ($2, $3) "
      "RETURNING seq");
  Statement explain = db.prepare("EXPLAIN EXECUTE gone(1, 10, 20)");
  std::string plan;
  while (explain.step()) plan += explain.text(0) + "\n";
  EXPECT_NE(plan.find("Index Cond: ((run_id = $1) AND (seq = ANY"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("Filter"), std::string::npos) << plan;
}

// A worker renewing its leases while another worker's batch admits links to two of its hosts: the
// renewal locked its rows in the table's order (hb, then ha) and the batch in the hosts' (ha, then
// hb), so each held a row the other waited for, and PostgreSQL failed one of them ("deadlock
// detected", seen in a four-worker run). Both now go by the hosts' order: the renewal waits for
// the batch's commit, and both succeed.
TEST(LeasesOnPostgres, RenewingLeasesWaitsForABatchAdmittingLinksToThemInsteadOfDeadlocking) {
  const std::string where = test::fresh_postgres_database("renew");
  Database w_db = Database::open(where);
  insert_run(w_db);
  HostLeases w(w_db, {.run_id = 1, .worker = "w", .ttl_s = 60});
  const auto page = [](int64_t seq, const std::string& host, int depth) {
    const std::string url = "http://" + host + "/" + std::to_string(seq);
    return PendingUrl{.seq = seq,
                      .source = "list.txt",
                      .line = seq,
                      .input = url,
                      .url = url,
                      .depth = depth,
                      .seed_host = host};
  };
  // hb's row first in the table, then ha's.
  w.admit({page(0, "hb", 0)}, {"hb"});
  w.admit({page(1, "ha", 0)}, {"ha"});
  ASSERT_EQ(w.claim(2, 10, 100).size(), 2u);

  Database v_db = Database::open(where);
  HostLeases v(v_db, {.run_id = 1, .worker = "v", .ttl_s = 60});
  v_db.exec("BEGIN");
  v.admit({page(2, "ha", 1)}, {"ha"});

  std::string renewal_failure;
  std::vector<std::string> renewed;
  std::thread renewal([&] {
    try {
      renewed = w.renew(100);
    } catch (const StorageError& e) {
      renewal_failure = e.what();
    }
  });
  ASSERT_TRUE(test::a_statement_waits_for_a_lock(where, std::chrono::seconds(30)));
  std::string batch_failure;
  try {
    v.admit({page(3, "hb", 1)}, {"hb"});
    v_db.exec("COMMIT");
  } catch (const StorageError& e) {
    batch_failure = e.what();
    v_db.rollback_quietly();
  }
  renewal.join();
  EXPECT_EQ(batch_failure, "");
  EXPECT_EQ(renewal_failure, "");
  std::sort(renewed.begin(), renewed.end());
  EXPECT_EQ(renewed, (std::vector<std::string>{"ha", "hb"}));
  Statement entries = w_db.prepare("SELECT count(*) FROM frontier");
  ASSERT_TRUE(entries.step());
  EXPECT_EQ(entries.integer(0), 4);
}

INSTANTIATE_TEST_SUITE_P(Engines, Leases, ::testing::Values(Where::sqlite, Where::postgres),
                         [](const auto& info) {
                           return info.param == Where::sqlite ? "sqlite" : "postgres";
                         });

}  // namespace
}  // namespace crawl::storage
