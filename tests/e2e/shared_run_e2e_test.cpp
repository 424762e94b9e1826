// One run shared by several worker processes through one database (`crawl run --shared`, then
// `crawl resume RUN` to join), against a real PostgreSQL 15 and the testbed's multi-host site:
// every URL ends as exactly one row, fetched once; the per-host cap and delay hold across the
// workers together (the testbed's /__hosts counters); a worker killed mid-run loses nothing; a run
// whose workers were all killed is finished by one `crawl resume`.
#include <gtest/gtest.h>
#include <signal.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/db.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

using test::query_int;

constexpr int kHosts = 6;
constexpr int kPerHost = 2;
constexpr int kDelayMs = 80;

// h0..h5 of the multi-host site, their first page each: links lead to the rest of each host's site.
std::string write_seeds(test::TempDir& dir, const test::Testbed& testbed) {
  std::string list;
  for (int h = 0; h < kHosts; ++h)
    list += testbed.host_url("h" + std::to_string(h) + ".localhost", "/page/0") + "\n";
  const std::string path = dir.file("seeds.txt");
  test::write_file(path, list);
  return path;
}

// How a worker runs (a joining worker gives these only: what the run crawls is the run's).
std::vector<std::string> worker_flags(const std::string& db, const std::string& mode,
                                      const std::string& lease_ttl = "1s") {
  std::vector<std::string> flags = {"--db", db, "--mode", mode, "--lease-ttl", lease_ttl, "--no-progress"};
  for (const char* f : mode == "hybrid" ? std::vector<const char*>{"--processes", "2", "--fibers", "4"}
                                        : std::vector<const char*>{"-c", "8"})
    flags.emplace_back(f);
  return flags;
}

test::Child start_first(const std::string& seeds, const std::string& db, const std::string& mode,
                        int delay_ms = kDelayMs, const std::string& lease_ttl = "1s") {
  std::vector<std::string> argv = {test::crawl_binary(),
                                   "run",
                                   seeds,
                                   "--shared",
                                   "--depth",
                                   "2",
                                   "--robots",
                                   "off",
                                   "--per-host",
                                   std::to_string(kPerHost),
                                   "--delay",
                                   std::to_string(delay_ms) + "ms"};
  for (auto& f : worker_flags(db, mode, lease_ttl)) argv.push_back(f);
  return test::Child(argv);
}

test::Child join(const std::string& db, const std::string& mode, int64_t run = 1,
                 const std::string& lease_ttl = "1s") {
  std::vector<std::string> argv = {test::crawl_binary(), "resume", std::to_string(run)};
  for (auto& f : worker_flags(db, mode, lease_ttl)) argv.push_back(f);
  return test::Child(argv);
}

// Waits up to 60 s for `count_sql` to count `n` or more.
void wait_for_count(const std::string& db, const std::string& count_sql, long long n) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < until) {
    try {
      if (query_int(db, count_sql) >= n) return;
    } catch (const std::exception&) {
      // the schema is not there yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "'" << count_sql << "' counted fewer than " << n << " after 60 s";
}

// Waits up to 60 s for the run's pages to reach `rows` rows.
void wait_for_rows(const std::string& db, long long rows) {
  wait_for_count(db, "select count(*) from pages", rows);
}

// What one process crawling the same seeds alone stores: how many URLs the run has in all.
long long urls_of_a_single_process_run(test::TempDir& dir, const std::string& seeds) {
  const std::string db = dir.file("alone.db");
  auto r = test::run_crawl(
      {"run", seeds, "--depth", "2", "--robots", "off", "--db", db, "-c", "16", "--no-progress"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return query_int(db, "select count(*) from pages");
}

// Every URL has one row, under one seq; the shared frontier and the leases are empty; the run is
// completed and counts every worker's rows.
void expect_one_row_per_url(const std::string& db, long long expected_urls) {
  const long long rows = query_int(db, "select count(*) from pages");
  EXPECT_EQ(rows, expected_urls);
  EXPECT_EQ(query_int(db, "select count(distinct url) from pages"), rows);
  EXPECT_EQ(query_int(db, "select count(distinct seq) from pages"), rows);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'duplicate'"), 0);
  EXPECT_EQ(query_int(db, "select count(*) from frontier"), 0);
  EXPECT_EQ(query_int(db, "select count(*) from run_urls"), rows);
  EXPECT_EQ(query_int(db, "select count(*) from host_leases where worker is not null"), 0);
  EXPECT_EQ(query_int(db, "select count(*) from runs where status = 'completed'"), 1);
  EXPECT_EQ(query_int(db, "select urls from runs"), rows);
}

// One `crawl resume` finishes the run: every URL ends as one row.
void resume_to_the_end(const std::string& db, long long expected_urls) {
  auto resumed = test::run_crawl({"resume", "1", "--db", db, "--lease-ttl", "1s", "--no-progress"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  expect_one_row_per_url(db, expected_urls);
}

// The testbed, the seeds, what one process alone makes of them, and a fresh PostgreSQL database.
struct Site {
  explicit Site(const std::string& db_name)
      : testbed(test::Testbed::start()),
        seeds(write_seeds(dir, testbed)),
        expected(urls_of_a_single_process_run(dir, seeds)),
        db(test::fresh_postgres_database(db_name)) {}
  test::TempDir dir;
  test::Testbed testbed;
  std::string seeds;
  long long expected;
  std::string db;
};

class SharedRun : public ::testing::TestWithParam<std::string> {};

TEST_P(SharedRun, FourWorkersShareOneRunUnderOneCapAndOneDelayPerHost) {
  const std::string mode = GetParam();
  Site site("shared_" + mode);
  const std::string& db = site.db;
  const long long expected = site.expected;
  ASSERT_GT(expected, kHosts * 10);
  site.testbed.reset_stats();

  // The first worker waits, stopped, until the others are up and asking for hosts: started after
  // it, on a loaded machine they came up when it had taken every host and the little run was
  // nearly over. Its leases outlast the pause (a lease that expired while it was stopped would let
  // another worker fetch from its hosts beside the fetches it still had going).
  test::Child first = start_first(site.seeds, db, mode, kDelayMs, "30s");
  wait_for_count(db, "select count(*) from runs", 1);
  ASSERT_EQ(kill(-first.pid(), SIGSTOP), 0);
  // Nor do the others' leases end while they hold them: a worker's lease that went unrenewed for
  // 1 s (a CI run with two CPU burners beside it) let another worker fetch a URL it was fetching,
  // and the server counted that URL's request twice.
  std::vector<test::Child> others;
  for (int i = 0; i < 3; ++i) others.push_back(join(db, mode, 1, "30s"));
  // A joining worker waits for the rows the first one locks in a transaction it was stopped in:
  // each second it goes on for a moment, and the transaction ends.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  auto next_moment = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (query_int(db, "select count(*) from run_sessions") < 4 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (std::chrono::steady_clock::now() < next_moment) continue;
    kill(-first.pid(), SIGCONT);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    kill(-first.pid(), SIGSTOP);
    next_moment = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  }
  EXPECT_EQ(query_int(db, "select count(*) from run_sessions"), 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(kill(-first.pid(), SIGCONT), 0);
  EXPECT_EQ(first.wait(std::chrono::seconds(120)), 0) << first.rest_of_output();
  for (auto& w : others) EXPECT_EQ(w.wait(std::chrono::seconds(120)), 0) << w.rest_of_output();

  expect_one_row_per_url(db, expected);
  EXPECT_EQ(query_int(db, "select count(*) from run_sessions where status = 'completed'"), 4);
  EXPECT_EQ(query_int(db, "select sum(rows) from run_sessions"), expected);
  // The work was shared: more than one worker stored rows.
  std::string rows_of_sessions;
  for (const auto& row : test::query_rows(db, "select rows from run_sessions order by session"))
    rows_of_sessions += " " + row.at("rows").value_or("null");
  EXPECT_GE(query_int(db, "select count(*) from run_sessions where rows > 0"), 2)
      << "rows of each session:" << rows_of_sessions;

  // Each URL was fetched once, by all workers together; no host ever had more than --per-host
  // requests at once, nor two starts closer than --delay. The starts are the rows' fetched_at, when
  // the workers' requests went out: the server sees a request when it gets there, later on a loaded
  // machine for one request than for the next (fetched_at is stored to the millisecond).
  const auto hosts = site.testbed.hosts();
  for (int h = 0; h < kHosts; ++h) {
    const std::string name = "h" + std::to_string(h) + ".localhost";
    ASSERT_TRUE(hosts.contains(name)) << hosts.dump();
    const auto& c = hosts[name];
    const std::string of_host = " from pages where url like 'http://" + name + ":%'";
    EXPECT_EQ(c["requests"].get<long long>(),
              query_int(db, "select coalesce(sum(attempts + redirects), 0)" + of_host))
        << name;
    EXPECT_LE(c["peak_concurrent"].get<int>(), kPerHost) << name;
    std::vector<double> starts;
    for (const auto& row :
         test::query_rows(db, "select extract(epoch from fetched_at::timestamptz) * 1000 as ms" + of_host +
                                  " and fetched_at is not null"))
      starts.push_back(std::stod(row.at("ms").value_or("0")));
    std::sort(starts.begin(), starts.end());
    ASSERT_GT(starts.size(), 3u) << name;
    for (size_t i = 1; i < starts.size(); ++i)
      EXPECT_GE(starts[i] - starts[i - 1], kDelayMs - 1) << name << " start " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryMode, SharedRun, ::testing::Values("fiber", "thread", "process", "hybrid"));

TEST(SharedRunWorkers, AWorkerKilledMidRunLosesNothing) {
  Site site("shared_kill_one");
  const std::string& db = site.db;
  const long long expected = site.expected;
  // Slow enough per host that the run lasts a few seconds.
  test::Child first = start_first(site.seeds, db, "fiber", 150);
  wait_for_rows(db, 1);
  test::Child second = join(db, "fiber");
  test::Child third = join(db, "thread");
  // The first worker dies without a word while it holds hosts (its URLs, read or found, are in the
  // database): the others take them over once its leases expire. It is killed as soon as it holds
  // one, before the others have done much: killed once they had joined, on a busy machine, it had
  // sometimes left them so little that the run was over before `crawl runs` below could look.
  const std::string holder = "'%/" + std::to_string(first.pid()) + "'";
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < until &&
         query_int(db, "select count(*) from host_leases where host <> '' and worker like " + holder) == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_GT(query_int(db, "select count(*) from frontier"), 0)
      << "the run ended before a worker could be killed";
  EXPECT_EQ(first.stop(SIGKILL), 128 + SIGKILL);
  ASSERT_TRUE(test::wait_for_count(db, "select count(*) from run_sessions", 3, std::chrono::seconds(60)));
  // The run goes on, with the two workers left (the one that made it is gone).
  auto runs = test::run_crawl({"runs", "--db", db, "--format", "json"});
  ASSERT_EQ(runs.exit_code, 0) << runs.err;
  const auto listed = nlohmann::json::parse(runs.out);
  ASSERT_EQ(listed.size(), 1u) << runs.out;
  EXPECT_EQ(listed[0]["status"], "running") << runs.out;
  EXPECT_EQ(listed[0]["workers"], 2) << runs.out;
  // How far the run is: the share of the URLs known so far that have their row.
  const double urls = listed[0]["urls"].get<double>(), pending = listed[0]["pending"].get<double>();
  ASSERT_GT(urls + pending, 0) << runs.out;
  EXPECT_NEAR(listed[0]["done_pct"].get<double>(), 100.0 * urls / (urls + pending), 0.051) << runs.out;
  EXPECT_EQ(second.wait(std::chrono::seconds(120)), 0) << second.rest_of_output();
  EXPECT_EQ(third.wait(std::chrono::seconds(120)), 0) << third.rest_of_output();
  expect_one_row_per_url(db, expected);
}

TEST(SharedRunWorkers, AllWorkersKilledThenOneResumeFinishesTheRun) {
  Site site("shared_kill_all");
  const std::string& db = site.db;
  const long long expected = site.expected;
  test::Child first = start_first(site.seeds, db, "fiber", 150);
  wait_for_rows(db, 1);
  test::Child second = join(db, "thread");
  wait_for_rows(db, expected / 3);
  EXPECT_EQ(first.stop(SIGKILL), 128 + SIGKILL);
  EXPECT_EQ(second.stop(SIGKILL), 128 + SIGKILL);
  ASSERT_LT(query_int(db, "select count(*) from pages"), expected);

  resume_to_the_end(db, expected);
}

// Ctrl-C stops a worker cleanly: the URLs it had claimed and not fetched stay in the shared
// frontier (no `interrupted` row is stored for them), its hosts are given back at once, and a
// `crawl resume` finishes the run.
TEST(SharedRunWorkers, AnInterruptedWorkerGivesItsWorkBack) {
  Site site("shared_interrupted");
  const std::string& db = site.db;
  const long long expected = site.expected;
  test::Child first = start_first(site.seeds, db, "thread", 150);
  wait_for_rows(db, kHosts + 2);
  EXPECT_EQ(first.stop(SIGINT), 130) << first.rest_of_output();
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'interrupted'"), 0);
  EXPECT_EQ(query_int(db, "select count(*) from host_leases where worker is not null"), 0);
  EXPECT_GT(query_int(db, "select count(*) from frontier"), 0);
  EXPECT_EQ(query_int(db, "select count(*) from runs where status = 'interrupted'"), 1);

  resume_to_the_end(db, expected);
}

// The lists are read by one worker; when it dies before their end, the next `crawl resume` reads on
// from where they were stored up to, and no line is lost or stored twice.
TEST(SharedRunWorkers, ListsOfAReaderThatDiedAreReadOnByTheNextResume) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  // Long enough to be read for a while: lines left out by --exclude, each stored as a row.
  constexpr int kSkipped = 200'000;
  std::string list;
  for (int i = 0; i < 3; ++i) list += testbed.url("/page/" + std::to_string(i)) + "\n";
  for (int i = 0; i < kSkipped; ++i) list += testbed.url("/skip/" + std::to_string(i)) + "\n";
  list += "not a url\n";
  list += testbed.url("/page/1") + "\n";
  const long long lines = 3 + kSkipped + 2;
  const std::string path = dir.file("list.txt");
  test::write_file(path, list);
  const std::string db = test::fresh_postgres_database("shared_reader");
  test::Child first({test::crawl_binary(), "run", path, "--shared", "--exclude", "/skip/", "--db", db, "-c",
                     "4", "--lease-ttl", "1s", "--no-parse", "--no-progress"});
  wait_for_rows(db, 2000);
  EXPECT_EQ(first.stop(SIGKILL), 128 + SIGKILL);
  // It died reading: the lease on the lists is still there.
  ASSERT_EQ(query_int(db, "select count(*) from host_leases where host = ''"), 1);
  ASSERT_LT(query_int(db, "select count(*) from pages"), lines);

  auto resumed = test::run_crawl({"resume", "1", "--db", db, "--lease-ttl", "1s", "--no-progress"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_EQ(query_int(db, "select count(*) from pages"), lines);
  EXPECT_EQ(query_int(db, "select count(distinct line) from pages"), lines);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'excluded'"), kSkipped);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error is null"), 3);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'duplicate' and line = " +
                              std::to_string(lines)),
            1);
  EXPECT_EQ(query_int(db, "select count(*) from pages where error = 'bad_url'"), 1);
  EXPECT_EQ(query_int(db, "select count(*) from frontier"), 0);
  EXPECT_EQ(query_int(db, "select count(*) from host_leases where host = ''"), 0);
  EXPECT_EQ(query_int(db, "select count(*) from runs where status = 'completed'"), 1);
}

// A worker takes more hosts while those it holds cannot keep its producers busy, however many URLs
// one of them has queued: h0's 40 URLs at --per-host 2 are two fetches at a time, not 40. (It
// counted queued URLs, and held h0 and 11 one-page hosts at -c 24: 13 fetches at a time.) Each
// request takes at least the testbed's 300 ms, so the requests that start within 300 ms of each
// other are all in progress at once: their count is a floor under how many were.
TEST(SharedRunWorkers, AHostWithManyUrlsDoesNotKeepAWorkerFromOtherHosts) {
  constexpr int kLatencyMs = 300;
  test::TempDir dir;
  test::Testbed testbed =
      test::Testbed::start({"--hosts", "40", "--latency", std::to_string(kLatencyMs) + "ms"});
  std::string list;
  for (int page = 0; page < 40; ++page)
    list += testbed.host_url("h0.localhost", "/page/" + std::to_string(page)) + "\n";
  for (int h = 1; h < 40; ++h)
    list += testbed.host_url("h" + std::to_string(h) + ".localhost", "/page/0") + "\n";
  const std::string seeds = dir.file("seeds.txt");
  test::write_file(seeds, list);
  const std::string db = test::fresh_postgres_database("shared_busy");

  auto r = test::run_crawl({"run", seeds, "--shared", "--robots", "off", "--per-host", "2", "--no-parse",
                            "-c", "24", "--db", db, "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(query_int(db, "select count(*) from pages where error is null"), 79);

  std::vector<long long> starts;
  const auto hosts = testbed.hosts();
  for (int h = 0; h < 40; ++h) {
    const std::string name = "h" + std::to_string(h) + ".localhost";
    ASSERT_TRUE(hosts.contains(name)) << hosts.dump();
    for (const auto& ms : hosts[name]["starts_ms"]) starts.push_back(ms.get<long long>());
  }
  std::sort(starts.begin(), starts.end());
  ASSERT_EQ(starts.size(), 79u);
  size_t together = 0;
  for (size_t first = 0, last = 0; last < starts.size(); ++last) {
    while (starts[last] - starts[first] >= kLatencyMs) ++first;
    together = std::max(together, last - first + 1);
  }
  EXPECT_GE(together, 20u);
}

// The reader's rows (bad lines, lines left out) go through --jsonl as the fetched pages' do: the file
// has every row of a one-worker run, once. (They were stored, and missing from the file.)
TEST(SharedRunWorkers, TheReadersRowsGoThroughJsonlToo) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  std::string list;
  for (int i = 0; i < 5; ++i) list += testbed.url("/page/" + std::to_string(i)) + "\n";
  list += "not a url\n" + testbed.url("/skip/1") + "\n" + testbed.url("/skip/2") + "\n";
  const std::string path = dir.file("list.txt");
  test::write_file(path, list);
  const std::vector<std::string> dbs = {dir.file("shared.db"), test::fresh_postgres_database("shared_jsonl")};
  for (size_t i = 0; i < dbs.size(); ++i) {
    const std::string& db = dbs[i];
    const std::string jsonl = dir.file("rows" + std::to_string(i) + ".jsonl");
    auto r = test::run_crawl({"run", path, "--shared", "--exclude", "/skip/", "--db", db, "--jsonl", jsonl,
                              "-c", "4", "--no-progress"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, int> errors;
    std::set<long long> seqs;
    std::istringstream lines(test::read_file(jsonl));
    for (std::string line; std::getline(lines, line);) {
      const auto row = nlohmann::json::parse(line);
      ++errors[row["error"].is_null() ? "" : row["error"].get<std::string>()];
      seqs.insert(row["seq"].get<long long>());
    }
    EXPECT_EQ(errors, (std::map<std::string, int>{{"", 5}, {"bad_url", 1}, {"excluded", 2}})) << db;
    EXPECT_EQ(seqs.size(), 8u) << db;
    EXPECT_EQ(query_int(db, "select count(*) from pages"), 8) << db;
  }
}

// A worker alone on a run keeps the host it holds fed with the URLs admitted since it claimed it:
// one claim of the host, not one per batch of 32 (2 x -c) with the host given back, waited for
// and claimed again each time (10 claims for these 300 URLs).
TEST(SharedRunWorkers, AWorkerAloneKeepsItsHostFedInsteadOfGivingItBack) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  std::string list;
  for (int i = 0; i < 300; ++i) list += testbed.url("/delay/20/page/" + std::to_string(i)) + "\n";
  const std::string path = dir.file("list.txt");
  test::write_file(path, list);
  const std::vector<std::string> dbs = {dir.file("alone.db"), test::fresh_postgres_database("shared_alone")};
  for (const std::string& db : dbs) {
    auto r = test::run_crawl({"run", path, "--shared", "--db", db, "-c", "8", "--no-parse", "--no-progress"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(query_int(db, "select count(*) from pages where error is null"), 300) << db;
    std::smatch m;
    const std::string summary = r.out + r.err;
    ASSERT_TRUE(std::regex_search(
        summary, m, std::regex(R"((\d+) hosts? claimed with (\d+) URLs, (\d+) more URLs taken)")))
        << summary;
    // A second claim when the first lines ran out before the rest were in (a loaded machine).
    EXPECT_LE(std::stoi(m[1]), 2) << summary;
    EXPECT_EQ(std::stoi(m[2]) + std::stoi(m[3]), 300) << summary;
  }
}

TEST(SharedRunWorkers, MaxPagesCannotBoundASharedRun) {
  test::TempDir dir;
  auto r = test::run_crawl(
      {"run", "--url", "http://127.0.0.1:1/", "--shared", "--max-pages", "5", "--db", dir.file("c.db")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--max-pages"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace crawl
