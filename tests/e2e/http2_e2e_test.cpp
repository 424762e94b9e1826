// End-to-end: HTTP/2 against Debian's nginx (the testbed has no HTTP/2), verified with the test's
// own CA. Fiber schedulers put up to 100 streams on a connection and open another only when those
// are taken, so a host gets as many connections as -c needs, not one per transfer that found the
// first full; counted by crawl and by nginx's own access log.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "tests/support/certs.hpp"
#include "tests/support/db.hpp"
#include "tests/support/nginx.hpp"
#include "tests/support/process.hpp"

namespace crawl {
namespace {

using test::query_int;

struct Case {
  std::vector<std::string> layout;
  int connections;  // per scheduler thread: ceil(fibers / 100)
};

void PrintTo(const Case& c, std::ostream* out) {
  for (const auto& a : c.layout) *out << a << ' ';
  *out << "-> " << c.connections << " connections";
}

class Http2Connections : public ::testing::TestWithParam<Case> {};

TEST_P(Http2Connections, AreAsManyAsTheStreamsNeed) {
  test::TempDir dir;
  test::TestCa ca(dir.path(), "good");
  const auto leaf = ca.issue("server", {});
  auto nginx = test::Nginx::start(dir.path(), {.cert_file = leaf.cert_file, .key_file = leaf.key_file});
  if (!nginx)
    GTEST_SKIP() << "nginx or libnginx-mod-http-echo is not installed (scripts/setup installs them)";
  constexpr int kPages = 500;
  std::string list;
  for (int n = 0; n < kPages; ++n) list += nginx->url("/delay/" + std::to_string(n)) + "\n";
  test::write_file(dir.file("urls.txt"), list);
  const std::string db = dir.file("crawl.db");
  std::vector<std::string> args = {"run",           dir.file("urls.txt"), "--db",     db,
                                   "--no-progress", "--no-parse",         "--cacert", ca.ca_file()};
  args.insert(args.end(), GetParam().layout.begin(), GetParam().layout.end());
  const auto result = test::run_crawl(args);
  ASSERT_EQ(result.exit_code, 0) << result.err;

  EXPECT_EQ(query_int(db, "SELECT count(*) FROM pages WHERE status = 200 AND error IS NULL"), kPages);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM pages WHERE http_version = '2'"), kPages);
  const auto seen = nginx->seen();
  EXPECT_EQ(seen.requests, kPages);
  EXPECT_EQ(seen.http2_requests, kPages);
  EXPECT_EQ(seen.connections, GetParam().connections);
  EXPECT_EQ(query_int(db, "SELECT connections FROM runs"), GetParam().connections);
  EXPECT_EQ(query_int(db, "SELECT max_host_connections FROM runs"), GetParam().connections);
  EXPECT_EQ(query_int(db, "SELECT tls_full + tls_resumed FROM runs"), GetParam().connections);
}

INSTANTIATE_TEST_SUITE_P(
    Http2, Http2Connections,
    ::testing::Values(Case{{"--mode", "fiber", "-c", "250"}, 3}, Case{{"--mode", "fiber", "-c", "100"}, 1},
                      Case{{"--mode", "hybrid", "--processes", "1", "--threads", "2", "--fibers", "120"}, 4}),
    [](const auto& info) { return info.param.layout[1] + "_" + info.param.layout.back(); });

}  // namespace
}  // namespace crawl
