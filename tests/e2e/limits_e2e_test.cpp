// Limits that keep a run's resources predictable from its flags: descriptors checked up front for
// what each mode really holds, and the bytes waiting for the parsers bounded by --queue-bytes.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

using test::query_int;

// `crawl ARGS` under a shell whose open-files limit (soft and hard) is `limit`.
test::ProcessResult crawl_with_open_files(int limit, const std::string& args) {
  return test::run_process(
      {"/bin/sh", "-c",
       "ulimit -n " + std::to_string(limit) + " && exec '" + test::crawl_binary() + "' " + args});
}

// Thread mode holds three descriptors per thread (its connection and the socket pair of libcurl's
// multi handle behind a blocking easy handle). A -c that cannot fit is refused before anything
// starts, naming the limit; one that fits runs with no connect failing for lack of descriptors.
TEST(Limits, ThreadModeChecksTheDescriptorsItReallyNeeds) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), test::delayed_list(testbed.base_url(), 300, 200));
  const std::string db = dir.file("c.db");
  auto refused = crawl_with_open_files(
      256, "run '" + dir.file("urls.txt") + "' --mode thread -c 100 --no-progress --db '" + db + "'");
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("-c 100 in thread mode needs about 364 open files"), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("may open only 256"), std::string::npos) << refused.err;
  auto ran = crawl_with_open_files(
      256, "run '" + dir.file("urls.txt") + "' --mode thread -c 60 --no-progress --db '" + db + "'");
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
  EXPECT_EQ(query_int(db, "select count(*) from pages where status = 200"), 300);
}

// A hybrid worker process holds its T × F fetches' descriptors under the limit it inherits: a layout
// whose workers cannot fit is refused up front, as fiber mode is, not left to fail its connects.
TEST(Limits, HybridWorkersAreCheckedForTheDescriptorsEachNeeds) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), test::delayed_list(testbed.base_url(), 400, 500));
  const std::string db = dir.file("c.db");
  auto refused = crawl_with_open_files(256, "run '" + dir.file("urls.txt") +
                                                "' --mode hybrid --processes 2 --threads 1 --fibers 200 "
                                                "--no-progress --db '" +
                                                db + "'");
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("-c 400 in hybrid mode needs about 268 open files"), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("may open only 256"), std::string::npos) << refused.err;
  auto ran = crawl_with_open_files(256, "run '" + dir.file("urls.txt") +
                                            "' --mode hybrid --processes 2 --threads 1 --fibers 150 "
                                            "--no-progress --db '" +
                                            db + "'");
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
  EXPECT_EQ(query_int(db, "select count(*) from pages where status = 200"), 400);
}

// Pages of 2 MB fetched far faster than one parser parses them: without a bound in bytes the page
// queue would hold them all (its 1,000 pages are 2 GB of them); with --queue-bytes 8M at most a few
// wait, and the run's peak memory stays well below what the pages add up to (113 MB without the
// bound, 37 MB with it, measured here).
TEST(Limits, QueueBytesBoundWhatWaitsForTheParsers) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitizer's own memory (shadow, quarantine) hides what this measures";
#endif
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  std::string list;
  for (int i = 0; i < 50; ++i) list += testbed.url("/big/2000000?" + std::to_string(i)) + "\n";
  test::write_file(dir.file("urls.txt"), list);
  const std::string db = dir.file("c.db");
  auto r = test::run_crawl({"run", dir.file("urls.txt"), "-c", "2", "--consumers", "1", "--queue-bytes", "8M",
                            "--no-progress", "--db", db});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(query_int(db, "select count(*) from pages where status = 200 and body_bytes = 2000000"), 50);
  // 100 MB of bodies in all; in flight 2 x 2 MB (and their buffers), 8 MB waiting, one being
  // parsed: the bound leaves room for the parser's tree and the program itself.
  const long long peak_kb = query_int(db, "select peak_rss_kb from runs");
  EXPECT_LT(peak_kb, 80 * 1024) << "peak RSS " << peak_kb / 1024 << " MB";
}

// Thread mode's fetching threads keep no cache of freed memory of their own: jemalloc gives every
// thread one, and 300 threads' caches took this crawl from 42-44 MB to 109-113 MB, or from 37 to
// 64 MB where jemalloc's memory is not in huge pages (MALLOC_CONF=thp:never; measured here).
TEST(Limits, ThreadModesFetchingThreadsKeepNoAllocationCache) {
#if !defined(CRAWL_JEMALLOC)
  GTEST_SKIP() << "built without jemalloc (a sanitizer build, or -DCRAWL_JEMALLOC=OFF)";
#endif
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), test::delayed_list(testbed.base_url(), 1200, 100));
  const std::string db = dir.file("c.db");
  auto r = test::run_crawl({"run", dir.file("urls.txt"), "--mode", "thread", "-c", "300", "--no-parse",
                            "--no-progress", "--db", db});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(query_int(db, "select count(*) from pages where status = 200"), 1200);
  const long long peak_kb = query_int(db, "select peak_rss_kb from runs");
  EXPECT_LT(peak_kb, 56 * 1024) << "peak RSS " << peak_kb / 1024 << " MB";
}

struct FiberStacks {
  int count = 0;
  long long most_resident_kb = 0;
};

// The fetching fibers' stacks in /proc/PID/smaps: crawl carves them from one mapping, each 64 KiB of
// read-write memory right above a guard page that cannot be touched (crawler/stack_pool.cpp).
FiberStacks fiber_stacks_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
  const auto page = static_cast<unsigned long>(sysconf(_SC_PAGESIZE));
  FiberStacks stacks;
  unsigned long previous_end = 0, previous_size = 0;
  bool previous_guard = false, in_stack = false;
  for (std::string line; std::getline(in, line);) {
    unsigned long begin = 0, end = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &begin, &end, perms) == 3) {
      const std::string p(perms);
      in_stack = p == "rw-p" && end - begin == 64 * 1024 && previous_guard && previous_end == begin &&
                 previous_size == page;
      stacks.count += in_stack;
      previous_guard = p == "---p";
      previous_end = end;
      previous_size = end - begin;
    } else if (in_stack && line.starts_with("Rss:")) {
      std::istringstream fields(line.substr(4));
      long long kb = 0;
      fields >> kb;
      stacks.most_resident_kb = std::max(stacks.most_resident_kb, kb);
    }
  }
  return stacks;
}

// Each fetching fiber keeps every page of stack it ever touched for the whole run: at -c 10000 a
// third page each was 40 MB. A fiber waits for its transfer with its own frames and Boost.Fiber's
// (whose context::active() takes 5 KB) on its stack, and crawl keeps its own part small
// (crawler/producers.hpp, fetch_task), so two pages hold it. Read once every fiber has been through a
// whole fetch (its page built and handed on) and waits on its second response; an optimised build
// only (unoptimised frames are larger, sanitizers pad them).
TEST(Limits, AFetchingFiberKeepsTwoPagesOfStack) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(NDEBUG)
  GTEST_SKIP() << "the frames measured are those of an optimised build without sanitizers";
#endif
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  constexpr int kFibers = 300;
  test::write_file(dir.file("urls.txt"), test::delayed_list(testbed.base_url(), 2 * kFibers, 2000));
  test::Child crawl({test::crawl_binary(), "run", dir.file("urls.txt"), "--mode", "fiber", "-c",
                     std::to_string(kFibers), "--no-parse", "--no-progress", "--db", dir.file("c.db")});
  ASSERT_TRUE(test::wait_for_requests(testbed, 2 * kFibers));
  const FiberStacks stacks = fiber_stacks_of(crawl.pid());
  crawl.stop(SIGKILL);
  EXPECT_GE(stacks.count, kFibers);
  EXPECT_GT(stacks.most_resident_kb, 0);
  EXPECT_LE(stacks.most_resident_kb, 8) << "a fiber's stack holds " << stacks.most_resident_kb << " KB";
}

// The crawl binary's allocator is jemalloc with the settings of cli/allocator.cpp (huge pages, one
// arena): what the memory figures above and perf/RESULTS.md were measured with. jemalloc prints its
// options at exit when the environment asks for its statistics.
TEST(Limits, CrawlRunsOnJemallocWithItsSettings) {
#if !defined(CRAWL_JEMALLOC)
  GTEST_SKIP() << "built without jemalloc (a sanitizer build, or -DCRAWL_JEMALLOC=OFF)";
#endif
  auto r =
      test::run_process({"/usr/bin/env", "MALLOC_CONF=stats_print:true", test::crawl_binary(), "--version"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("Begin jemalloc statistics"), std::string::npos) << r.err.substr(0, 500);
  // jemalloc reports "not supported" where the kernel has no transparent huge pages.
  if (std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/enabled")) {
    EXPECT_NE(r.err.find("opt.thp: \"always\""), std::string::npos);
  }
  EXPECT_NE(r.err.find("opt.narenas: 1\n"), std::string::npos);
}

}  // namespace
}  // namespace crawl
