// The command line as a user meets it: exit codes, one-line errors, interrupts, built-in callbacks.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

#include "testbed/site.hpp"
#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

using test::run_crawl;

int count_lines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

TEST(Cli, BadUsageIsOneLineAndExitTwo) {
  test::TempDir dir;
  const std::vector<std::vector<std::string>> cases = {
      {"run", "--url", "http://127.0.0.1:1/", "--mode", "coroutine"},
      {"run", "--url", "http://127.0.0.1:1/", "-c", "0"},
      {"run", "--url", "http://127.0.0.1:1/", "--mode", "process", "--threads", "2"},
      {"run", "--url", "http://127.0.0.1:1/", "--mode", "hybrid", "--processes", "2", "--fibers", "3", "-c",
       "7"},
      {"run", "--url", "http://127.0.0.1:1/", "--mode", "hybrid", "--processes", "0"},
      {"run", "/nonexistent/list.txt"},
      {"run"},
      {"run", "--url", "http://127.0.0.1:1/", "--timeout", "soon"},
      {"run", "--url", "http://127.0.0.1:1/", "--max-size", "huge"},
      {"run", "--url", "http://127.0.0.1:1/", "--mode", "hybrid", "--threads", "2", "--fibers", "2", "-c",
       "5"},
      {"run", "--bogus-flag"},
      {"run", "--url", "http://127.0.0.1:1/", "-c", "100000000"},  // more sockets than files allowed
      {"frobnicate"},
  };
  for (const auto& args : cases) {
    std::vector<std::string> full = args;
    full.insert(full.end(), {"--db", dir.file("x.db")});
    if (args[0] == "frobnicate") full = args;
    auto r = run_crawl(full);
    SCOPED_TRACE(r.err);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(count_lines(r.err), 1);
    EXPECT_EQ(r.err.rfind("crawl: ", 0), 0u);
  }
}

// proxied.invalid never resolves, so a page of it with the testbed's title can only have come
// through the proxy: named with --proxy, or found in the environment as libcurl would find it.
TEST(Cli, FetchesThroughAProxyFromTheFlagOrTheEnvironment) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("p.db");
  const std::vector<std::string> no_proxy_env = {
      "/usr/bin/env", "-u",        "http_proxy", "-u",          "HTTP_PROXY", "-u",         "all_proxy",
      "-u",           "ALL_PROXY", "-u",         "https_proxy", "-u",         "HTTPS_PROXY"};
  auto crawl_with = [&](std::vector<std::string> env, const std::string& url,
                        std::vector<std::string> extra) {
    std::vector<std::string> argv = no_proxy_env;
    argv.insert(argv.end(), env.begin(), env.end());
    argv.insert(argv.end(), {test::crawl_binary(), "run", "--url", url, "--db", db, "--no-progress"});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return test::run_process(argv);
  };
  for (const char* mode : {"fiber", "thread"}) {
    SCOPED_TRACE(mode);
    EXPECT_EQ(crawl_with({}, "http://proxied.invalid/page/1", {"--proxy", testbed.base_url(), "--mode", mode})
                  .exit_code,
              0);
    EXPECT_EQ(
        crawl_with({"http_proxy=" + testbed.base_url()}, "http://proxied.invalid/page/2", {"--mode", mode})
            .exit_code,
        0);
    EXPECT_EQ(crawl_with({}, "http://proxied.invalid/page/3", {"--mode", mode}).exit_code, 0);
    auto rows = test::query_rows(db,
                                 "SELECT url, coalesce(status, 0) AS status, coalesce(error, '') AS error, "
                                 "coalesce(title, '') AS title "
                                 "FROM pages WHERE run_id > (SELECT max(id) - 3 FROM runs) ORDER BY run_id");
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(*rows[0].at("status"), "200");
    EXPECT_EQ(*rows[0].at("title"), "Page 1");
    EXPECT_EQ(*rows[1].at("status"), "200");
    EXPECT_EQ(*rows[1].at("title"), "Page 2");
    EXPECT_EQ(*rows[2].at("error"), "dns") << "without a proxy the host does not resolve";
  }
}

// Accepts one connection on a loopback port, keeps the request's head and answers 200.
class OneRequestServer {
 public:
  OneRequestServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(listener_, 1) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("cannot listen on loopback");
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      const int c = ::accept(listener_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      while (head_.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        head_.append(buf, static_cast<size_t>(n));
      }
      const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
      [[maybe_unused]] auto w = ::write(c, reply.data(), reply.size());
      ::close(c);
    });
  }
  ~OneRequestServer() {
    ::shutdown(listener_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/x"; }
  // The request's head, once the crawl that sent it has ended.
  std::string head() {
    thread_.join();
    return head_;
  }

 private:
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string head_;
};

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The request headers as they go out: one User-Agent (crawl's, --user-agent's, or the user's own
// --header, which replaces it), one Accept-Encoding naming what libcurl decodes, extra headers as given.
TEST(Cli, SendsOneUserAgentAndAcceptEncodingOrTheUsersOwn) {
  test::TempDir dir;
  struct Case {
    std::vector<std::string> flags;
    std::vector<std::string> expected;
    std::vector<std::string> absent;
  };
  const std::vector<Case> cases = {
      {{}, {"User-Agent: crawl/", "Accept-Encoding: deflate, gzip"}, {}},
      {{"--mode", "thread", "--user-agent", "bot/1"}, {"User-Agent: bot/1\r\n"}, {"crawl/"}},
      {{"--header", "user-agent: mine", "--header", "X-A: b", "--header", "Accept-Encoding: identity"},
       {"user-agent: mine\r\n", "X-A: b\r\n", "Accept-Encoding: identity\r\n"},
       {"crawl/", "gzip"}},
  };
  for (const auto& c : cases) {
    OneRequestServer server;
    std::vector<std::string> args = {"run", "--url", server.url(), "--db", dir.file("h.db"), "--no-progress"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    ASSERT_EQ(run_crawl(args).exit_code, 0);
    const std::string head = server.head();
    SCOPED_TRACE(head);
    for (const auto& e : c.expected) EXPECT_EQ(count_of(head, e), 1) << e;
    for (const auto& a : c.absent) EXPECT_EQ(count_of(head, a), 0) << a;
    EXPECT_EQ(count_of(head, "ser-Agent:") + count_of(head, "ser-agent:"), 1);
    EXPECT_EQ(count_of(head, "Accept-Encoding:"), 1);
  }
}

TEST(Cli, QueriesAreReadOnly) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  ASSERT_EQ(run_crawl({"run", "--url", testbed.base_url() + "/page/1", "--db", db}).exit_code, 0);
  auto r = run_crawl({"query", "--db", db, "delete from pages"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(test::query_int(db, "select count(*) from pages"), 1);
  auto ok = run_crawl({"query", "--db", db, "select title from pages", "--format", "csv"});
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_NE(ok.out.find("Page 1"), std::string::npos);
  auto runs = run_crawl({"runs", "--db", db});
  EXPECT_EQ(runs.exit_code, 0);
  EXPECT_NE(runs.out.find("fiber"), std::string::npos) << runs.out;
}

TEST(Cli, ReadsStdinAndStreamsJsonlAndSavesBodies) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  std::string list;
  for (int i = 0; i < 30; ++i) list += testbed.base_url() + "/page/" + std::to_string(i) + "\n";
  list += testbed.base_url() + "/bin/5\n" + testbed.base_url() + "/status/404\nnot a url\n";
  auto r = run_crawl({"run", "-", "--db", dir.file("c.db"), "--jsonl", dir.file("pages.jsonl"),
                      "--save-bodies", dir.file("bodies"), "-c", "8", "--mode", "thread"},
                     list);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto jsonl = test::read_file(dir.file("pages.jsonl"));
  EXPECT_EQ(count_lines(jsonl), 33);
  std::istringstream lines(jsonl);
  std::string line;
  int titled = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["title"].is_string()) ++titled;
  }
  EXPECT_EQ(titled, 31);  // 30 pages and the 404 page
  // One file per fetched body, named <run>-<seq>.<ext>, never after the URL.
  int files = 0;
  const std::regex name(R"(1-\d+\.(html|bin))");
  for (const auto& e : std::filesystem::directory_iterator(dir.file("bodies"))) {
    ++files;
    EXPECT_TRUE(std::regex_match(e.path().filename().string(), name)) << e.path();
  }
  EXPECT_EQ(files, 32);
  EXPECT_EQ(std::filesystem::file_size(dir.file("bodies") + "/1-0.html"), testbed::page_body_bytes(0));
}

class Interrupt : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(Interrupt, CtrlCStillLeavesOneRowPerLineAndExits130) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  std::string list;
  for (int i = 0; i < 400; ++i)
    list += testbed.base_url() + "/delay/" + (i < 20 ? "10" : "60000") + "/page/" + std::to_string(i) + "\n";
  list += "not a url\n";
  test::write_file(dir.file("urls.txt"), list);
  std::vector<std::string> args = {test::crawl_binary(), "run",          dir.file("urls.txt"), "--db",
                                   dir.file("c.db"),     "--no-progress"};
  for (const auto& a : GetParam()) args.push_back(a);
  test::Child crawl(args);
  // Stopped once the 20 quick pages are stored (a fixed wait may not be enough on a loaded
  // machine); the others take a minute each, so none of them can be done by then.
  const std::string db = dir.file("c.db");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (test::query_int(db, "select count(*) from pages where error is null") >= 20) break;
    } catch (const std::exception&) {
      // The database is not there yet.
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto workers = test::children_of(crawl.pid());
  EXPECT_EQ(crawl.stop(SIGINT), 130);
  // Worker processes were reaped before the parent exited: none is left, not even as a zombie.
  for (pid_t w : workers) EXPECT_FALSE(std::filesystem::exists("/proc/" + std::to_string(w))) << w;
  EXPECT_EQ(test::query_int(db, "select count(*) from pages"), 401);
  EXPECT_EQ(test::query_int(db, "select count(distinct seq) from pages"), 401);
  EXPECT_EQ(test::query_int(db, "select count(*) from pages where error is null"), 20);
  EXPECT_EQ(test::query_int(db, "select count(*) from pages where error = 'interrupted'"), 380);
  auto run = test::query_rows(db, "select status from runs");
  ASSERT_EQ(run.size(), 1u);
  EXPECT_EQ(run[0]["status"].value_or(""), "interrupted");
}

INSTANTIATE_TEST_SUITE_P(Modes, Interrupt,
                         ::testing::Values(std::vector<std::string>{"--mode", "fiber", "-c", "50"},
                                           std::vector<std::string>{"--mode", "thread", "-c", "50"},
                                           std::vector<std::string>{"--mode", "process", "-c", "50"},
                                           std::vector<std::string>{"--mode", "hybrid", "--processes", "2",
                                                                    "--fibers", "25"}),
                         [](const auto& info) { return info.param[1]; });

}  // namespace
}  // namespace crawl
