// End-to-end: how build/crawl reads URLs, from list lines and from links. Links are resolved as
// browsers resolve them (RFC 3986 5.2 and the WHATWG URL standard), on the testbed's /hrefs pages;
// list lines without a scheme are fetched only when they name a host; internationalised hosts are
// fetched and stored in punycode.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "testbed/site.hpp"
#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

using test::query_int;
using test::query_rows;

std::string value(const test::Row& row, const std::string& column) {
  return row.at(column).value_or("<NULL>");
}

test::ProcessResult crawl(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), "run");
  for (const char* a : {"--no-progress", "--timeout", "5s"}) args.push_back(a);
  auto r = test::run_crawl(args, input);
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  return r;
}

// Every /hrefs/K page (one tricky href under <base href="http://a.localhost:PORT/b/c/d;p?q">) and
// the base-less /hrefs/index.html, crawled one hop deep: each page's stored links are exactly where
// its hrefs lead, and the pages fetched at depth 1 are exactly those links: the directory /hrefs/
// never, though index.html links to itself with href="".
TEST(LinkResolution, EveryHrefLeadsWhereABrowserGoes) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  const auto cases = testbed::href_cases(testbed.port());
  std::string list = testbed.url("/hrefs/index.html") + "\n";
  for (size_t k = 0; k < cases.size(); ++k) list += testbed.url("/hrefs/" + std::to_string(k)) + "\n";
  test::write_file(dir.file("urls.txt"), list);
  crawl({dir.file("urls.txt"), "--depth", "1", "--scope", "any", "--store-links", "--db", db});

  std::map<std::string, std::set<std::string>> links;
  for (const auto& row : query_rows(db, "select from_url, to_url from links"))
    links[value(row, "from_url")].insert(value(row, "to_url"));
  std::set<std::string> expected_depth1;
  for (size_t k = 0; k < cases.size(); ++k) {
    SCOPED_TRACE("case " + std::to_string(k) + ": href '" + cases[k].href + "'");
    const std::string page = testbed.url("/hrefs/" + std::to_string(k));
    std::set<std::string> expected;
    if (!cases[k].resolved.empty()) expected = {cases[k].resolved};
    EXPECT_EQ(links[page], expected);
    if (!cases[k].resolved.empty()) expected_depth1.insert(cases[k].resolved);
  }
  // The index page links to itself only ("", " #top ", "\tindex.html\n", "http:index.html").
  const std::string index = testbed.url("/hrefs/index.html");
  const std::set<std::string> index_links = {index};
  EXPECT_EQ(links[index], index_links);

  // Fetched at depth 0: the list; at depth 1: each link not already in the list, once.
  EXPECT_EQ(query_int(db, "select count(*) from pages where depth = 0 and status = 200"),
            static_cast<long long>(cases.size()) + 1);
  std::set<std::string> fetched_depth1;
  for (const auto& row : query_rows(db, "select url, status from pages where depth = 1")) {
    EXPECT_TRUE(fetched_depth1.insert(value(row, "url")).second) << "twice: " << value(row, "url");
    EXPECT_NE(value(row, "status"), "0") << value(row, "url");  // fetched: the testbed answered
  }
  EXPECT_EQ(fetched_depth1, expected_depth1);
  EXPECT_EQ(query_int(db, "select count(*) from pages where url like '%/hrefs/'"), 0);
}

// A list of words that are no URLs: every line is a bad_url row saying why, nothing is fetched
// (no DNS lookup either: a lookup that failed would be a `dns` row). Lines without a scheme that do
// name a host (an IP address with a port, a *.localhost name) are fetched over HTTP.
TEST(ListLines, BareWordsAreBadUrlsAndHostsWithoutASchemeAreFetched) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  const std::string port = std::to_string(testbed.port());
  const std::vector<std::string> garbage = {"le", "todo", "foo/bar", "1234", "x.y1", "page:80/x", "a.b"};
  std::string list;
  for (const auto& word : garbage) list += word + "\n";
  test::write_file(dir.file("garbage.txt"), list);
  crawl({dir.file("garbage.txt"), "--db", db});
  const auto rows = query_rows(
      db, "select input, url, error, error_message, status, attempts, fetched_at, worker from pages");
  ASSERT_EQ(rows.size(), garbage.size());
  for (const auto& row : rows) {
    SCOPED_TRACE(value(row, "input"));
    EXPECT_EQ(value(row, "error"), "bad_url");
    EXPECT_NE(value(row, "error_message").find("no scheme"), std::string::npos)
        << value(row, "error_message");
    EXPECT_EQ(value(row, "url"), "<NULL>");
    // Never handed to a fetcher: no response, no attempt, no fetch time, no worker.
    EXPECT_EQ(value(row, "status"), "<NULL>");
    EXPECT_EQ(value(row, "attempts"), "0");
    EXPECT_EQ(value(row, "fetched_at"), "<NULL>");
    EXPECT_EQ(value(row, "worker"), "<NULL>");
  }

  const std::string hosts_db = dir.file("hosts.db");
  crawl({"-", "--db", hosts_db}, "127.0.0.1:" + port + "/page/1\nh2.localhost:" + port + "/page/3\n");
  const auto fetched = query_rows(hosts_db, "select url, status, error from pages order by seq");
  ASSERT_EQ(fetched.size(), 2u);
  EXPECT_EQ(value(fetched[0], "url"), "http://127.0.0.1:" + port + "/page/1");
  EXPECT_EQ(value(fetched[1], "url"), "http://h2.localhost:" + port + "/page/3");
  for (const auto& row : fetched) {
    EXPECT_EQ(value(row, "status"), "200") << value(row, "url");
    EXPECT_EQ(value(row, "error"), "<NULL>") << value(row, "url");
  }
}

// An internationalised *.localhost name (the testbed serves unknown names as its default site) is
// fetched, and stored in the ASCII form that went on the wire; `input` keeps the line as written.
TEST(ListLines, InternationalisedHostsAreFetchedAndStoredInPunycode) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  const std::string db = dir.file("c.db");
  const std::string port = std::to_string(testbed.port());
  const std::string host = "bücher.localhost";  // an IDN under .localhost: loopback
  const std::string line = "http://" + host + ":" + port + "/page/8";
  crawl({"--url", line, "--db", db});
  const auto rows = query_rows(db, "select input, url, final_url, status, error, title from pages");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(value(rows[0], "input"), line);
  EXPECT_EQ(value(rows[0], "url"), "http://xn--bcher-kva.localhost:" + port + "/page/8");
  EXPECT_EQ(value(rows[0], "status"), "200");
  EXPECT_EQ(value(rows[0], "error"), "<NULL>") << value(rows[0], "error");
  EXPECT_EQ(value(rows[0], "title"), testbed::page_title(8));
  EXPECT_EQ(testbed.hosts()["xn--bcher-kva.localhost"]["requests"].get<int>(), 1);
}

}  // namespace
}  // namespace crawl
