// The pipeline run in-process (run_crawl) against the real testbed and a real SQLite file.
#include "crawler/run.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

int open_fds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the directory stream itself
}

// The layouts the tests run: the four modes, and hybrid both in this process and in workers.
enum class Case { fiber, thread, hybrid, process, hybrid_processes };

Layout layout_for(Case c, int concurrency) {
  switch (c) {
    case Case::fiber:
      return make_layout(Mode::fiber, concurrency, 1, 1, 1);
    case Case::thread:
      return make_layout(Mode::thread, concurrency, 1, 1, 1);
    case Case::process:
      return make_layout(Mode::process, concurrency, 1, 1, 1);
    case Case::hybrid:
      return make_layout(Mode::hybrid, std::nullopt, 1, 2, concurrency / 2);
    case Case::hybrid_processes:
      return make_layout(Mode::hybrid, std::nullopt, 2, 2, concurrency / 4);
  }
  return {};
}

std::string case_name(Case c) {
  const char* names[] = {"fiber", "thread", "hybrid", "process", "hybrid_processes"};
  return names[static_cast<int>(c)];
}

RunOptions options_for(const std::string& list, const std::string& db, Case c, int concurrency) {
  RunOptions o;
  o.inputs.files = {list};
  o.layout = layout_for(c, concurrency);
  o.db_path = db;
  o.handle_signals = false;
  o.fetch.timeout = std::chrono::seconds(10);
  return o;
}

std::string list_of(const std::string& base, const std::string& route, int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text += base + route + std::to_string(i) + "\n";
  return text;
}

TEST(RunCrawl, ASlowCallbackRunsOncePerPageWithoutSlowingTheCrawl) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), list_of(testbed.base_url(), "/delay/20/page/", 200));
  std::atomic<int> calls{0};
  std::set<int64_t> seqs;
  std::mutex seqs_mutex;
  auto o = options_for(dir.file("urls.txt"), dir.file("crawl.db"), Case::fiber, 50);
  o.callback_threads = 2;
  // Every callback waits until all 200 rows are stored, then takes 50 ms: a crawl that waited for
  // its callbacks would never store them all (whatever the load), and the run must still end only
  // after 200 × 50 ms on 2 threads = 5 s of callback work.
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  o.callbacks.on_page.push_back([&](const storage::PageRecord& r, std::string_view) {
    opened.wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::lock_guard lock(seqs_mutex);
    seqs.insert(r.seq);
    ++calls;
  });
  std::atomic<int> done_calls{0};
  o.callbacks.on_run_done.push_back([&](const RunSummary& s) {
    EXPECT_EQ(s.tally.urls, 200);
    ++done_calls;
  });
  bool all_stored = false;
  int calls_when_stored = -1;
  std::thread watcher([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!all_stored && std::chrono::steady_clock::now() < deadline) {
      try {
        all_stored = test::query_int(o.db_path, "select count(*) from pages") == 200;
      } catch (const std::exception&) {
        // The database is not there yet.
      }
      if (!all_stored) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    calls_when_stored = calls.load();
    gate.set_value();
  });
  RunSummary s = run_crawl(o);
  watcher.join();
  EXPECT_TRUE(all_stored) << "the crawl waited for callbacks";
  EXPECT_EQ(calls_when_stored, 0);
  EXPECT_EQ(calls.load(), 200);
  EXPECT_EQ(seqs.size(), 200u);
  EXPECT_EQ(done_calls.load(), 1);
  EXPECT_EQ(s.tally.ok, 200);
  EXPECT_GE(s.stats.wall_s, 4.5) << "the run ended before every callback had run";
}

TEST(RunCrawl, ACallbackThatThrowsIsCountedNotFatal) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), list_of(testbed.base_url(), "/page/", 20));
  auto o = options_for(dir.file("urls.txt"), dir.file("crawl.db"), Case::thread, 4);
  o.callbacks.on_page.push_back(
      [](const storage::PageRecord&, std::string_view) { throw std::runtime_error("boom"); });
  RunSummary s = run_crawl(o);
  EXPECT_EQ(s.callback_failures, 20);
  EXPECT_EQ(s.first_callback_failure, "boom");
  EXPECT_TRUE(s.failure.empty()) << s.failure;
  EXPECT_FALSE(s.interrupted);
}

// Regression: fibers that start before any URL has arrived all wait for the first batch. Each batch
// must then be shared by all of the thread's fibers, not left to the few that the batches woke
// (which made the run take many rounds instead of one).
TEST(RunCrawl, FibersWaitingBeforeTheFirstUrlAllGetWork) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string fifo = dir.file("urls.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string list = list_of(testbed.base_url(), "/delay/500/page/", 200);
  std::thread writer([&] {
    int fd = open(fifo.c_str(), O_WRONLY);                        // blocks until run_crawl opens the list
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the fibers are waiting by now
    [[maybe_unused]] auto n = write(fd, list.data(), list.size());
    close(fd);
  });
  auto o = options_for(fifo, dir.file("crawl.db"), Case::fiber, 200);
  o.parse = false;
  RunSummary s = run_crawl(o);
  writer.join();
  EXPECT_EQ(s.tally.ok, 200);
  // Each fiber fetches one URL when all 200 share the work; when a batch woke only a few of them,
  // about 13 fibers fetched everything in 16 rounds.
  EXPECT_GE(test::query_int(o.db_path, "select count(distinct worker) from pages"), 150);
}

class Modes : public ::testing::TestWithParam<Case> {};

TEST_P(Modes, LeavesNoFileDescriptorOrHandleBehind) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  std::string list = list_of(testbed.base_url(), "/page/", 300) + testbed.base_url() + "/reset\n" +
                     testbed.base_url() + "/slow/3000/100\n" + "http://127.0.0.1:1/\n";
  test::write_file(dir.file("urls.txt"), list);
  // A first run sets up what lives for the process (libcurl's global state, SQLite's caches).
  auto o = options_for(dir.file("urls.txt"), dir.file("crawl.db"), GetParam(), 64);
  o.fetch.timeout = std::chrono::milliseconds(500);
  run_crawl(o);
  const int before = open_fds();
  RunSummary s = run_crawl(o);
  EXPECT_EQ(s.tally.urls, 303);
  EXPECT_EQ(open_fds(), before) << "descriptors leaked by a run";
}

// Every stored field but timings and worker ids is the same whichever layout fetched the list.
TEST_P(Modes, StoreTheSameRowsAsThreadMode) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  std::string base = testbed.base_url();
  std::string list = list_of(base, "/page/", 100) + list_of(base, "/gzip/", 20) +
                     list_of(base, "/redirect/2/page/", 20) + list_of(base, "/status/404?i=", 10) +
                     list_of(base, "/bin/", 10) + base + "/loop/1\n" + base + "/reset\nnot a url\n" + base +
                     "/page/3\n";
  test::write_file(dir.file("urls.txt"), list);
  const std::string db = dir.file("crawl.db");
  run_crawl(options_for(dir.file("urls.txt"), db, Case::thread, 16));
  RunOptions other = options_for(dir.file("urls.txt"), db, GetParam(), 16);
  run_crawl(other);
  const std::string columns =
      "seq, source, line, input, url, final_url, status, error, content_type, charset, wire_bytes, "
      "body_bytes, "
      "text_bytes, title, link_count, depth, parent_url, attempts, redirects";
  auto a = test::query_rows(db, "select " + columns + " from pages where run_id = 1 order by seq");
  auto b = test::query_rows(db, "select " + columns + " from pages where run_id = 2 order by seq");
  ASSERT_EQ(a.size(), 164u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "row " << i;
  // Timings are filled the same way too: every fetched row has a total time, a first byte and a
  // queue wait.
  EXPECT_EQ(test::query_int(db,
                            "select count(*) from pages where run_id = 2 and fetched_at is not null and "
                            "(total_ms <= 0 or (status > 0 and ttfb_ms <= 0) or queue_ms < 0)"),
            0);
}

// No worker process outlives a run: each was reaped (not left a zombie) before run_crawl returned.
TEST_P(Modes, LeavesNoChildProcessBehind) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), list_of(testbed.base_url(), "/delay/50/page/", 40));
  const auto before = test::children_of(getpid());
  RunSummary s = run_crawl(options_for(dir.file("urls.txt"), dir.file("crawl.db"), GetParam(), 8));
  EXPECT_EQ(s.tally.ok, 40);
  EXPECT_EQ(test::children_of(getpid()), before);
  const bool forks = GetParam() == Case::process || GetParam() == Case::hybrid_processes;
  EXPECT_EQ(test::query_int(dir.file("crawl.db"), "select count(*) from pages where worker like 'p%'"),
            forks ? 40 : 0);
}

INSTANTIATE_TEST_SUITE_P(Layouts, Modes,
                         ::testing::Values(Case::fiber, Case::thread, Case::hybrid, Case::process,
                                           Case::hybrid_processes),
                         [](const auto& info) { return case_name(info.param); });

}  // namespace
}  // namespace crawl
