// The bounded queues of the pipeline. boost::fibers::buffered_channel blocks only the calling fiber
// (or, on a thread with no other fibers, the thread) and is safe across threads, so one type serves
// fiber and thread producers alike.
#pragma once

#include <algorithm>
#include <boost/fiber/buffered_channel.hpp>
#include <cstddef>
#include <vector>

#include "crawler/page.hpp"

namespace crawl {

// Items travel in small batches: with thousands of short transfers a second, waking another thread
// per item (a futex call and a context switch each) costs more than the transfers themselves.
// Batches are never larger than a quarter of one thread's fibers, so the end of a run stays
// balanced, and they are single items where a fetch blocks its thread (thread mode, stdin).
using TaskBatch = std::vector<UrlTask>;
using PageBatch = std::vector<Page>;
using PageChannel = boost::fibers::buffered_channel<PageBatch>;
using TaskChannel = boost::fibers::buffered_channel<TaskBatch>;

// The batch size for a thread running `fibers` fetches at once.
inline std::size_t batch_size_for(int fibers) {
  return static_cast<std::size_t>(std::max(1, std::min(16, fibers / 4)));
}

// buffered_channel needs a power-of-two capacity and holds one item less than it; this returns the
// capacity that holds at least `items`.
inline std::size_t channel_capacity_for(std::size_t items) {
  std::size_t c = 2;
  while (c - 1 < items) c *= 2;
  return c;
}

}  // namespace crawl
