// The queues of the pipeline: tasks from the frontier to the producers, pages from the producers to
// the consumers; both BoundedQueue (crawler/bounded_queue.hpp), of batches.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "crawler/bounded_queue.hpp"
#include "crawler/page.hpp"

namespace crawl {

// Items travel in small batches: with thousands of short transfers a second, waking another thread
// per item (a futex call and a context switch each) costs more than the transfers themselves.
// Batches are never larger than a quarter of one thread's fibers, so the end of a run stays
// balanced, and they are single items where a fetch blocks its thread (thread mode, stdin).
using TaskBatch = std::vector<UrlTask>;
using PageBatch = std::vector<Page>;
using PageChannel = BoundedQueue<PageBatch>;
using TaskChannel = BoundedQueue<TaskBatch>;

// The batch size for a thread running `fibers` fetches at once.
inline std::size_t batch_size_for(int fibers) {
  return static_cast<std::size_t>(std::max(1, std::min(16, fibers / 4)));
}

}  // namespace crawl
