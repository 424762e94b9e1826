// What a user watches while a run goes: the progress line on a terminal (a pseudo-terminal here)
// and in a log (a pipe), and the exit status --fail gives scripts.
#include <fcntl.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

// `count` URLs that each take `delay_ms`, in a list file; returns its path.
std::string slow_list(const test::TempDir& dir, const test::Testbed& testbed, int count, int delay_ms) {
  std::string list = "# slow pages\n\n";
  for (int i = 0; i < count; ++i)
    list += testbed.url("/delay/" + std::to_string(delay_ms) + "/page/" + std::to_string(i)) + "\n";
  test::write_file(dir.file("urls.txt"), list);
  return dir.file("urls.txt");
}

// Runs crawl with its stderr on a pseudo-terminal (stdout on /dev/null) and returns what the
// terminal received, and the exit status.
std::pair<std::string, int> run_on_a_terminal(const std::vector<std::string>& args) {
  int master = -1;
  int terminal = -1;
  winsize size{.ws_row = 24, .ws_col = 200, .ws_xpixel = 0, .ws_ypixel = 0};
  if (::openpty(&master, &terminal, nullptr, nullptr, &size) != 0) return {"openpty failed", -1};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(terminal, STDERR_FILENO);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDOUT_FILENO);
    ::close(master);
    ::close(terminal);
    std::vector<std::string> argv = {test::crawl_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  ::close(terminal);
  std::string seen;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n > 0) {
      seen.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;  // EIO: the last holder of the terminal's other end has gone
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {seen, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)};
}

// On a terminal: the line is rewritten in place, says how many of the list's URLs are done (the
// list was counted ahead: blank lines and comments are not URLs), what is left and when it ends,
// and is cleared at the end.
TEST(Progress, OnATerminalTheLineIsRewrittenInPlaceWithATotalAndAnEta) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  const std::string list = slow_list(dir, testbed, 4, 700);
  const auto [seen, status] = run_on_a_terminal({"run", list, "-c", "1", "--db", dir.file("crawl.db")});
  ASSERT_EQ(status, 0) << seen;
  EXPECT_NE(seen.find("\r\033[K"), std::string::npos) << seen;
  EXPECT_TRUE(std::regex_search(seen, std::regex(R"([0-3]/4 done \(0 failed\), [1-4] to do, 1 in flight)")))
      << seen;
  EXPECT_NE(seen.find("ETA "), std::string::npos) << seen;
  EXPECT_EQ(seen.find("progress:"), std::string::npos) << seen;  // the log's form is not used here
  const size_t last = seen.rfind("\r\033[K");
  EXPECT_EQ(seen.find("done", last), std::string::npos) << "the line was not cleared at the end: " << seen;
}

// A crawl where nothing finishes for a while says which fetch it waits for, and since when, in
// every mode (thread and fiber producers, and the parent of worker processes, track their fetches).
class ProgressWaiting : public ::testing::TestWithParam<std::string> {};

TEST_P(ProgressWaiting, NamesTheFetchUnderWayLongestWhenNothingFinishes) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  const std::string slow = testbed.url("/delay/7500/page/2");
  test::write_file(dir.file("urls.txt"), testbed.url("/page/1") + "\n" + slow + "\n");
  const auto [seen, status] = run_on_a_terminal(
      {"run", dir.file("urls.txt"), "--mode", GetParam(), "-c", "2", "--db", dir.file("crawl.db")});
  ASSERT_EQ(status, 0) << seen;
  const std::regex waiting(
      "1/2 done \\(0 failed\\), 1 to do, 1 in flight, .*none finished for [5-7]\\.0 s; oldest "
      "[5-7]\\.0 s: " +
      std::regex_replace(slow, std::regex(R"([.?/])"), R"(\$&)"));
  EXPECT_TRUE(std::regex_search(seen, waiting)) << seen;
}

INSTANTIATE_TEST_SUITE_P(Modes, ProgressWaiting, ::testing::Values("fiber", "thread", "process"));

// A hybrid worker holds URLs beyond its fetches, waiting their turn in it; the line counts only
// fetches: never more than --processes × --threads × --fibers.
TEST(Progress, InFlightCountsTheFetchesNotTheUrlsAWorkerHolds) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  const std::string list = slow_list(dir, testbed, 8, 1500);
  const auto [seen, status] =
      run_on_a_terminal({"run", list, "--mode", "hybrid", "--processes", "2", "--threads", "1", "--fibers",
                         "1", "--db", dir.file("crawl.db")});
  ASSERT_EQ(status, 0) << seen;
  const std::regex in_flight(R"((\d+) in flight)");
  int most = -1;
  for (auto it = std::sregex_iterator(seen.begin(), seen.end(), in_flight); it != std::sregex_iterator();
       ++it)
    most = std::max(most, std::stoi((*it)[1].str()));
  EXPECT_EQ(most, 2) << seen;
}

// Without a terminal, --progress writes plain lines, no escape codes, every few seconds and once
// at the end.
TEST(Progress, InALogItIsAPlainLineEveryFewSecondsAndAtTheEnd) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  const std::string list = slow_list(dir, testbed, 6, 1000);
  const auto r = test::run_crawl({"run", list, "-c", "1", "--progress", "--db", dir.file("crawl.db")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find('\033'), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  const std::regex line(R"(progress: (\d)/6 done \(0 failed\), (\d) to do, [01] in flight, \d+ pages/s)");
  std::vector<std::string> lines;
  for (auto it = std::sregex_iterator(r.err.begin(), r.err.end(), line); it != std::sregex_iterator(); ++it)
    lines.push_back(it->str());
  ASSERT_GE(lines.size(), 2u) << r.err;  // at 5 s, and at the end
  EXPECT_NE(lines.back().find("progress: 6/6 done (0 failed), 0 to do, 0 in flight"), std::string::npos)
      << r.err;
  // Without --progress, nothing of the kind.
  const auto quiet = test::run_crawl({"run", list, "-c", "6", "--db", dir.file("quiet.db")});
  EXPECT_EQ(quiet.err.find("progress:"), std::string::npos) << quiet.err;
}

// --fail: the status says that some URLs failed (22), once the run is done and stored; without it,
// failed pages are data and the status is 0.
TEST(Fail, TheExitStatusSaysSomeUrlsFailed) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  test::write_file(dir.file("urls.txt"), testbed.url("/page/1") + "\n" + testbed.url("/status/404") + "\n");
  const auto plain =
      test::run_crawl({"run", dir.file("urls.txt"), "--db", dir.file("a.db"), "--no-progress"});
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  const auto failing =
      test::run_crawl({"run", dir.file("urls.txt"), "--fail", "--db", dir.file("b.db"), "--no-progress"});
  EXPECT_EQ(failing.exit_code, 22) << failing.err;
  EXPECT_NE(failing.out.find("failed    1"), std::string::npos) << failing.out;
  test::write_file(dir.file("good.txt"), testbed.url("/page/1") + "\n");
  const auto good =
      test::run_crawl({"run", dir.file("good.txt"), "--fail", "--db", dir.file("c.db"), "--no-progress"});
  EXPECT_EQ(good.exit_code, 0) << good.err;
}

// --print-urls: a line per URL as it finishes, before the summary, plain in a pipe; it and
// --jsonl - cannot share stdout.
TEST(PrintUrls, ALinePerUrlAsItFinishes) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  const std::string page = testbed.url("/page/1");
  test::write_file(dir.file("urls.txt"),
                   page + "\n" + testbed.url("/status/404") + "\nnot a url\n" + page + "\n");
  const auto r = test::run_crawl(
      {"run", dir.file("urls.txt"), "--print-urls", "--db", dir.file("crawl.db"), "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find('\033'), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex(std::regex_replace(page, std::regex(R"([.?*+^$()\[\]{}|\\/])"), R"(\$&)") +
                        R"( \[200\] \[[0-9.]+ (B|kB)\] \[[^\]]+\] \[\d+ ms\]\n)")))
      << r.out;
  EXPECT_NE(r.out.find(testbed.url("/status/404") + " [404] ["), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not a url [bad_url] ["), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(page + " [duplicate]\n"), std::string::npos) << r.out;
  // Four lines, then the summary.
  ASSERT_NE(r.out.find("run 1 completed"), std::string::npos) << r.out;
  EXPECT_LT(r.out.find(" [404] ["), r.out.find("run 1 completed")) << r.out;

  const auto both = test::run_crawl(
      {"run", dir.file("urls.txt"), "--print-urls", "--jsonl", "-", "--db", dir.file("b.db")});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("both write to stdout"), std::string::npos) << both.err;
}

}  // namespace
}  // namespace crawl
