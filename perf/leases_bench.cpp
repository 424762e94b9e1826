// How fast a shared run's frontier moves URLs through host leases on one PostgreSQL server: each
// iteration admits 20,000 URLs on 200 hosts (batches of 1,000, one transaction each), then W
// workers, each on its own connection and thread, claim 8 hosts at a time with up to 100 URLs each,
// complete them and give the hosts back in one transaction per claim, until none is left. Items are
// URLs admitted, leased and completed, per second of wall time; the counters give the two halves apart
// (admitted_per_s: taking URLs in; leased_completed_per_s: claiming, completing, giving hosts back).
//
//   CRAWL_BENCH_PG=postgresql://crawl@127.0.0.1:5432/bench build/crawl_microbench --benchmark_filter=Leases
//
// perf/postgres.py starts a server and runs this with it. Without CRAWL_BENCH_PG it is skipped.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "storage/database.hpp"
#include "storage/leases.hpp"

namespace {

using crawl::storage::Database;
using crawl::storage::HostLeases;
using crawl::storage::PendingUrl;

constexpr int kHosts = 200;
constexpr int kPerHost = 100;

int64_t new_run(Database& db) {
  crawl::storage::Statement insert = db.prepare(
      "INSERT INTO runs (status, started_at, mode, processes, threads, fibers, concurrency, queue_capacity, "
      "consumers, callback_threads, parse, version, command_line) VALUES ('running', "
      "'2026-12-02T00:00:00.000Z', 'fiber', 1, 1, 1, 1, 1, 1, 1, 1, 'bench', 'bench') RETURNING id");
  insert.step();
  return insert.integer(0);
}

void work(const std::string& uri, int64_t run, const std::string& name) {
  Database db = Database::open(uri);
  HostLeases leases(db, {.run_id = run, .worker = name, .ttl_s = 60});
  crawl::storage::Statement begin = db.prepare("BEGIN");
  crawl::storage::Statement commit = db.prepare("COMMIT");
  while (true) {
    const auto claimed = leases.claim(8, kPerHost, 1);
    if (claimed.empty()) return;
    // As a worker's writer does: the rows of a batch (here, every URL claimed) completed in one
    // statement, their hosts given back, all in one transaction, sent in two round trips.
    std::vector<int64_t> seqs;
    for (const auto& lease : claimed)
      for (const auto& u : lease.urls) seqs.push_back(u.seq);
    begin.queue();
    leases.complete(seqs);
    for (const auto& lease : claimed) leases.release(lease.host, 0);
    commit.queue();
    db.flush();
  }
}

void BM_LeasesAdmitClaimComplete(benchmark::State& state) {
  const char* uri = std::getenv("CRAWL_BENCH_PG");
  if (!uri) {
    state.SkipWithError("set CRAWL_BENCH_PG to a PostgreSQL URI (perf/postgres.py does)");
    return;
  }
  const int workers = static_cast<int>(state.range(0));
  Database db = Database::open(uri);
  int64_t urls_done = 0;
  double admit_s = 0;
  double lease_s = 0;
  for (auto _ : state) {
    const auto admitting = std::chrono::steady_clock::now();
    const int64_t run = new_run(db);
    HostLeases seeder(db, {.run_id = run, .worker = "seeder"});
    std::vector<PendingUrl> batch;
    std::vector<std::string> hosts;
    for (int page = 0; page < kPerHost; ++page) {
      for (int h = 0; h < kHosts; ++h) {
        const std::string host = "h" + std::to_string(h) + ".localhost";
        const std::string url = "http://" + host + "/page/" + std::to_string(page);
        batch.push_back({.seq = static_cast<int64_t>(page) * kHosts + h,
                         .source = "list.txt",
                         .line = static_cast<int64_t>(page) * kHosts + h + 1,
                         .input = url,
                         .url = url,
                         .depth = 0,
                         .seed_host = host});
        hosts.push_back(host);
      }
      if (batch.size() >= 1000) {
        db.exec("BEGIN");
        seeder.admit(batch, hosts);
        db.exec("COMMIT");
        batch.clear();
        hosts.clear();
      }
    }
    const auto leasing = std::chrono::steady_clock::now();
    admit_s += std::chrono::duration<double>(leasing - admitting).count();
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w)
      threads.emplace_back(work, std::string(uri), run, "w" + std::to_string(w));
    for (auto& t : threads) t.join();
    lease_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - leasing).count();
    urls_done += kHosts * kPerHost;
  }
  state.SetItemsProcessed(urls_done);
  // The two halves apart: taking URLs in, and leasing, completing and giving hosts back.
  state.counters["admitted_per_s"] = static_cast<double>(urls_done) / admit_s;
  state.counters["leased_completed_per_s"] = static_cast<double>(urls_done) / lease_s;
}
BENCHMARK(BM_LeasesAdmitClaimComplete)
    ->Arg(1)
    ->Arg(4)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace
