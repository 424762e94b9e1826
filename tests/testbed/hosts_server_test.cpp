// The real `crawl testbed` process serving many hosts on one port (libcurl resolves *.localhost to
// loopback), its throttle routes and its per-host counters.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <thread>

#include "testbed/site.hpp"
#include "tests/support/testbed.hpp"

namespace crawl::testbed {
namespace {

using crawl::test::HttpClient;
using crawl::test::HttpResult;
using crawl::test::Testbed;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const Testbed& shared_testbed() {
  static Testbed testbed = Testbed::start();
  return testbed;
}

HttpResult get_on(const Testbed& testbed, std::string_view host, std::string_view path,
                  const crawl::test::HttpOptions& options = {}) {
  return crawl::test::http_get(testbed.host_url(host, path), options);
}

std::vector<uint64_t> starts_of(const nlohmann::json& host) {
  return host["starts_ms"].get<std::vector<uint64_t>>();
}

TEST(TestbedHostsServer, DifferentHostNamesGetDifferentSites) {
  const Testbed& testbed = shared_testbed();
  const SiteOptions site;
  const uint16_t port = testbed.port();
  const HttpResult h3 = get_on(testbed, "h3.localhost", "/page/5");
  ASSERT_TRUE(h3.ok()) << h3.error;
  EXPECT_EQ(h3.status, 200);
  EXPECT_EQ(h3.body, host_page_html({.site = 3}, 5, site, port));
  EXPECT_EQ(h3.header("Content-Length"), std::to_string(host_page_bytes({.site = 3}, 5)));
  EXPECT_NE(get_on(testbed, "h3.localhost", "/page/0")
                .body.find("http://h4.localhost:" + std::to_string(port) + "/page/0"),
            std::string::npos);

  const HttpResult h4 = get_on(testbed, "h4.localhost", "/page/5");
  EXPECT_EQ(h4.body, host_page_html({.site = 4}, 5, site, port));
  EXPECT_NE(h4.body, h3.body);
  EXPECT_EQ(get_on(testbed, "w1.h3.localhost", "/page/5").body,
            host_page_html({.site = 3, .sub = 1}, 5, site, port));
  EXPECT_EQ(get_on(testbed, "H3.LOCALHOST", "/page/5").body, h3.body);

  // The default site, as before: by address, by localhost and by names the site does not know.
  for (std::string_view host :
       {"127.0.0.1", "localhost", "h100.localhost", "h03.localhost", "w9.h3.localhost"}) {
    const HttpResult r = get_on(testbed, host, "/page/5");
    ASSERT_TRUE(r.ok()) << host << ": " << r.error;
    EXPECT_EQ(r.body, page_html(5, site)) << host;
    EXPECT_EQ(get_on(testbed, host, "/page/500").status, 200) << host;
    EXPECT_EQ(get_on(testbed, host, "/robots.txt").body, "User-agent: *\nDisallow: /private/\n") << host;
  }
  EXPECT_EQ(get_on(testbed, "h3.localhost", "/page/500").status, 404);
  EXPECT_EQ(get_on(testbed, "h3.localhost", "/private/7").status, 200);
  EXPECT_EQ(get_on(testbed, "127.0.0.1", "/private/7").status, 404);
}

TEST(TestbedHostsServer, RobotsDifferPerHost) {
  const Testbed& testbed = shared_testbed();
  const HttpResult h1 = get_on(testbed, "h1.localhost", "/robots.txt");
  EXPECT_EQ(h1.status, 200);
  EXPECT_EQ(h1.body, host_robots_txt({.site = 1}));
  EXPECT_NE(h1.body.find("User-agent: crawl"), std::string::npos);
  EXPECT_NE(get_on(testbed, "h2.localhost", "/robots.txt").body.find("Crawl-delay: 0.2"), std::string::npos);
  EXPECT_EQ(get_on(testbed, "h7.localhost", "/robots.txt").status, 404);
  EXPECT_EQ(get_on(testbed, "h8.localhost", "/robots.txt").status, 503);
  const HttpResult hang = get_on(testbed, "h9.localhost", "/robots.txt", {.timeout = milliseconds(300)});
  EXPECT_EQ(hang.curl_code, CURLE_OPERATION_TIMEDOUT);
  EXPECT_EQ(get_on(testbed, "w0.h9.localhost", "/robots.txt").status, 200);
}

TEST(TestbedHostsServer, HostsAndPagesFlagsShapeTheSite) {
  const Testbed testbed = Testbed::start({"--hosts", "3", "--host-pages", "20"});
  const SiteOptions site{.hosts = 3, .host_pages = 20};
  const HttpResult last = get_on(testbed, "h2.localhost", "/page/19");
  EXPECT_EQ(last.body, host_page_html({.site = 2}, 19, site, testbed.port()));
  EXPECT_EQ(get_on(testbed, "h2.localhost", "/page/20").status, 404);
  // h3 is beyond --hosts 3: the default site.
  EXPECT_EQ(get_on(testbed, "h3.localhost", "/page/20").body, page_html(20, site));
  // Page 0 of the last host leads back to the first.
  EXPECT_NE(get_on(testbed, "h2.localhost", "/page/0").body.find("h0.localhost"), std::string::npos);
}

TEST(TestbedHostsServer, CountsPeakConcurrencyPerHost) {
  // Two threads, so that one host's requests are counted from both.
  const Testbed testbed = Testbed::start({"--threads", "2"});
  std::vector<std::future<HttpResult>> requests;
  auto launch = [&](std::string host) {
    requests.push_back(std::async(std::launch::async, [&testbed, host] {
      return get_on(testbed, host, "/delay/500/page/1");  // a connection of its own each
    }));
  };
  for (int i = 0; i < 5; ++i) launch("h1.localhost");
  launch("h2.localhost");
  for (auto& request : requests) {
    const HttpResult r = request.get();
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.status, 200);
  }
  // One after the other on a kept-alive connection: never more than one at once.
  HttpClient client;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(client.get(testbed.host_url("h3.localhost", "/delay/100/page/2")).status, 200);
    std::this_thread::sleep_for(milliseconds(100));
  }

  const auto hosts = testbed.hosts();
  ASSERT_TRUE(hosts.contains("h1.localhost")) << hosts.dump();
  EXPECT_EQ(hosts["h1.localhost"]["requests"], 5);
  EXPECT_EQ(hosts["h1.localhost"]["peak_concurrent"], 5);
  EXPECT_EQ(hosts["h1.localhost"]["in_progress"], 0);
  EXPECT_EQ(hosts["h2.localhost"]["requests"], 1);
  EXPECT_EQ(hosts["h2.localhost"]["peak_concurrent"], 1);
  EXPECT_EQ(hosts["h3.localhost"]["requests"], 3);
  EXPECT_EQ(hosts["h3.localhost"]["peak_concurrent"], 1);

  // Start times: one per request, in milliseconds since the server started.
  const auto h1 = starts_of(hosts["h1.localhost"]);
  ASSERT_EQ(h1.size(), 5u);
  EXPECT_LT(*std::max_element(h1.begin(), h1.end()) - *std::min_element(h1.begin(), h1.end()), 500u);
  const auto h3 = starts_of(hosts["h3.localhost"]);
  ASSERT_EQ(h3.size(), 3u);
  EXPECT_GE(h3[1], h3[0] + 190);  // 100 ms of delay and 100 ms of sleep between them
  EXPECT_GE(h3[2], h3[1] + 190);
  EXPECT_GE(h3[0], *std::max_element(h1.begin(), h1.end()) + 490);
  EXPECT_LT(h3[2], 60'000u);

  // Neither the counters' own routes nor the default site's names show up for named hosts.
  get_on(testbed, "h4.localhost", "/__hosts");
  get_on(testbed, "h4.localhost", "/__stats");
  EXPECT_FALSE(testbed.hosts().contains("h4.localhost"));
  EXPECT_EQ(testbed.stats()["requests"], 9);
}

TEST(TestbedHostsServer, InProgressLastsUntilTheAnswerIsOut) {
  const Testbed testbed = Testbed::start();
  auto slow = std::async(std::launch::async,
                         [&testbed] { return get_on(testbed, "h5.localhost", "/slow/600/1000"); });
  nlohmann::json hosts;
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  do {
    std::this_thread::sleep_for(milliseconds(20));
    hosts = testbed.hosts();
  } while (!hosts.contains("h5.localhost") && Clock::now() < deadline);
  ASSERT_TRUE(hosts.contains("h5.localhost"));
  std::this_thread::sleep_for(milliseconds(100));  // the head is out; the body still trickles
  EXPECT_EQ(testbed.hosts()["h5.localhost"]["in_progress"], 1);
  EXPECT_TRUE(slow.get().ok());
  const auto until = Clock::now() + std::chrono::seconds(2);
  while (testbed.hosts()["h5.localhost"]["in_progress"] != 0 && Clock::now() < until)
    std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(testbed.hosts()["h5.localhost"]["in_progress"], 0);
  EXPECT_EQ(testbed.hosts()["h5.localhost"]["requests"], 1);
}

TEST(TestbedHostsServer, RateLimitsThenServes) {
  const Testbed testbed = Testbed::start();
  const SiteOptions site;
  HttpClient client;
  auto get = [&](std::string_view host, std::string_view path) {
    return client.get(testbed.host_url(host, path));
  };

  for (int i = 0; i < 2; ++i) {
    const HttpResult limited = get("h3.localhost", "/ratelimit/2/page/1");
    EXPECT_EQ(limited.status, 429) << i;
    EXPECT_EQ(limited.header("Retry-After"), "");
    EXPECT_NE(limited.body.find("<title>Too Many Requests</title>"), std::string::npos);
  }
  const HttpResult served = get("h3.localhost", "/ratelimit/2/page/1");
  EXPECT_EQ(served.status, 200);
  EXPECT_EQ(served.body, host_page_html({.site = 3}, 1, site, testbed.port()));
  EXPECT_EQ(get("h3.localhost", "/ratelimit/2/page/1").status, 200);
  // Counted per host and per full target.
  EXPECT_EQ(get("h4.localhost", "/ratelimit/2/page/1").status, 429);
  EXPECT_EQ(get("h3.localhost", "/ratelimit/2/page/1?again").status, 429);
  EXPECT_EQ(get("127.0.0.1", "/ratelimit/2/page/1").status, 429);

  for (int i = 0; i < 2; ++i) {
    const HttpResult limited = get("h3.localhost", "/ratelimit-after/2/3/page/1");
    EXPECT_EQ(limited.status, 429) << i;
    EXPECT_EQ(limited.header("Retry-After"), "3");
  }
  EXPECT_EQ(get("h3.localhost", "/ratelimit-after/2/3/page/1").status, 200);

  const HttpResult unavailable = get("h3.localhost", "/unavailable-after/1/7/status/204");
  EXPECT_EQ(unavailable.status, 503);
  EXPECT_EQ(unavailable.header("Retry-After"), "7");
  EXPECT_EQ(get("h3.localhost", "/unavailable-after/1/7/status/204").status, 204);
  EXPECT_EQ(get("h3.localhost", "/unavailable/1/page/2").status, 503);
  EXPECT_EQ(get("h3.localhost", "/unavailable/1/page/2").status, 200);

  const time_t before = time(nullptr);
  const HttpResult dated = get("h3.localhost", "/ratelimit-date/1/5/page/1");
  EXPECT_EQ(dated.status, 429);
  const time_t retry_at = curl_getdate(dated.header("Retry-After").c_str(), nullptr);
  EXPECT_GE(retry_at, before + 5) << dated.header("Retry-After");
  EXPECT_LE(retry_at, time(nullptr) + 6) << dated.header("Retry-After");
  EXPECT_EQ(get("h3.localhost", "/ratelimit-date/1/5/page/1").status, 200);

  const auto stats = testbed.stats();
  EXPECT_EQ(stats["by_status"]["429"], 8);
  EXPECT_EQ(stats["by_status"]["503"], 2);
}

TEST(TestbedHostsServer, ResetStatsResetsHostsAndThrottles) {
  const Testbed testbed = Testbed::start();
  EXPECT_EQ(get_on(testbed, "h6.localhost", "/ratelimit/1/page/3").status, 429);
  EXPECT_EQ(get_on(testbed, "h6.localhost", "/ratelimit/1/page/3").status, 200);
  EXPECT_EQ(testbed.hosts()["h6.localhost"]["requests"], 2);
  testbed.reset_stats();
  EXPECT_EQ(testbed.hosts(), nlohmann::json::object());
  EXPECT_EQ(get_on(testbed, "h6.localhost", "/ratelimit/1/page/3").status, 429);
  const auto hosts = testbed.hosts();
  EXPECT_EQ(hosts["h6.localhost"]["requests"], 1);
  EXPECT_EQ(hosts["h6.localhost"]["peak_concurrent"], 1);
  EXPECT_EQ(starts_of(hosts["h6.localhost"]).size(), 1u);
}

}  // namespace
}  // namespace crawl::testbed
