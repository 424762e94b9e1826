// The real `crawl testbed` process, exercised over loopback with libcurl.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <functional>
#include <future>
#include <sstream>
#include <thread>

#include "testbed/site.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl::testbed {
namespace {

using crawl::test::HttpClient;
using crawl::test::HttpOptions;
using crawl::test::HttpResult;
using crawl::test::Testbed;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// One server for the tests that do not look at its counters.
const Testbed& shared_testbed() {
  static Testbed testbed = Testbed::start();
  return testbed;
}

HttpResult get(std::string_view path, const HttpOptions& options = {}) {
  return crawl::test::http_get(shared_testbed().url(path), options);
}

milliseconds elapsed_since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

std::string gunzip(const std::string& data) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 15 + 16), Z_OK);
  std::string out;
  char buffer[16384];
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  int result = Z_OK;
  while (result == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof buffer;
    result = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - stream.avail_out);
  }
  inflateEnd(&stream);
  EXPECT_EQ(result, Z_STREAM_END);
  return out;
}

// Polls /__stats until `accept` holds or two seconds pass; returns the last stats seen.
nlohmann::json stats_when(const Testbed& testbed, const std::function<bool(const nlohmann::json&)>& accept) {
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  nlohmann::json stats = testbed.stats();
  while (!accept(stats) && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
    stats = testbed.stats();
  }
  return stats;
}

// Sends `request` on a new connection and returns what comes back until the server closes it.
std::string raw_exchange(uint16_t port, std::string_view request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;)
      answer.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

// A request it cannot parse (garbage, a control character in a header, a TLS handshake on the
// plain port) gets a 400, and the server goes on serving.
TEST(TestbedServer, AnswersMalformedRequestsWith400AndKeepsServing) {
  const Testbed testbed = Testbed::start();
  for (std::string_view request : {std::string_view("GARBAGE\r\n\r\n"),
                                   std::string_view("GET /page/1 HTTP/1.1\r\nHost: a\r\nX-A: a\x1b"
                                                    "b\r\n\r\n"),
                                   std::string_view("\x16\x03\x01\x00\x05hello")}) {
    EXPECT_EQ(raw_exchange(testbed.port(), request).substr(0, 12), "HTTP/1.1 400") << request;
    EXPECT_EQ(crawl::test::http_get(testbed.url("/page/1")).status, 200) << "after " << request;
  }
}

TEST(TestbedServer, ServesPagesAsTheSiteDescribesThem) {
  const SiteOptions site;
  for (uint64_t n : {0, 1, 77, 99999}) {
    const HttpResult r = get("/page/" + std::to_string(n));
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(r.header("Content-Length"), std::to_string(page_body_bytes(n)));
    EXPECT_EQ(r.body, page_html(n, site));
  }
  EXPECT_EQ(get("/page/100000").status, 404);
  EXPECT_EQ(get("/page/3?x=1").body, page_html(3, site));
}

// A GET that names a page's ETag back gets 304, headers only; one that names another gets the page.
TEST(TestbedServer, AnswersConditionalRequestsWith304) {
  const auto& testbed = shared_testbed();
  const HttpResult page = get("/page/1");
  const std::string etag = page.header("ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(page.header("Last-Modified"), kPagesLastModified);
  auto conditional = [&](const std::string& header) {
    const auto curl =
        test::run_process({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                           "-H", header, testbed.url("/page/1")});
    EXPECT_EQ(curl.exit_code, 0) << curl.err;
    return curl.out;
  };
  EXPECT_EQ(conditional("If-None-Match: " + etag), "304 0");
  EXPECT_EQ(conditional("If-Modified-Since: " + std::string(kPagesLastModified)), "304 0");
  EXPECT_EQ(conditional("If-None-Match: \"not-it\""), "200 " + std::to_string(page_body_bytes(1)));
}

TEST(TestbedServer, KeepsConnectionsAlive) {
  HttpClient client;
  const SiteOptions site;
  for (int i = 0; i < 5; ++i) {
    const HttpResult r = client.get(shared_testbed().url("/page/" + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.body, page_html(static_cast<uint64_t>(i), site));
    EXPECT_EQ(r.new_connections, i == 0 ? 1 : 0) << "request " << i;
  }
  // Statuses, redirects and streamed bodies leave the connection usable too.
  for (std::string_view path : {"/status/503", "/redirect/1/page/1", "/big-chunked/100000", "/status/204"})
    EXPECT_TRUE(client.get(shared_testbed().url(path)).ok()) << path;
  EXPECT_EQ(client.get(shared_testbed().url("/page/1")).new_connections, 0);
}

TEST(TestbedServer, DelaysBeforeServingTheRest) {
  const auto start = Clock::now();
  const HttpResult r = get("/delay/300/page/7");
  EXPECT_GE(elapsed_since(start), milliseconds(300));
  EXPECT_EQ(r.body, page_html(7, {}));
  EXPECT_EQ(get("/delay/10/status/500").status, 500);
}

TEST(TestbedServer, ServesStatuses) {
  const HttpResult r = get("/status/503");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, describe("/status/503", {}).body);
  EXPECT_EQ(get("/status/404").status, 404);
  const HttpResult empty = get("/status/204");
  EXPECT_TRUE(empty.ok()) << empty.error;
  EXPECT_EQ(empty.status, 204);
  EXPECT_TRUE(empty.body.empty());
  EXPECT_EQ(empty.header("Content-Length"), "");
}

TEST(TestbedServer, RedirectsCountDownToTheTarget) {
  const HttpResult first = get("/redirect/3/page/2");
  EXPECT_EQ(first.status, 302);
  EXPECT_EQ(first.header("Location"), "/redirect/2/page/2");
  const HttpResult followed = get("/redirect/3/page/2", {.follow_redirects = true});
  EXPECT_EQ(followed.status, 200);
  EXPECT_EQ(followed.redirects, 3);
  EXPECT_EQ(followed.body, page_html(2, {}));
}

TEST(TestbedServer, RedirectLoopsMustBeCutOffByTheClient) {
  for (std::string_view path : {"/loop/0", "/loop-self"}) {
    const HttpResult r = get(path, {.follow_redirects = true, .max_redirects = 5});
    EXPECT_EQ(r.curl_code, CURLE_TOO_MANY_REDIRECTS) << path;
  }
}

TEST(TestbedServer, SlowBodiesTrickleAndTimeOutMidBody) {
  const auto start = Clock::now();
  const HttpResult whole = get("/slow/500/5000");
  EXPECT_GE(elapsed_since(start), milliseconds(450));
  ASSERT_TRUE(whole.ok()) << whole.error;
  EXPECT_EQ(whole.header("Transfer-Encoding"), "chunked");
  EXPECT_EQ(whole.body, received_body(describe("/slow/500/5000", {})));

  const HttpResult cut = get("/slow/2000/5000", {.timeout = milliseconds(500)});
  EXPECT_EQ(cut.curl_code, CURLE_OPERATION_TIMEDOUT);
  EXPECT_EQ(cut.status, 200);
  EXPECT_GT(cut.body.size(), 0u);
  EXPECT_LT(cut.body.size(), 5000u);
}

TEST(TestbedServer, HangHoldsUntilTheClientGivesUpAndThenLetsGo) {
  const Testbed testbed = Testbed::start();
  const HttpResult r = crawl::test::http_get(testbed.url("/hang"), {.timeout = milliseconds(300)});
  EXPECT_EQ(r.curl_code, CURLE_OPERATION_TIMEDOUT);
  // Only the connection asking for the stats stays open.
  const auto stats = stats_when(testbed, [](const auto& s) { return s["connections_open"] == 1; });
  EXPECT_EQ(stats["connections_open"], 1);
  EXPECT_EQ(stats["responses_by_target_prefix"]["hang"], 1);
}

TEST(TestbedServer, ClientsThatGiveUpOnADelayAreReleased) {
  const Testbed testbed = Testbed::start();
  const HttpResult r =
      crawl::test::http_get(testbed.url("/delay/60000/page/1"), {.timeout = milliseconds(200)});
  EXPECT_EQ(r.curl_code, CURLE_OPERATION_TIMEDOUT);
  const auto stats = stats_when(testbed, [](const auto& s) { return s["connections_open"] == 1; });
  EXPECT_EQ(stats["connections_open"], 1);
}

TEST(TestbedServer, ResetsGiveTransportErrors) {
  const HttpResult reset = get("/reset");
  EXPECT_FALSE(reset.ok());
  EXPECT_TRUE(reset.curl_code == CURLE_RECV_ERROR || reset.curl_code == CURLE_GOT_NOTHING) << reset.error;
  EXPECT_EQ(reset.status, 0);

  const HttpResult mid = get("/reset-mid/100000");
  EXPECT_FALSE(mid.ok());
  EXPECT_TRUE(mid.curl_code == CURLE_RECV_ERROR || mid.curl_code == CURLE_PARTIAL_FILE) << mid.error;
  EXPECT_EQ(mid.header("Content-Length"), "200000");
  EXPECT_LE(mid.body.size(), 100000u);
  EXPECT_EQ(mid.body, received_body(describe("/reset-mid/100000", {})).substr(0, mid.body.size()));
}

TEST(TestbedServer, BigBodiesWithAndWithoutLength) {
  const HttpResult big = get("/big/5000000");
  ASSERT_TRUE(big.ok()) << big.error;
  EXPECT_EQ(big.header("Content-Length"), "5000000");
  EXPECT_EQ(big.body, received_body(describe("/big/5000000", {})));

  const HttpResult chunked = get("/big-chunked/3000000");
  ASSERT_TRUE(chunked.ok()) << chunked.error;
  EXPECT_EQ(chunked.header("Content-Length"), "");
  EXPECT_EQ(chunked.header("Transfer-Encoding"), "chunked");
  EXPECT_EQ(chunked.body, received_body(describe("/big-chunked/3000000", {})));
  EXPECT_EQ(get("/big/0").body, "");
}

TEST(TestbedServer, GzipDecodesToThePage) {
  const std::string page = page_html(5, {});
  const HttpResult decoded = get("/gzip/5", {.decode_gzip = true});
  ASSERT_TRUE(decoded.ok()) << decoded.error;
  EXPECT_EQ(decoded.body, page);
  // Sent compressed even to a client that did not ask for it.
  const HttpResult raw = get("/gzip/5");
  EXPECT_EQ(raw.header("Content-Encoding"), "gzip");
  EXPECT_LT(raw.body.size(), page.size());
  EXPECT_EQ(gunzip(raw.body), page);

  const HttpResult bad = get("/gzip-bad", {.decode_gzip = true});
  EXPECT_EQ(bad.curl_code, CURLE_BAD_CONTENT_ENCODING) << bad.error;

  // The first half of the whole stream, framed as a whole response.
  const HttpResult cut = get("/gzip-cut/5");
  ASSERT_TRUE(cut.ok()) << cut.error;
  EXPECT_EQ(cut.header("Content-Encoding"), "gzip");
  EXPECT_EQ(cut.header("Content-Length"), std::to_string(raw.body.size() / 2));
  EXPECT_EQ(cut.body, raw.body.substr(0, raw.body.size() / 2));
}

TEST(TestbedServer, ServesOtherContentTypes) {
  for (std::string_view path : {"/bin/4", "/text/4", "/json/4", "/robots.txt"}) {
    const Response expected = describe(path, {});
    const HttpResult r = get(path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.header("Content-Type"), expected.content_type) << path;
    EXPECT_EQ(r.body, expected.body) << path;
  }
}

TEST(TestbedServer, UnknownPathsAreNotFound) {
  const HttpResult r = get("/no/such/thing");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("<title>Not Found</title>"), std::string::npos);
}

TEST(TestbedServer, CountsRequestsResponsesConnectionsAndBytes) {
  const Testbed testbed = Testbed::start();
  testbed.reset_stats();
  HttpClient client;
  uint64_t body_bytes = 0;
  for (std::string_view path : {"/page/1", "/page/2", "/page/3", "/status/503", "/nothing"})
    body_bytes += client.get(testbed.url(path)).body.size();
  const auto stats = stats_when(
      testbed, [&](const auto& s) { return s["bytes_sent"] > body_bytes && s["connections_open"] == 2; });
  EXPECT_EQ(stats["requests"], 5);
  EXPECT_EQ(stats["by_status"]["200"], 3);
  EXPECT_EQ(stats["by_status"]["503"], 1);
  EXPECT_EQ(stats["by_status"]["404"], 1);
  EXPECT_EQ(stats["responses_by_target_prefix"]["page"], 3);
  EXPECT_EQ(stats["responses_by_target_prefix"]["status"], 1);
  EXPECT_EQ(stats["responses_by_target_prefix"]["other"], 1);
  EXPECT_EQ(stats["responses_by_target_prefix"].count("__stats"), 0u);
  EXPECT_EQ(stats["connections_open"], 2);  // the kept-alive client and the stats request
  EXPECT_GE(stats["connections_peak"], 2);
  EXPECT_EQ(stats["connections_total"], 2);
  EXPECT_GT(stats["bytes_sent"], body_bytes);
  EXPECT_LT(stats["bytes_sent"], body_bytes + 5 * 300);

  testbed.reset_stats();
  const auto zeroed = testbed.stats();
  EXPECT_EQ(zeroed["requests"], 0);
  EXPECT_TRUE(zeroed["by_status"].empty());
  EXPECT_EQ(zeroed["bytes_sent"], 0);
}

TEST(TestbedServer, AddsServerWideLatencyButNotToStats) {
  const Testbed testbed = Testbed::start({"--latency", "200ms"});
  auto start = Clock::now();
  EXPECT_EQ(crawl::test::http_get(testbed.url("/status/302")).status, 302);
  EXPECT_GE(elapsed_since(start), milliseconds(200));
  start = Clock::now();
  testbed.stats();
  EXPECT_LT(elapsed_since(start), milliseconds(150));
}

TEST(TestbedServer, LogsOneJsonLinePerResponse) {
  crawl::test::TempDir dir;
  Testbed testbed = Testbed::start({"--log", dir.file("log.jsonl")});
  const HttpResult page = crawl::test::http_get(testbed.url("/page/8?from=test"));
  crawl::test::http_get(testbed.url("/status/500"));
  crawl::test::http_get(testbed.url("/reset"));
  testbed.stats();
  ASSERT_EQ(testbed.stop(), 0);

  std::vector<nlohmann::json> lines;
  std::istringstream log(crawl::test::read_file(dir.file("log.jsonl")));
  for (std::string line; std::getline(log, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["target"], "/page/8?from=test");
  EXPECT_EQ(lines[0]["status"], 200);
  EXPECT_EQ(lines[0]["body_bytes"], page_body_bytes(8));
  EXPECT_GT(lines[0]["wire_bytes"], page_body_bytes(8));
  EXPECT_EQ(lines[0]["wire_bytes"], page.headers.size() + page.body.size());
  EXPECT_EQ(lines[0]["title"], "Page 8");
  EXPECT_EQ(lines[1]["title"], "Status 500");
  EXPECT_EQ(lines[2]["status"], 0);
  EXPECT_EQ(lines[2]["wire_bytes"], 0);
  EXPECT_TRUE(lines[2]["title"].is_null());
}

TEST(TestbedServer, SeveralThreadsServeTheSameSite) {
  const Testbed testbed = Testbed::start({"--threads", "2"});
  std::vector<std::future<bool>> clients;
  for (int c = 0; c < 4; ++c) {
    clients.push_back(std::async(std::launch::async, [&testbed, c] {
      HttpClient client;
      bool all_match = true;
      for (uint64_t n = 0; n < 25; ++n) {
        const uint64_t page = static_cast<uint64_t>(c) * 100 + n;
        all_match &= client.get(testbed.url("/page/" + std::to_string(page))).body == page_html(page, {});
      }
      return all_match;
    }));
  }
  for (auto& client : clients) EXPECT_TRUE(client.get());
  const auto stats = testbed.stats();
  EXPECT_EQ(stats["requests"], 100);
  EXPECT_EQ(stats["connections_total"], 5);
}

TEST(TestbedServer, ShutsDownCleanlyWithConnectionsInFlight) {
  Testbed testbed = Testbed::start();
  auto hanging = std::async(std::launch::async, [url = testbed.url("/hang")] {
    return crawl::test::http_get(url, {.timeout = milliseconds(10'000)});
  });
  stats_when(testbed, [](const auto& s) { return s["responses_by_target_prefix"].contains("hang"); });
  const auto start = Clock::now();
  EXPECT_EQ(testbed.stop(), 0);
  const HttpResult r = hanging.get();
  EXPECT_FALSE(r.ok());
  EXPECT_LT(elapsed_since(start), milliseconds(5'000));
}

TEST(TestbedCli, RefusesBadFlagsWithAMessage) {
  const std::vector<std::vector<std::string>> bad = {
      {"--latency", "soon"},         {"--latency", "2s-1s"},     {"--threads", "0"},
      {"--port", "70000"},           {"--pages", "0"},           {"--bind", "nowhere"},
      {"--log", "/no/such/dir/log"}, {"--hosts", "0"},           {"--hosts", "100001"},
      {"--host-pages", "0"},         {"--host-pages", "1000001"}};
  for (const auto& flags : bad) {
    std::vector<std::string> args = {"testbed"};
    args.insert(args.end(), flags.begin(), flags.end());
    const auto r = crawl::test::run_crawl(args, "", std::chrono::seconds(10));
    EXPECT_EQ(r.exit_code, 2) << flags[0] << ' ' << flags[1] << ": " << r.err;
    EXPECT_NE(r.err.find(flags[0]), std::string::npos) << r.err;
  }
}

TEST(TestbedCli, RefusesAPortInUse) {
  const Testbed testbed = Testbed::start();
  const auto r = crawl::test::run_crawl({"testbed", "--port", std::to_string(testbed.port())}, "",
                                        std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--port"), std::string::npos) << r.err;
}

// ---- Malformed and oversized responses ----

// The value a header line of describe()'s extra_headers carries, as a client reads it.
std::string header_value(std::string_view line) {
  std::string_view value = line.substr(line.find(':') + 1);
  while (value.starts_with(' ')) value.remove_prefix(1);
  return std::string(value.substr(0, value.find("\r\n")));
}

TEST(TestbedServer, ServesMalformedAndOversizedResponses) {
  const HttpResult odd = get("/status/999");
  EXPECT_TRUE(odd.ok()) << odd.error;
  EXPECT_EQ(odd.status, 999);
  EXPECT_EQ(odd.body, describe("/status/999", {}).body);

  const HttpResult chunked = get("/bad-chunked");
  EXPECT_EQ(chunked.curl_code, CURLE_RECV_ERROR);
  EXPECT_EQ(chunked.error, "Illegal or missing hexadecimal sequence in chunked-encoding");

  const HttpResult line = get("/huge-header/90000");
  EXPECT_TRUE(line.ok()) << line.error;
  EXPECT_EQ(line.header("X-Filler"), header_value(describe("/huge-header/90000", {}).extra_headers));
  EXPECT_EQ(line.body, describe("/huge-header/90000", {}).body);
  // libcurl 7.88 gives up on a header line over 100 KB, calling it out of memory.
  EXPECT_EQ(get("/huge-header/300000").curl_code, CURLE_OUT_OF_MEMORY);

  const HttpResult many = get("/many-headers/200000");
  EXPECT_TRUE(many.ok()) << many.error;
  EXPECT_EQ(many.header("X-Filler-195"),
            header_value(describe("/many-headers/200000", {}).extra_headers.substr(195 * 1024)));
  const HttpResult too_many = get("/many-headers/400000");
  EXPECT_EQ(too_many.curl_code, CURLE_RECV_ERROR);
  EXPECT_TRUE(too_many.error.starts_with("Too large response headers")) << too_many.error;
}

}  // namespace
}  // namespace crawl::testbed
