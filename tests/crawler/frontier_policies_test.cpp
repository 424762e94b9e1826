// The frontier's policies, each alone: no thread, no network, and time moved by hand (ManualTime).
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "crawler/errors.hpp"
#include "crawler/frontier/host_ring.hpp"
#include "crawler/frontier/level_gate.hpp"
#include "crawler/frontier/retry_policy.hpp"
#include "crawler/frontier/robots_fetcher.hpp"
#include "crawler/frontier/store.hpp"

namespace crawl {
namespace {

using std::chrono::milliseconds;

UrlTask task(int64_t seq, const std::string& url, int depth = 0, int64_t parent = -1) {
  return UrlTask{.seq = seq, .url = url, .depth = depth, .parent_seq = parent};
}

std::vector<int64_t> seqs(const std::vector<UrlTask>& tasks) {
  std::vector<int64_t> out;
  for (const auto& t : tasks) out.push_back(t.seq);
  return out;
}

// ---- LevelGate ----

// A link of depth 2 waits while any page of depth 0 is unfinished; then links come out in the
// order they came, and each page is told of once its links are all dealt with.
TEST(LevelGate, LetsALevelThroughOnlyWhenTheLevelsTwoAboveAreFinished) {
  LevelGate gate(3, 0);
  gate.opened(0);
  gate.opened(1);
  gate.hold(task(0, "a", 2, 10));
  gate.hold(task(0, "b", 2, 10));
  gate.hold(task(0, "c", 2, 11));
  std::vector<std::string> admitted;
  std::vector<int64_t> parents;
  auto admit = [&](UrlTask&& t) { admitted.push_back(t.url); };
  auto parent_done = [&](int64_t p) { parents.push_back(p); };
  gate.release(admit, parent_done);
  EXPECT_TRUE(admitted.empty());  // the depth-0 page is unfinished
  gate.closed(0);
  gate.release(admit, parent_done);  // depth 1 unfinished does not hold depth 2 back
  EXPECT_EQ(admitted, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(parents, (std::vector<int64_t>{10, 11}));
  EXPECT_TRUE(gate.empty());
}

TEST(LevelGate, LinksOfDepthOneGoAtOnce) {
  LevelGate gate(2, 0);
  gate.opened(0);
  gate.hold(task(0, "x", 1, 5));
  std::vector<std::string> admitted;
  gate.release([&](UrlTask&& t) { admitted.push_back(t.url); }, [](int64_t) {});
  EXPECT_EQ(admitted, std::vector<std::string>{"x"});
}

// --max-pages: the budget counts every URL taken; once it is spent, the links still waiting are
// dropped, and their pages told of.
TEST(LevelGate, ThePageBudgetCutsTheWaitingLinks) {
  LevelGate gate(3, 3);
  EXPECT_TRUE(gate.take());  // the seed
  gate.hold(task(0, "a", 1, 1));
  gate.hold(task(0, "b", 1, 1));
  gate.hold(task(0, "c", 1, 2));
  gate.hold(task(0, "d", 2, 7));
  std::vector<std::string> admitted;
  std::vector<int64_t> parents;
  gate.release(
      [&](UrlTask&& t) {
        if (gate.take()) admitted.push_back(t.url);
      },
      [&](int64_t p) { parents.push_back(p); });
  EXPECT_EQ(admitted, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(gate.spent());
  EXPECT_FALSE(gate.take());
  EXPECT_EQ(parents, (std::vector<int64_t>{1, 2, 7}));
  EXPECT_TRUE(gate.empty());
}

TEST(LevelGate, HoldsEverythingWhileToldTo) {
  LevelGate gate(2, 0);
  gate.hold(task(0, "a", 1, 1));
  gate.hold_all(true);
  int admitted = 0;
  gate.release([&](UrlTask&&) { ++admitted; }, [](int64_t) {});
  EXPECT_EQ(admitted, 0);
  gate.hold_all(false);
  gate.release([&](UrlTask&&) { ++admitted; }, [](int64_t) {});
  EXPECT_EQ(admitted, 1);
}

// ---- HostRing ----

auto keep_all = [](HostRing::Host&, UrlTask&) { return true; };

TEST(HostRing, KeepsEachHostToItsCapAndTakesHostsInTurn) {
  ManualTime time;
  HostRing ring({.per_host = 2}, time, 1);
  auto& a = ring.host("http://a.localhost");
  auto& b = ring.host("http://b.localhost");
  for (int i = 0; i < 4; ++i) ring.push(a, task(i, "http://a.localhost/" + std::to_string(i)));
  for (int i = 10; i < 12; ++i) ring.push(b, task(i, "http://b.localhost/" + std::to_string(i)));
  std::vector<UrlTask> out;
  ring.dispatch(100, keep_all, out);
  EXPECT_EQ(seqs(out), (std::vector<int64_t>{0, 10, 1, 11}));  // a, b, a, b: then a is at its cap
  EXPECT_EQ(ring.in_flight(), 4);
  EXPECT_EQ(ring.queued(), 2);
  out.clear();
  ring.dispatch(100, keep_all, out);
  EXPECT_TRUE(out.empty());
  ring.finished(a, 0, -1);
  ring.dispatch(100, keep_all, out);
  EXPECT_EQ(seqs(out), std::vector<int64_t>{2});
}

TEST(HostRing, HandsOutNoMoreThanTheLimit) {
  ManualTime time;
  HostRing ring({}, time, 1);
  auto& a = ring.host("http://a.localhost");
  for (int i = 0; i < 10; ++i) ring.push(a, task(i, "u"));
  std::vector<UrlTask> out;
  ring.dispatch(3, keep_all, out);
  EXPECT_EQ(out.size(), 3u);
}

// A clock that moves on by a microsecond each time it is read, as the real one does between two
// reads.
class TickingTime final : public TimeSource {
 public:
  TimePoint now() const override { return now_ += std::chrono::microseconds(1); }

 private:
  mutable TimePoint now_ = TimePoint{} + std::chrono::hours(1);
};

// Regression: each URL handed out set its host's next start from a fresh clock read, a moment after
// the dispatch's "now", so a host without a delay counted as not ready yet: one URL per dispatch,
// and a frontier that went round (and round) once per URL of a one-host list.
TEST(HostRing, HandsOutAHostWithoutADelayUpToTheLimitWhileTheClockMoves) {
  TickingTime time;
  HostRing ring({.affinity = false}, time, 1);
  auto& a = ring.host("http://a.localhost");
  for (int i = 0; i < 100; ++i) ring.push(a, task(i, "u"));
  std::vector<UrlTask> out;
  ring.dispatch(50, keep_all, out);
  EXPECT_EQ(out.size(), 50u);
  EXPECT_EQ(ring.next_due(), TimePoint::max()) << "no timer for a host that may start now";
}

// --delay: the next start comes a delay after the previous request went out, which may be later
// than when the task was handed out.
TEST(HostRing, SpacesStartsByTheDelayFromWhenTheRequestWentOut) {
  ManualTime time;
  HostRing ring({.per_host = 0, .delay = milliseconds(100)}, time, 1);
  auto& a = ring.host("http://a.localhost");
  for (int i = 0; i < 3; ++i) ring.push(a, task(i, "u"));
  std::vector<UrlTask> out;
  ring.dispatch(100, keep_all, out);
  ASSERT_EQ(seqs(out), std::vector<int64_t>{0});
  EXPECT_TRUE(out[0].report_start);
  time.advance(milliseconds(150));
  ring.wake_due();
  ring.dispatch(100, keep_all, out);
  EXPECT_EQ(out.size(), 1u);       // its request has not gone out: the next waits for it
  ring.started(a, 0, time.now());  // it went out 150 ms late
  time.advance(milliseconds(99));
  ring.wake_due();
  ring.dispatch(100, keep_all, out);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(ring.next_due(), time.now() + milliseconds(1));
  time.advance(milliseconds(1));
  ring.wake_due();
  ring.dispatch(100, keep_all, out);
  EXPECT_EQ(seqs(out), (std::vector<int64_t>{0, 1}));
}

// The politeness wait of a host: from when its rules first held a waiting URL back to when they let
// it go, whatever held it (the delay, the start not yet heard of, the cap); not the time it had
// nothing to wait for. A host never held is not listed.
TEST(HostRing, CountsHowLongEachHostsRulesHeldItsUrlsBack) {
  ManualTime time;
  HostRing ring({.per_host = 1, .delay = milliseconds(100)}, time, 1);
  auto& a = ring.host("http://a.localhost");
  auto& b = ring.host("http://b.localhost");
  ring.push(b, task(10, "u"));
  for (int i = 0; i < 2; ++i) ring.push(a, task(i, "u"));
  std::vector<UrlTask> out;
  ring.dispatch(100, keep_all, out);
  ASSERT_EQ(seqs(out), (std::vector<int64_t>{10, 0}));  // a's second URL is held from here
  time.advance(milliseconds(30));
  ring.started(a, 0, time.now());
  time.advance(milliseconds(40));
  ring.finished(a, 0, -1);  // a is back in the ring after 70 ms, and held by its delay again at once
  ring.dispatch(100, keep_all, out);
  EXPECT_EQ(out.size(), 2u);
  time.advance(milliseconds(60));  // the delay, counted from the start, ends now
  ring.wake_due();
  ring.dispatch(100, keep_all, out);
  ASSERT_EQ(seqs(out), (std::vector<int64_t>{10, 0, 1}));
  time.advance(milliseconds(500));  // with nothing waiting, a is not held
  const auto held = ring.held_seconds();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].first, "http://a.localhost");
  EXPECT_DOUBLE_EQ(held[0].second, 0.130);
}

// A host whose URLs are taken away (its lease went to another worker) waits no more here.
TEST(HostRing, AHostWhoseQueueIsTakenIsNoLongerHeld) {
  ManualTime time;
  HostRing ring({.per_host = 1}, time, 1);
  auto& a = ring.host("http://a.localhost");
  for (int i = 0; i < 2; ++i) ring.push(a, task(i, "u"));
  std::vector<UrlTask> out;
  ring.dispatch(100, keep_all, out);
  ring.dispatch(100, keep_all, out);  // at its cap with a URL waiting: held from here
  ASSERT_EQ(out.size(), 1u);
  time.advance(milliseconds(40));
  EXPECT_EQ(ring.take_queue(a).size(), 1u);
  time.advance(milliseconds(500));
  const auto held = ring.held_seconds();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_DOUBLE_EQ(held[0].second, 0.040);
}

// A URL turned down (robots.txt) has its row from the caller; nothing starts for it.
TEST(HostRing, AURLTurnedDownTakesNoSlot) {
  ManualTime time;
  HostRing ring({.per_host = 1}, time, 1);
  auto& a = ring.host("http://a.localhost");
  ring.push(a, task(0, "denied"));
  ring.push(a, task(1, "allowed"));
  std::vector<UrlTask> out;
  std::vector<std::string> refused;
  auto keep = [&](HostRing::Host&, UrlTask& t) {
    if (t.url != "denied") return true;
    refused.push_back(t.url);
    return false;
  };
  ring.dispatch(100, keep, out);
  ring.dispatch(100, keep, out);
  EXPECT_EQ(refused, std::vector<std::string>{"denied"});
  EXPECT_EQ(seqs(out), std::vector<int64_t>{1});
  EXPECT_EQ(ring.in_flight(), 1);
}

// The producer that just finished a fetch from a host gets the host's next URL, named for it.
TEST(HostRing, GivesAHostsNextURLToTheProducerThatJustLeftIt) {
  ManualTime time;
  HostRing ring({.per_host = 1}, time, 1);
  auto& a = ring.host("http://a.localhost");
  ring.push(a, task(0, "u0"));
  ring.push(a, task(1, "u1"));
  std::vector<UrlTask> out;
  ring.dispatch(100, keep_all, out);
  EXPECT_EQ(out.back().lane, -1);
  ring.finished(a, 0, 7);
  ring.dispatch(100, keep_all, out);
  ASSERT_EQ(seqs(out), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(out.back().lane, 7);
}

// A host's own request (robots.txt) holds its URLs back until it is done, and the delay runs from
// when it went out.
TEST(HostRing, AHostsOwnRequestComesFirstAndStartsTheDelay) {
  ManualTime time;
  HostRing ring({.per_host = 0, .delay = milliseconds(50)}, time, 1);
  auto& a = ring.host("http://a.localhost");
  ring.push(a, task(0, "u"));
  ring.own_request_started(a);
  std::vector<UrlTask> out;
  ring.dispatch(100, keep_all, out);
  EXPECT_TRUE(out.empty());
  const auto sent = time.now();
  time.advance(milliseconds(20));
  ring.own_request_done(a, sent, milliseconds(200));  // a Crawl-delay of 0.2 s
  ring.dispatch(100, keep_all, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(ring.next_due(), sent + milliseconds(200));
  time.advance(milliseconds(180));
  ring.wake_due();
  ring.dispatch(100, keep_all, out);
  EXPECT_EQ(seqs(out), std::vector<int64_t>{0});
}

TEST(HostRing, WaitsOutAHostsBackoff) {
  ManualTime time;
  PolitenessOptions polite;
  polite.retry_base = milliseconds(500);
  const RetryPolicy policy(polite);
  HostRing ring({}, time, 1);
  auto& a = ring.host("http://a.localhost");
  for (int i = 0; i < 3; ++i) a.backoff.on_outcome(true, time.now(), policy);
  ring.push(a, task(0, "u"));
  std::vector<UrlTask> out;
  ring.dispatch(100, keep_all, out);
  EXPECT_TRUE(out.empty());
  time.advance(milliseconds(500));
  ring.wake_due();
  ring.dispatch(100, keep_all, out);
  EXPECT_EQ(out.size(), 1u);
}

// ---- RetryPolicy and HostBackoff ----

FetchOutcome outcome(ErrorCategory error, int64_t status, int attempts = 1, int64_t retry_after = -1) {
  return {.error = error, .status = status, .attempts = attempts, .retry_after_s = retry_after};
}

TEST(RetryPolicy, RetriesWhatMaySucceedWhileAttemptsAreLeft) {
  PolitenessOptions polite;
  polite.retries = 2;
  const RetryPolicy policy(polite);
  for (auto e : {ErrorCategory::connect, ErrorCategory::timeout, ErrorCategory::reset})
    EXPECT_TRUE(policy.retries(outcome(e, 0), false)) << e;
  for (int64_t status : {408, 429, 500, 502, 503, 504})
    EXPECT_TRUE(policy.retries(outcome(ErrorCategory::http_5xx, status), false)) << status;
  for (int64_t status : {404, 501, 505, 999})
    EXPECT_FALSE(policy.retries(outcome(ErrorCategory::other, status), false)) << status;
  for (auto e : {ErrorCategory::dns, ErrorCategory::tls, ErrorCategory::too_large, ErrorCategory::protocol})
    EXPECT_FALSE(policy.retries(outcome(e, 0), false)) << e;
  EXPECT_TRUE(policy.retries(outcome(ErrorCategory::timeout, 0, 2), false));
  EXPECT_FALSE(policy.retries(outcome(ErrorCategory::timeout, 0, 3), false));  // 1 + 2 retries made
  EXPECT_FALSE(policy.retries(outcome(ErrorCategory::timeout, 0, 1), true));   // the run is stopping
}

TEST(RetryPolicy, BacksOffExponentiallyWithJitterUpToTheMaximum) {
  PolitenessOptions polite;
  polite.retry_base = milliseconds(100);
  polite.max_retry_wait = milliseconds(1000);
  const RetryPolicy policy(polite);
  std::mt19937_64 random(42);
  const TimePoint now{};
  for (int attempts = 1; attempts <= 8; ++attempts) {
    const auto base = std::min<int64_t>(1000, 100 << (attempts - 1));
    for (int i = 0; i < 50; ++i) {
      const auto wait = std::chrono::duration_cast<milliseconds>(
                            policy.retry_at(outcome(ErrorCategory::reset, 0, attempts), now, random) - now)
                            .count();
      EXPECT_GE(wait, base / 2) << attempts;
      EXPECT_LE(wait, base * 3 / 2) << attempts;
    }
  }
}

TEST(RetryPolicy, TakesRetryAfterAsTheServerGaveItButNoLongerThanTheMaximum) {
  PolitenessOptions polite;
  polite.max_retry_wait = milliseconds(5000);
  const RetryPolicy policy(polite);
  std::mt19937_64 random(1);
  const TimePoint now{};
  EXPECT_EQ(policy.retry_at(outcome(ErrorCategory::http_5xx, 503, 1, 3), now, random),
            now + milliseconds(3000));
  EXPECT_EQ(policy.retry_at(outcome(ErrorCategory::http_4xx, 429, 1, 3600), now, random),
            now + milliseconds(5000));
  EXPECT_EQ(policy.server_asked_until(outcome(ErrorCategory::http_4xx, 429, 1, 2), now),
            now + milliseconds(2000));
  // Retry-After on a status that is not retried asks nothing of the crawl.
  EXPECT_FALSE(policy.server_asked_until(outcome(ErrorCategory::http_4xx, 404, 1, 2), now));
}

TEST(RetryPolicy, ReadsARowsOutcome) {
  storage::PageRecord r;
  r.error = ErrorCategory::reset;
  r.attempts = 2;
  const auto o = FetchOutcome::of(r, 7);
  EXPECT_EQ(o.error, ErrorCategory::reset);
  EXPECT_EQ(o.attempts, 2);
  EXPECT_EQ(o.retry_after_s, 7);
  r.error = ErrorCategory::http_5xx;
  r.status = 503;
  EXPECT_TRUE(is_transient(FetchOutcome::of(r, -1)));
  EXPECT_TRUE(host_in_trouble(FetchOutcome::of(r, -1)));
  r.error = ErrorCategory::none;
  r.status = 200;
  EXPECT_FALSE(is_transient(FetchOutcome::of(r, -1)));
}

// Three failures in a row back the host off; failures during the back-off belong to the same
// outage; one after it doubles the next; a success ends it.
TEST(HostBackoff, BacksOffAHostInTroubleAndDoublesWhileItStaysThere) {
  PolitenessOptions polite;
  polite.retry_base = milliseconds(100);
  polite.max_retry_wait = milliseconds(10'000);
  const RetryPolicy policy(polite);
  HostBackoff backoff;
  TimePoint now{};
  backoff.on_outcome(true, now, policy);
  backoff.on_outcome(true, now, policy);
  EXPECT_EQ(backoff.until(), TimePoint{});
  backoff.on_outcome(true, now, policy);
  EXPECT_EQ(backoff.until(), now + milliseconds(100));
  for (int i = 0; i < 5; ++i) backoff.on_outcome(true, now + milliseconds(50), policy);
  EXPECT_EQ(backoff.until(), now + milliseconds(100));
  now += milliseconds(100);
  backoff.on_outcome(true, now, policy);
  EXPECT_EQ(backoff.until(), now + milliseconds(200));
  for (int round = 0; round < 10; ++round) {
    now = backoff.until();
    backoff.on_outcome(true, now, policy);
  }
  EXPECT_EQ(backoff.until(), now + milliseconds(100 << HostBackoff::kMaxDoublings));
  backoff.on_outcome(false, now, policy);
  now = backoff.until();
  for (int i = 0; i < 2; ++i) backoff.on_outcome(true, now, policy);
  EXPECT_EQ(backoff.until(), now);  // counted afresh
  backoff.wait_until(now + milliseconds(42));
  EXPECT_EQ(backoff.until(), now + milliseconds(42));
}

// ---- robots.txt as RFC 9309 reads a fetch ----

Page robots_page(ErrorCategory error, int64_t status, std::string body = {}) {
  Page p;
  p.record.error = error;
  p.record.status = status;
  p.body = std::move(body);
  return p;
}

TEST(RobotsFrom, ReadsTheBodyOf2xxAllowsOn4xxAndDisallowsWhenUnreachable) {
  const auto parsed =
      robots_from(robots_page(ErrorCategory::none, 200, "User-agent: *\nDisallow: /private\n"), "crawl");
  EXPECT_FALSE(parsed.allowed("/private/x"));
  EXPECT_TRUE(parsed.allowed("/public"));
  for (const auto& p :
       {robots_page(ErrorCategory::http_4xx, 404), robots_page(ErrorCategory::http_4xx, 403),
        robots_page(ErrorCategory::too_many_redirects, 301), robots_page(ErrorCategory::none, 304)})
    EXPECT_TRUE(robots_from(p, "crawl").allowed("/private")) << p.record.status;
  for (const auto& p : {robots_page(ErrorCategory::http_5xx, 503), robots_page(ErrorCategory::connect, 0),
                        robots_page(ErrorCategory::timeout, 0), robots_page(ErrorCategory::dns, 0),
                        robots_page(ErrorCategory::http_other, 999)})
    EXPECT_FALSE(robots_from(p, "crawl").allowed("/anything")) << p.record.error;
  // The rule every disallowed row quotes says why robots.txt was unavailable.
  auto cut = robots_page(ErrorCategory::decode, 200);
  cut.record.error_message =
      "the gzip stream stops before its end: the body was cut short (10 bytes decoded)";
  EXPECT_EQ(robots_from(cut, "crawl").matching_rule("/x"),
            "Disallow: / (robots.txt unavailable: the gzip stream stops before its end: the body was cut "
            "short (10 bytes decoded))");
  EXPECT_EQ(robots_from(robots_page(ErrorCategory::timeout, 0), "crawl").matching_rule("/x"),
            "Disallow: / (robots.txt unavailable: timeout)");
}

// ---- the in-memory store ----

TEST(MemoryFrontierStore, LoadsWhatIsStillPending) {
  MemoryFrontierStore store;
  store.pending(task(3, "http://a.localhost/3", 1), 0, 0);
  store.pending(task(4, "http://a.localhost/4", 1), 0, 0);
  store.pending(task(3, "http://a.localhost/3", 1), 1, 99.5);  // a retry replaces the entry
  store.finished(4);
  const auto state = store.load();
  ASSERT_EQ(state.pending.size(), 1u);
  EXPECT_EQ(state.pending[0].seq, 3);
  EXPECT_EQ(state.pending[0].attempts, 1);
  EXPECT_EQ(state.pending[0].not_before, 99.5);
  EXPECT_EQ(state.next_seq, 4);
  EXPECT_EQ(state.seen, std::vector<std::string>{"http://a.localhost/3"});
}

}  // namespace
}  // namespace crawl
