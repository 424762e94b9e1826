// Thread mode's router, with real threads: a test waits until the router counts a lane as asleep
// in take() before it pushes, never a fixed time.
#include "crawler/task_router.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

namespace crawl {
namespace {

UrlTask task(int64_t seq, int lane = -1) {
  UrlTask t;
  t.seq = seq;
  t.lane = lane;
  return t;
}

// Starts take(lane) on a thread of its own.
std::future<std::optional<UrlTask>> take_async(TaskRouter& router, int lane) {
  return std::async(std::launch::async, [&router, lane] { return router.take(lane); });
}

// Lanes 0..n-1 wait in take(), lane n-1 the most recent to start waiting.
void make_idle(TaskRouter& router, int lanes, std::vector<std::future<std::optional<UrlTask>>>& waiting) {
  for (int lane = 0; lane < lanes; ++lane) {
    waiting.push_back(take_async(router, lane));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (router.idle_lanes() < lane + 1 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    ASSERT_EQ(router.idle_lanes(), lane + 1);
  }
}

TEST(TaskRouter, WaitingTasksGoToTheFirstLaneToAsk) {
  TaskRouter router(2);
  router.push({task(1), task(2)});
  EXPECT_EQ(router.take(1)->seq, 1);
  EXPECT_EQ(router.take(0)->seq, 2);
  router.close();
  EXPECT_FALSE(router.take(0));
}

TEST(TaskRouter, ALaneComingBackGetsTheTaskNamedForIt) {
  TaskRouter router(3);
  router.push({task(1), task(2), task(3)});
  EXPECT_EQ(router.take(0)->seq, 1);
  EXPECT_EQ(router.take(1)->seq, 2);
  EXPECT_EQ(router.take(2)->seq, 3);
  // Lane 1 finished its fetch; the task named for it arrives before it asks again.
  router.returning(1);
  router.push({task(4, 1)});
  EXPECT_EQ(router.take(1)->seq, 4);
  // A task named for a lane that is still fetching waits for whoever asks first.
  router.push({task(5, 2)});
  EXPECT_EQ(router.take(0)->seq, 5);
  router.close();
}

TEST(TaskRouter, WakesTheNamedLaneOrElseTheMostRecentlyIdle) {
  TaskRouter router(3);
  std::vector<std::future<std::optional<UrlTask>>> waiting;
  make_idle(router, 3, waiting);
  // All three sleep; lane 0 is named.
  router.push({task(10, 0)});
  ASSERT_EQ(waiting[0].wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(waiting[0].get()->seq, 10);
  EXPECT_EQ(waiting[1].wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  // No name: lane 2 went to sleep last.
  router.push({task(11)});
  ASSERT_EQ(waiting[2].wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(waiting[2].get()->seq, 11);
  // Named for a lane that is busy (0 has not come back): the idle one gets it.
  router.push({task(12, 0)});
  ASSERT_EQ(waiting[1].wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(waiting[1].get()->seq, 12);
  router.close();
}

UrlTask url_task(int64_t seq, std::string url) {
  UrlTask t = task(seq);
  t.url = std::move(url);
  return t;
}

TEST(TaskRouter, ALaneTakesAWaitingUrlOfItsLastHostFirst) {
  TaskRouter router(1);
  router.push({url_task(1, "http://a.test:8080/1")});
  EXPECT_EQ(router.take(0)->seq, 1);
  // Lane 0 is fetching from a.test:8080, so both wait; it comes back to its host's URL first.
  router.push({url_task(2, "http://b.test:8080/1"), url_task(3, "http://a.test:8081/x"),
               url_task(4, "http://a.test:8080/2")});
  EXPECT_EQ(router.take(0)->seq, 4);
  EXPECT_EQ(router.take(0)->seq, 2);  // nothing more from a.test:8080: the front
  EXPECT_EQ(router.take(0)->seq, 3);
  router.close();
}

TEST(TaskRouter, TheFrontUrlIsPassedOverOnlySoOften) {
  TaskRouter router(1);
  router.push({url_task(0, "http://a.test/0")});
  ASSERT_EQ(router.take(0)->seq, 0);
  TaskBatch batch{url_task(1000, "http://b.test/")};
  for (int i = 1; i <= 60; ++i) batch.push_back(url_task(i, "http://a.test/" + std::to_string(i)));
  router.push(std::move(batch));
  int takes = 0;
  for (;;) {
    ++takes;
    if (router.take(0)->seq == 1000) break;
    ASSERT_LT(takes, 60) << "b.test's URL never left the front";
  }
  EXPECT_GT(takes, 1);   // a.test's URLs went first...
  EXPECT_LE(takes, 33);  // ...but only for a while
  router.close();
}

TEST(WaitingTasks, ATaskNamedForTheProducerBeatsOneOfItsHost) {
  WaitingTasks waiting;
  waiting.push(url_task(1, "http://b.test/1"));
  waiting.push(url_task(2, "http://a.test/1"));
  UrlTask named = url_task(3, "http://c.test/1");
  named.lane = 5;
  waiting.push(std::move(named));
  EXPECT_EQ(waiting.take_for(5, "http://a.test").seq, 3);
  EXPECT_EQ(waiting.take_for(4, "http://a.test").seq, 2);
  EXPECT_EQ(waiting.take_for(4, "http://a.test").seq, 1);
  EXPECT_TRUE(waiting.empty());
}

TEST(WaitingTasks, GiveNamedOffersOnlyNamedTasksAndKeepsRefusedOnes) {
  WaitingTasks waiting;
  for (int i = 0; i < 4; ++i) waiting.push(task(i, i % 2 == 0 ? -1 : i));
  std::vector<int64_t> offered;
  waiting.give_named([&](UrlTask& t) {
    offered.push_back(t.seq);
    return t.seq == 3;
  });
  EXPECT_EQ(offered, (std::vector<int64_t>{1, 3}));
  const auto left = waiting.take_all();
  ASSERT_EQ(left.size(), 3u);
  EXPECT_EQ(left[0].seq, 0);
  EXPECT_EQ(left[1].seq, 1);
  EXPECT_EQ(left[2].seq, 2);
}

TEST(TaskRouter, CloseWakesEveryIdleLaneAndDrainKeepsWhatNobodyTook) {
  TaskRouter router(4);
  std::vector<std::future<std::optional<UrlTask>>> waiting;
  make_idle(router, 2, waiting);
  router.close();
  for (auto& w : waiting) {
    ASSERT_EQ(w.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_FALSE(w.get());
  }
  TaskRouter other(2);
  other.returning(0);  // lane 0 is not fetching, so the named task waits in its mailbox
  other.push({task(1, 0), task(2)});
  const auto left = other.drain();
  ASSERT_EQ(left.size(), 2u);
}

}  // namespace
}  // namespace crawl
