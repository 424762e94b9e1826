// The command line as a user meets it: exit codes, one-line errors, interrupts, built-in callbacks.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
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

// Runs SQL that changes a database, with plain SQLite (test::query_rows only reads).
void exec_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message), SQLITE_OK) << (message ? message : "");
  sqlite3_free(message);
  sqlite3_close(db);
}

// The name --save-bodies gives the body of page `seq` of the latest run in `db`, worked out from
// the database alone: runs.started_at without '-' and ':', the run id, the seq.
std::string body_file_of(const std::string& db, int seq, const std::string& ext) {
  auto rows = test::query_rows(db, "SELECT id, started_at FROM runs ORDER BY id DESC LIMIT 1");
  if (rows.empty()) return "";
  std::string started = rows[0].at("started_at").value_or("");
  std::erase_if(started, [](char c) { return c == '-' || c == ':'; });
  return started + "-" + rows[0].at("id").value_or("") + "-" + std::to_string(seq) + "." + ext;
}

bool exists_beside(const std::string& db, const char* suffix) {
  return std::filesystem::exists(db + suffix);
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
      // A line break in a header would be sent as a header line of its own (or end the head early).
      {"run", "--url", "http://127.0.0.1:1/", "--header", "X-A: 1\r\nX-Injected: 2"},
      {"run", "--url", "http://127.0.0.1:1/", "--header", "X-A: 1\nX-Injected: 2"},
      {"run", "--url", "http://127.0.0.1:1/", "--header", "X-A: 1\r"},
      {"run", "--url", "http://127.0.0.1:1/", "--header", "no colon"},
      {"run", "--url", "http://127.0.0.1:1/", "--header", ": no name"},
      {"run", "--url", "http://127.0.0.1:1/", "--header", "Two Words: value"},
      // A directory opens like a file and reads as an empty list: refused, not a run of 0 URLs.
      {"run", dir.path()},
      {"run", "--url", "http://127.0.0.1:1/", dir.path()},
      {"query", "--db", dir.path()},
      // What the user typed is quoted on the one line, its controls escaped.
      {"run", "list\nwith a line break and \x1b[31m an escape"},
      {"run\x1b[31m"},
  };
  for (const auto& args : cases) {
    std::vector<std::string> full = args;
    full.insert(full.end(), {"--db", dir.file("x.db")});
    if (args[0] != "run") full = args;
    auto r = run_crawl(full);
    SCOPED_TRACE(r.err);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(count_lines(r.err), 1);
    EXPECT_EQ(r.err.rfind("crawl: ", 0), 0u);
    EXPECT_EQ(r.err.find('\x1b'), std::string::npos);
  }
}

// A number is written in decimal, or refused: CLI11 read "" as the default (or 0: --retries ''
// turned retries off) and "0x10" as 16, and a duration of 1e17 s overflowed into no wait at all.
TEST(Cli, NumbersAreDecimalOrRefusedNamingTheFlag) {
  test::TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"-c", ""},
      {"-c", "0x10"},
      {"-c", " 5"},
      {"--retries", ""},
      {"--max-redirects", ""},
      {"--depth", "1e3"},
      {"--depth", "0x10"},
      {"--max-pages", "+5"},
      {"--delay", "1e17"},
      {"--delay", ""},
      {"--timeout", "99999999999999999999"},
      {"--max-size", "0x10"},
      {"--max-size", "0"},
      {"--max-size", "0.4"},
      {"-c", "99999999999"},
      {"--max-pages", "99999999999999999999"},
  };
  for (const auto& [flag, value] : cases) {
    auto r = run_crawl({"run", "--url", "http://127.0.0.1:1/", "--db", dir.file("x.db"), flag, value});
    SCOPED_TRACE(flag + " '" + value + "': " + r.err);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(count_lines(r.err), 1);
    EXPECT_NE(r.err.find("'" + value + "'"), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.db")));
  // A run id past 64 bits was read as the largest one, and the error named a run never asked for.
  ASSERT_EQ(run_crawl({"run", "--url", "http://127.0.0.1:1/", "--db", dir.file("r.db")}).exit_code, 0);
  auto r =
      run_crawl({"query", "--db", dir.file("r.db"), "--run", "99999999999999999999", "--report", "summary"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("'99999999999999999999' is out of range"), std::string::npos) << r.err;
}

// A first word that is no command says which ones there are, and the one meant when it is close.
TEST(Cli, AnUnknownCommandListsTheCommands) {
  auto r = run_crawl({"rn", "list.txt"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(
      r.err.find(
          "no command 'rn' (the commands: run, resume, query, runs, testbed, bench); did you mean run?"),
      std::string::npos)
      << r.err;
  auto far = run_crawl({"frobnicate"});
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_NE(far.err.find("no command 'frobnicate'"), std::string::npos) << far.err;
  EXPECT_EQ(far.err.find("did you mean"), std::string::npos) << far.err;
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
      // curl's and wget's short flags.
      {{"-A", "bot/2", "-H", "X-B: c"}, {"User-Agent: bot/2\r\n", "X-B: c\r\n"}, {"crawl/"}},
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

// -x is curl's --proxy: the request goes to the proxy, naming the whole URL (nothing is resolved
// here: the proxy is a local server that answers it).
TEST(Cli, TheShortProxyFlagSendsTheRequestThroughTheProxy) {
  test::TempDir dir;
  OneRequestServer proxy;
  const auto r = run_crawl({"run", "--url", "http://proxied.test/page", "-x", proxy.url(), "--db",
                            dir.file("p.db"), "--no-progress", "--retries", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(proxy.head().find("GET http://proxied.test/page HTTP/1.1\r\n"), std::string::npos)
      << proxy.head();
}

// -q: nothing on stdout or stderr, only the exit status (and errors); -v is --print-urls.
TEST(Cli, QuietSaysNothingAndVerbosePrintsAUrlLine) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const auto quiet =
      run_crawl({"run", "--url", testbed.base_url() + "/page/1", "--db", dir.file("q.db"), "-q"});
  EXPECT_EQ(quiet.exit_code, 0);
  EXPECT_EQ(quiet.out, "");
  EXPECT_EQ(quiet.err, "");
  EXPECT_EQ(test::query_int(dir.file("q.db"), "select count(*) from pages"), 1);
  const auto verbose = run_crawl(
      {"run", "--url", testbed.base_url() + "/page/1", "--db", dir.file("v.db"), "-v", "--no-progress"});
  EXPECT_EQ(verbose.exit_code, 0);
  EXPECT_EQ(verbose.out.find(testbed.base_url() + "/page/1 [200] ["), 0u) << verbose.out;

  // A password in a URL is printed as *** and kept out of the stored command line; the row keeps
  // the URL as given, which is what `crawl resume` fetches.
  // Built from its parts, so that no URL in this file names a host outside loopback: the host is
  // the testbed's 127.0.0.1.
  const std::string scheme = "http://";
  const std::string host = testbed.base_url().substr(scheme.size());
  const std::string user = "ann";
  const std::string with_password = scheme + user + ":s3cret@" + host + "/page/2";
  const auto masked =
      run_crawl({"run", "--url", with_password, "--db", dir.file("p.db"), "-v", "--no-progress"});
  EXPECT_EQ(masked.exit_code, 0) << masked.err;
  EXPECT_EQ(masked.out.find(scheme + user + ":***@" + host + "/page/2 [200] ["), 0u) << masked.out;
  EXPECT_EQ((masked.out + masked.err).find("s3cret"), std::string::npos);
  const auto runs = test::query_rows(dir.file("p.db"), "select command_line from runs");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].at("command_line")->find("s3cret"), std::string::npos) << *runs[0].at("command_line");
  EXPECT_NE(runs[0].at("command_line")->find("ann:***@"), std::string::npos) << *runs[0].at("command_line");
  EXPECT_EQ(test::query_int(dir.file("p.db"), "select count(*) from pages where url like '%ann:s3cret@%'"),
            1);
}

// A flag that does not exist gets the one meant, in one line, exit 2.
TEST(Cli, AMisspeltFlagIsNamedWithTheOneMeant) {
  const auto r = run_crawl({"run", "--concurency", "4", "urls.txt"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(
      r.err,
      "crawl: The following argument was not expected: --concurency; did you mean --concurrency? (see 'crawl "
      "run --help')\n");
  const auto help = run_crawl({"run", "--help"});
  // Grouped, with the values' forms.
  for (const char* shown : {"Input:", "Concurrency:", "HTTP:", "Following links and politeness:", "Output:",
                            "Storage:", "--mode fiber|thread|process|hybrid=fiber", "--timeout DURATION=30s",
                            "-H,--header", "-A,--user-agent", "-x,--proxy", "-q,--quiet", "-v,--print-urls"})
    EXPECT_NE(help.out.find(shown), std::string::npos) << shown << "\n" << help.out;
  EXPECT_EQ(help.out.find("{false}"), std::string::npos) << help.out;
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
  // One file per fetched body, named <started>-<run>-<seq>.<ext>, never after the URL.
  int files = 0;
  const std::regex name(R"(\d{8}T\d{6}\.\d{3}Z-1-\d+\.(html|bin))");
  for (const auto& e : std::filesystem::directory_iterator(dir.file("bodies"))) {
    ++files;
    EXPECT_TRUE(std::regex_match(e.path().filename().string(), name)) << e.path();
  }
  EXPECT_EQ(files, 32);
  EXPECT_EQ(std::filesystem::file_size(dir.file("bodies") + "/" + body_file_of(dir.file("c.db"), 0, "html")),
            testbed::page_body_bytes(0));
}

// A repeatable option takes one value each time: the words after it are the URL lists.
TEST(Cli, RepeatableOptionsLeaveTheListsThatFollowThem) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string list = dir.file("list.txt");
  test::write_file(list, testbed.url("/page/1") + "\n");
  const std::string url = testbed.url("/page/2");
  const std::vector<std::vector<std::string>> cases = {
      {"--url", url, list},         {"--url", url, "--url", testbed.url("/page/3"), list},
      {"--include", "page", list},  {"--exclude", "nothing-matches", list},
      {"--header", "X-A: 1", list}, {"--header", "X-A: 1", "--header", "X-B: 2", list},
  };
  int run = 0;
  for (const auto& flags : cases) {
    SCOPED_TRACE(flags[0] + " " + flags[1]);
    const std::string db = dir.file("r" + std::to_string(run++) + ".db");
    std::vector<std::string> args = {"run", "--db", db, "--no-progress"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = run_crawl(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const long long urls = std::count(flags.begin(), flags.end(), std::string("--url"));
    EXPECT_EQ(test::query_int(db, "SELECT count(*) FROM pages WHERE source = '" + list + "'"), 1);
    EXPECT_EQ(test::query_int(db, "SELECT count(*) FROM pages WHERE source = '--url'"), urls);
    EXPECT_EQ(test::query_int(db, "SELECT count(*) FROM pages WHERE error IS NULL"), 1 + urls);
  }
  // `crawl bench`'s comma-separated lists, before a list and before the next option.
  for (const auto& flags : std::vector<std::vector<std::string>>{{"--modes", "fiber", list, "-c", "2"},
                                                                 {"-c", "2", list, "--modes", "fiber"}}) {
    SCOPED_TRACE(flags[0]);
    const std::string db = dir.file("b" + std::to_string(run++) + ".db");
    std::vector<std::string> args = {"bench", "--repeat", "1", "--db", db, "--no-progress"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = run_crawl(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(test::query_int(db, "SELECT count(*) FROM runs WHERE mode = 'fiber' AND concurrency = 2"), 1);
    EXPECT_EQ(test::query_int(db, "SELECT count(*) FROM pages WHERE error IS NULL"), 1);
  }
}

// Another program's SQLite file is never written to: run refuses it, query and runs say what it is.
TEST(Cli, RefusesADatabaseThatIsNotCrawls) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string other = dir.file("other.db");
  exec_sql(
      other,
      "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('mine');");
  const std::string before = test::read_file(other);
  struct stat st_before {};
  ASSERT_EQ(::stat(other.c_str(), &st_before), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // so that a write would show in mtime

  const std::vector<std::vector<std::string>> commands = {
      {"run", "--url", testbed.url("/page/1"), "--db", other, "--no-progress"},
      {"query", "--db", other},
      {"query", "--db", other, "SELECT * FROM notes"},
      {"runs", "--db", other},
  };
  for (const auto& args : commands) {
    SCOPED_TRACE(args[0]);
    auto r = run_crawl(args);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("not a crawl database"), std::string::npos) << r.err;
  }
  struct stat st_after {};
  ASSERT_EQ(::stat(other.c_str(), &st_after), 0);
  EXPECT_EQ(test::read_file(other), before);
  EXPECT_EQ(st_after.st_mtim.tv_sec, st_before.st_mtim.tv_sec);
  EXPECT_EQ(st_after.st_mtim.tv_nsec, st_before.st_mtim.tv_nsec);
  for (const char* suffix : {"-wal", "-shm", "-journal"})
    EXPECT_FALSE(exists_beside(other, suffix)) << suffix;

  // A database of another program that set its own application_id, even with tables named like crawl's.
  const std::string marked = dir.file("marked.db");
  exec_sql(
      marked,
      "PRAGMA application_id = 42; CREATE TABLE runs (x); CREATE TABLE pages (y); PRAGMA user_version = 4;");
  auto r = run_crawl({"run", "--url", testbed.url("/page/1"), "--db", marked, "--no-progress"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("not a crawl database"), std::string::npos) << r.err;
}

// --db naming a file that is no database at all, none that exists for a command that reads, or
// nothing at all, is bad input like any other: one line and exit 2, and the file is left as it was.
TEST(Cli, ADbThatIsNoDatabaseOrMissingIsAUsageError) {
  test::TempDir dir;
  const std::string text = dir.file("notes.txt");
  test::write_file(text, "hello\n");
  const std::string missing = dir.file("missing.db");
  const std::vector<std::vector<std::string>> commands = {
      {"run", "--url", "http://127.0.0.1:1/", "--db", text, "--no-progress"},
      {"query", "--db", text},
      {"runs", "--db", text},
      {"resume", "--db", text},
      {"query", "--db", missing},
      {"runs", "--db", missing},
      {"resume", "--db", missing},
      // SQLite takes an empty name for a temporary database: the run would be stored nowhere.
      {"run", "--url", "http://127.0.0.1:1/", "--db", "", "--no-progress"},
      {"query", "--db", ""},
      {"runs", "--db", ""},
      {"resume", "--db", ""},
      {"bench", "--testbed", "--pages", "5", "--db", ""},
      // A new database in a directory that is not there, or under a file.
      {"run", "--url", "http://127.0.0.1:1/", "--db", dir.file("no/such/dir/c.db"), "--no-progress"},
      {"run", "--url", "http://127.0.0.1:1/", "--db", text + "/c.db", "--no-progress"},
  };
  for (const auto& args : commands) {
    SCOPED_TRACE(args[0] + " " + args[2]);
    auto r = run_crawl(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("--db"), std::string::npos) << r.err;
  }
  EXPECT_EQ(test::read_file(text), "hello\n");
  EXPECT_FALSE(std::filesystem::exists(missing));
  EXPECT_FALSE(std::filesystem::exists(dir.file("no")));
}

// Crawl databases carry PRAGMA application_id 'CRWL'; those made before the mark still open, and
// are marked when a run next writes to them.
TEST(Cli, MarksCrawlDatabasesAndAcceptsOnesFromBeforeTheMark) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  ASSERT_EQ(run_crawl({"run", "--url", testbed.url("/page/1"), "--db", db, "--no-progress"}).exit_code, 0);
  EXPECT_EQ(test::query_int(db, "PRAGMA application_id"), 0x4352574C);
  exec_sql(db, "PRAGMA application_id = 0");  // as an earlier crawl left it
  auto q = run_crawl({"query", "--db", db, "SELECT count(*) AS n FROM pages", "--format", "csv"});
  EXPECT_EQ(q.exit_code, 0) << q.err;
  EXPECT_EQ(q.out, "n\n1\n");
  ASSERT_EQ(run_crawl({"run", "--url", testbed.url("/page/2"), "--db", db, "--no-progress"}).exit_code, 0);
  EXPECT_EQ(test::query_int(db, "PRAGMA application_id"), 0x4352574C);
  EXPECT_EQ(test::query_int(db, "SELECT count(*) FROM pages"), 2);
}

// Reading a database leaves nothing beside it, as the sqlite3 shell does not.
TEST(Cli, QueriesLeaveNoWalOrShmFilesBehind) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  ASSERT_EQ(run_crawl({"run", "--url", testbed.url("/page/1"), "--db", db, "--no-progress"}).exit_code, 0);
  ASSERT_FALSE(exists_beside(db, "-wal"));
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"query", "--db", db},
                                             {"query", "--db", db, "SELECT url FROM pages"},
                                             {"runs", "--db", db},
                                             {"query", "--db", db, "SELECT nope FROM pages"}}) {
    SCOPED_TRACE(args.back());
    run_crawl(args);
    EXPECT_FALSE(exists_beside(db, "-wal"));
    EXPECT_FALSE(exists_beside(db, "-shm"));
  }
}

// Whatever SQLite's code for it, SQL that cannot run is bad input: exit 2, one line, and the hint
// names every table there is to read.
// SQL or a report name given empty (an unset shell variable) is not "no SQL": it does not quietly
// show the summary. An ATTACH of a file that is not there blames that file, not the database.
TEST(Cli, EmptySqlOrReportAndAnAttachOfNothingAreUsageErrors) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  ASSERT_EQ(run_crawl({"run", "--url", testbed.url("/page/1"), "--db", db, "--no-progress"}).exit_code, 0);
  const std::string missing = dir.file("none.db");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"query", "--db", db, ""}, "the SQL is empty"},
      {{"query", "--db", db, "  "}, "the SQL is empty"},
      {{"query", "--db", db, "--report", ""}, "--report is empty"},
      {{"query", "--db", db, "ATTACH '" + missing + "' AS other"},
       "ATTACH opens only a database that exists"},
  };
  for (const auto& [args, expected] : cases) {
    auto r = run_crawl(args);
    SCOPED_TRACE(args.back() + ": " + r.err);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(count_lines(r.err), 1);
    EXPECT_NE(r.err.find(expected), std::string::npos);
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  EXPECT_FALSE(std::filesystem::exists(missing));
  // An ATTACH of a database that is there runs as before.
  auto two = run_crawl({"query", "--db", db, "ATTACH '" + db + "' AS other"});
  EXPECT_EQ(two.exit_code, 0) << two.err;
}

TEST(Cli, SqlErrorsExitTwoAndNameTheTables) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  ASSERT_EQ(run_crawl({"run", "--url", testbed.url("/page/1"), "--db", db, "--no-progress"}).exit_code, 0);
  for (const char* sql : {"SELECT nope FROM pages", "SELEC 1", "SELECT zeroblob(2000000000)",
                          "SELECT * FROM nowhere", "SELECT substr()", "SELECT json('{')"}) {
    SCOPED_TRACE(sql);
    auto r = run_crawl({"query", "--db", db, sql});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_EQ(r.err.rfind("crawl: the SQL cannot run: ", 0), 0u) << r.err;
    for (const char* table : {"runs", "pages", "links", "benches", "bench_skips"})
      EXPECT_NE(r.err.find(table), std::string::npos) << table << ": " << r.err;
  }
}

// A --jsonl file that cannot be written stops the run, which fails: exit 1, one line on stderr,
// the summary says why.
TEST(Cli, AJsonlFileThatCannotBeWrittenStopsTheRun) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  std::string list;
  for (int i = 0; i < 1000; ++i) list += testbed.url("/delay/20/page/" + std::to_string(i)) + "\n";
  test::write_file(dir.file("urls.txt"), list);
  const std::string db = dir.file("c.db");
  auto r = run_crawl(
      {"run", dir.file("urls.txt"), "--db", db, "--no-progress", "-c", "4", "--jsonl", "/dev/full"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("cannot write --jsonl file '/dev/full'"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("failure"), std::string::npos) << r.out;
  EXPECT_EQ(test::query_rows(db, "SELECT status FROM runs")[0].at("status").value_or(""), "failed");
  // Stopped, not crawled to the end: what was left is recorded as interrupted, one row per line still.
  EXPECT_EQ(test::query_int(db, "SELECT count(*) FROM pages"), 1000);
  EXPECT_GT(test::query_int(db, "SELECT count(*) FROM pages WHERE error = 'interrupted'"), 0);
}

// Every database has a run 1: bodies of runs of two databases saved to one directory all get there.
TEST(Cli, BodiesOfRunsOfTwoDatabasesDoNotCollide) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  std::string list;
  for (int i = 0; i < 5; ++i) list += testbed.url("/page/" + std::to_string(i)) + "\n";
  test::write_file(dir.file("urls.txt"), list);
  const std::string bodies = dir.file("bodies");
  for (const char* name : {"a.db", "b.db"}) {
    auto r = run_crawl(
        {"run", dir.file("urls.txt"), "--db", dir.file(name), "--no-progress", "--save-bodies", bodies});
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_EQ(r.out.find("callbacks"), std::string::npos) << r.out;
  }
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(bodies)) ++files;
  EXPECT_EQ(files, 10u);
  for (const char* name : {"a.db", "b.db"})
    for (int seq = 0; seq < 5; ++seq)
      EXPECT_EQ(std::filesystem::file_size(bodies + "/" + body_file_of(dir.file(name), seq, "html")),
                testbed::page_body_bytes(seq))
          << name << " " << seq;
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
