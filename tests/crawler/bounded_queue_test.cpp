#include "crawler/bounded_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/fiber/all.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace crawl {
namespace {

using Queue = BoundedQueue<std::string>;

TEST(BoundedQueue, HoldsItsCapacityInOrderAndDrainsAfterClose) {
  Queue q(2);
  std::string a = "a", b = "b", c = "c";
  EXPECT_TRUE(q.push(std::move(a)));
  EXPECT_TRUE(q.try_push(std::move(b)));
  EXPECT_FALSE(q.try_push(std::move(c)));
  EXPECT_EQ(c, "c") << "a refused item is left as it was";
  q.close();
  EXPECT_FALSE(q.push(std::move(c)));
  EXPECT_EQ(c, "c");
  std::string out;
  EXPECT_EQ(q.pop(out), Queue::Popped::item);
  EXPECT_EQ(out, "a");
  EXPECT_EQ(q.pop(out), Queue::Popped::item);
  EXPECT_EQ(out, "b");
  EXPECT_EQ(q.pop(out), Queue::Popped::closed);
}

// Many OS threads on each side (thread mode's producers, the consumers): every item arrives once.
TEST(BoundedQueue, CarriesEveryItemOnceBetweenManyThreads) {
  constexpr int kProducers = 8, kConsumers = 3, kEach = 5000;
  BoundedQueue<int> q(4);
  std::vector<std::atomic<int>> seen(kProducers * kEach);
  std::vector<std::thread> producers, consumers;
  for (int p = 0; p < kProducers; ++p)
    producers.emplace_back([&q, p] {
      for (int i = 0; i < kEach; ++i) {
        int v = p * kEach + i;
        ASSERT_TRUE(q.push(std::move(v)));
      }
    });
  for (int c = 0; c < kConsumers; ++c)
    consumers.emplace_back([&] {
      int v = 0;
      while (q.pop(v) == BoundedQueue<int>::Popped::item) seen[static_cast<size_t>(v)].fetch_add(1);
    });
  for (auto& t : producers) t.join();
  q.close();
  for (auto& t : consumers) t.join();
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i].load(), 1) << "item " << i;
}

// A fiber waiting on a full queue suspends itself, not its thread: the thread's other fibers go on.
// The consumer takes nothing until another fiber of the producer's thread has run, which it could
// not if push() blocked the thread.
TEST(BoundedQueue, AFullQueueSuspendsTheFiberNotTheThread) {
  BoundedQueue<int> q(1);
  std::atomic<bool> other_fiber_ran{false};
  std::thread fibers([&] {
    boost::fibers::fiber pusher([&] {
      for (int i = 0; i < 100; ++i) {
        int v = i;
        q.push(std::move(v));
      }
    });
    // Runs once the pusher has filled the queue and waits in push().
    boost::fibers::fiber other([&] { other_fiber_ran.store(true); });
    pusher.join();
    other.join();
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!other_fiber_ran.load() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(other_fiber_ran.load()) << "the thread stayed blocked while its pushing fiber waited";
  int v = 0, taken = 0;
  while (taken < 100 && q.pop(v) == BoundedQueue<int>::Popped::item) {
    EXPECT_EQ(v, taken);
    ++taken;
  }
  EXPECT_EQ(taken, 100);
  fibers.join();
}

// wake_pop() makes a waiting pop() return without an item (the worker process's writer then sends
// the fetch starts it was told of); a wake that finds an item pending is spent by that item.
TEST(BoundedQueue, AWakeReturnsAPopWithoutAnItem) {
  Queue q(4);
  std::string out;
  Queue::Popped popped = Queue::Popped::item;
  std::thread waiter([&] { popped = q.pop(out); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  q.wake_pop();
  waiter.join();
  EXPECT_EQ(popped, Queue::Popped::woken);

  q.wake_pop();  // before the pop: the next one returns at once
  EXPECT_EQ(q.pop(out), Queue::Popped::woken);

  std::string x = "x", y = "y";
  q.push(std::move(x));
  q.wake_pop();
  EXPECT_EQ(q.pop(out), Queue::Popped::item);
  EXPECT_EQ(out, "x");
  q.push(std::move(y));
  EXPECT_EQ(q.pop(out), Queue::Popped::item) << "the wake was spent by the item before";
  EXPECT_EQ(out, "y");
}

// Closing wakes a producer waiting for room: its push fails and the item stays with it.
TEST(BoundedQueue, CloseReleasesAWaitingPush) {
  auto q = std::make_unique<Queue>(1);
  std::string first = "first";
  q->push(std::move(first));
  std::string second = "second";
  bool pushed = true;
  std::thread pusher([&] { pushed = q->push(std::move(second)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  q->close();
  pusher.join();
  EXPECT_FALSE(pushed);
  EXPECT_EQ(second, "second");
}

}  // namespace
}  // namespace crawl
