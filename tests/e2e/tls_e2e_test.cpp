// End-to-end: HTTPS against the testbed's TLS port, with certificates made for the test and
// verified as users run crawl (the CA given with --cacert, never -k): a valid chain is fetched; an
// unknown CA, an expired certificate and a wrong host name each give a `tls` row that says which;
// a redirect from http to https is followed; and the run's count of connections and of full and
// resumed handshakes matches what the testbed itself saw, in every execution layout.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "tests/support/certs.hpp"
#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

using test::query_int;
using test::query_rows;

std::string text(const std::optional<std::string>& v) {
  return v.value_or("<NULL>");
}

TEST(Tls, AValidChainIsFetchedWhenItsCaIsGivenAndRefusedWhenNot) {
  test::TempDir dir;
  test::TestCa ca(dir.path(), "good");
  const auto leaf = ca.issue("server", {});
  auto testbed = test::Testbed::start_https(leaf.cert_file, leaf.key_file);
  const std::string db = dir.file("crawl.db");
  const std::string url = testbed.https_url("/page/3");

  auto trusted =
      test::run_crawl({"run", "--url", url, "--db", db, "--no-progress", "--cacert", ca.ca_file()});
  ASSERT_EQ(trusted.exit_code, 0) << trusted.err;
  // The system's store does not know the test's CA: the same page is refused, as curl would.
  auto untrusted = test::run_crawl({"run", "--url", url, "--db", db, "--no-progress"});
  ASSERT_EQ(untrusted.exit_code, 0) << untrusted.err;

  const auto rows =
      query_rows(db, "SELECT run_id, status, error, error_message, title FROM pages ORDER BY run_id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(text(rows[0].at("status")), "200");
  EXPECT_EQ(text(rows[0].at("error")), "<NULL>");
  EXPECT_EQ(text(rows[0].at("title")), "Page 3");
  EXPECT_EQ(text(rows[1].at("error")), "tls");
  const std::string message = text(rows[1].at("error_message"));
  EXPECT_NE(message.find("SSL certificate problem"), std::string::npos) << message;
  EXPECT_NE(message.find("(trusted: the system's CA certificates"), std::string::npos) << message;
}

TEST(Tls, AHashedCaDirectoryIsTrustedWithCapath) {
  test::TempDir dir;
  test::TestCa ca(dir.path(), "good");
  const auto leaf = ca.issue("server", {});
  auto testbed = test::Testbed::start_https(leaf.cert_file, leaf.key_file);
  const std::string db = dir.file("crawl.db");
  std::string list;
  for (int n = 0; n < 10; ++n) list += testbed.https_url("/close/page/" + std::to_string(n)) + "\n";
  test::write_file(dir.file("urls.txt"), list);
  auto result = test::run_crawl({"run", dir.file("urls.txt"), "--db", db, "--no-progress", "--mode", "thread",
                                 "-c", "4", "--capath", ca.hashed_dir()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM pages WHERE status = 200 AND error IS NULL"), 10);
}

TEST(Tls, UnknownCaExpiredCertificateAndWrongHostNameAreTlsRows) {
  test::TempDir dir;
  test::TestCa ca(dir.path(), "trusted");
  test::TestCa stranger(dir.path(), "stranger");
  const auto unknown = stranger.issue("unknown", {});
  const auto expired =
      ca.issue("expired", {.not_before = -std::chrono::hours(48), .not_after = -std::chrono::hours(24)});
  const auto wrong_host = ca.issue("wrong-host", {.dns_names = {"other.test"}, .ip_addresses = {}});
  auto unknown_bed = test::Testbed::start_https(unknown.cert_file, unknown.key_file);
  auto expired_bed = test::Testbed::start_https(expired.cert_file, expired.key_file);
  auto wrong_host_bed = test::Testbed::start_https(wrong_host.cert_file, wrong_host.key_file);
  test::write_file(dir.file("urls.txt"), unknown_bed.https_url("/page/1") + "\n" +
                                             expired_bed.https_url("/page/2") + "\n" +
                                             wrong_host_bed.https_url("/page/3") + "\n");
  const std::string db = dir.file("crawl.db");
  auto result =
      test::run_crawl({"run", dir.file("urls.txt"), "--db", db, "--no-progress", "--cacert", ca.ca_file()});
  ASSERT_EQ(result.exit_code, 0) << result.err;

  const auto rows = query_rows(db, "SELECT error, error_message FROM pages ORDER BY seq");
  ASSERT_EQ(rows.size(), 3u);
  // The stranger's chain ends in its own CA, which nothing here trusts.
  const std::vector<std::string> says = {"self-signed certificate in certificate chain",
                                         "certificate has expired",
                                         "no alternative certificate subject name matches target host name "
                                         "'localhost'"};
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(says[i]);
    EXPECT_EQ(text(rows[i].at("error")), "tls");
    const std::string message = text(rows[i].at("error_message"));
    EXPECT_NE(message.find(says[i]), std::string::npos) << message;
  }
  // No request went through, and nothing was tried again. The client refuses an unknown or expired
  // certificate during the handshake; a wrong name only after it (libcurl checks the name itself),
  // so that handshake completed, and is counted on both sides.
  for (auto* bed : {&unknown_bed, &expired_bed, &wrong_host_bed}) EXPECT_EQ(bed->stats()["requests"], 0);
  EXPECT_EQ(unknown_bed.stats()["tls_handshakes_failed"], 1);
  EXPECT_EQ(expired_bed.stats()["tls_handshakes_failed"], 1);
  EXPECT_EQ(wrong_host_bed.stats()["tls_handshakes_full"], 1);
  EXPECT_EQ(query_int(db, "SELECT tls_full FROM runs"), 1);
  EXPECT_EQ(query_int(db, "SELECT connections FROM runs"), 3);
}

TEST(Tls, ARedirectFromHttpToHttpsIsFollowedAndVerified) {
  test::TempDir dir;
  test::TestCa ca(dir.path(), "good");
  const auto leaf = ca.issue("server", {});
  auto testbed = test::Testbed::start_https(leaf.cert_file, leaf.key_file);
  const std::string db = dir.file("crawl.db");
  const std::string start = "http://localhost:" + std::to_string(testbed.port()) + "/to-https/page/5";
  auto result =
      test::run_crawl({"run", "--url", start, "--db", db, "--no-progress", "--cacert", ca.ca_file()});
  ASSERT_EQ(result.exit_code, 0) << result.err;

  const auto rows = query_rows(db, "SELECT status, error, final_url, redirects, title FROM pages");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(text(rows[0].at("status")), "200");
  EXPECT_EQ(text(rows[0].at("error")), "<NULL>");
  EXPECT_EQ(text(rows[0].at("final_url")), testbed.https_url("/page/5"));
  EXPECT_EQ(text(rows[0].at("redirects")), "1");
  EXPECT_EQ(text(rows[0].at("title")), "Page 5");
  // Two connections, one of them TLS, counted as the server saw them.
  EXPECT_EQ(query_int(db, "SELECT connections FROM runs"), 2);
  EXPECT_EQ(query_int(db, "SELECT tls_full FROM runs"), 1);
  EXPECT_EQ(testbed.stats()["tls_handshakes_full"], 1);
}

TEST(Tls, BadTrustFlagsAreUsageErrors) {
  test::TempDir dir;
  test::write_file(dir.file("not-pem.txt"), "hello\n");
  struct Case {
    std::vector<std::string> flags;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--cacert", dir.file("missing.pem")}, "--cacert: cannot read '" + dir.file("missing.pem") + "'"},
      {{"--cacert", dir.file("not-pem.txt")}, "holds no PEM certificate"},
      {{"--cacert", dir.path()}, "is not a file"},
      {{"--capath", dir.file("missing")}, "--capath: cannot read '" + dir.file("missing") + "'"},
      {{"--capath", dir.file("not-pem.txt")}, "is not a readable directory"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.says);
    std::vector<std::string> args = {"run", "--url", "https://localhost:1/", "--db", dir.file("crawl.db")};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    const auto result = test::run_crawl(args);
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find(c.says), std::string::npos) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
}

// One fetch at a time to the host (--per-host 1), each on a new connection (/close/ ends it): the
// first handshake is full, every later one resumes its session, whichever producer makes it,
// because producers of a process share their TLS sessions. Worker processes each have their own.
class TlsSessions : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(TlsSessions, AreResumedAcrossProducersAndCountedAsTheServerSawThem) {
  test::TempDir dir;
  test::TestCa ca(dir.path(), "good");
  const auto leaf = ca.issue("server", {});
  auto testbed = test::Testbed::start_https(leaf.cert_file, leaf.key_file);
  constexpr int kPages = 16;
  std::string list;
  for (int n = 0; n < kPages; ++n) list += testbed.https_url("/close/page/" + std::to_string(n)) + "\n";
  test::write_file(dir.file("urls.txt"), list);
  const std::string db = dir.file("crawl.db");
  std::vector<std::string> args = {"run",      dir.file("urls.txt"), "--db",       db, "--no-progress",
                                   "--cacert", ca.ca_file(),         "--per-host", "1"};
  const auto& layout = GetParam();
  args.insert(args.end(), layout.begin(), layout.end());
  const auto result = test::run_crawl(args);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM pages WHERE error IS NULL"), kPages);

  const auto stats = testbed.stats();
  const auto run = query_rows(db, "SELECT * FROM runs")[0];
  EXPECT_EQ(text(run.at("connections")), std::to_string(kPages));
  EXPECT_EQ(text(run.at("connected_hosts")), "1");
  EXPECT_EQ(text(run.at("max_host_connections")), std::to_string(kPages));
  EXPECT_EQ(text(run.at("tls_full")), stats["tls_handshakes_full"].dump());
  EXPECT_EQ(text(run.at("tls_resumed")), stats["tls_handshakes_resumed"].dump());
  EXPECT_EQ(stats["tls_handshakes_full"].get<int>() + stats["tls_handshakes_resumed"].get<int>(), kPages);
  const bool worker_processes = layout[1] == "process";
  if (worker_processes) {
    EXPECT_LE(stats["tls_handshakes_full"].get<int>(), 2);  // at most one per worker
  } else {
    EXPECT_EQ(stats["tls_handshakes_full"], 1);
  }
  EXPECT_NE(result.out.find("TLS handshakes " + stats["tls_handshakes_full"].dump() + " full, " +
                            stats["tls_handshakes_resumed"].dump() + " resumed"),
            std::string::npos)
      << result.out;
}

INSTANTIATE_TEST_SUITE_P(Modes, TlsSessions,
                         ::testing::Values(std::vector<std::string>{"--mode", "fiber", "-c", "4"},
                                           std::vector<std::string>{"--mode", "thread", "-c", "4"},
                                           std::vector<std::string>{"--mode", "process", "-c", "2"},
                                           std::vector<std::string>{"--mode", "hybrid", "--processes", "1",
                                                                    "--threads", "2", "--fibers", "2"}),
                         [](const auto& info) { return info.param[1]; });

}  // namespace
}  // namespace crawl
