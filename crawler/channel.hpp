// The queues of the pipeline: tasks from the frontier to the producers, pages from the producers to
// the consumers; both BoundedQueue (crawler/bounded_queue.hpp), of batches.
#pragma once

#include <algorithm>
#include <cstddef>
#include <iterator>
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

// Moves every task of `tasks` into `out` (anything with push(TaskBatch&&)) in batches of at most
// `batch`, in order, and leaves `tasks` empty. Tasks that fit in one batch go over as they are.
template <class Out>
void push_in_batches(Out& out, TaskBatch& tasks, std::size_t batch) {
  if (tasks.size() <= batch) {
    if (!tasks.empty()) out.push(std::move(tasks));
    tasks.clear();
    return;
  }
  for (auto first = tasks.begin(); first != tasks.end();) {
    const auto last =
        first + static_cast<std::ptrdiff_t>(std::min(batch, static_cast<std::size_t>(tasks.end() - first)));
    out.push(TaskBatch(std::make_move_iterator(first), std::make_move_iterator(last)));
    first = last;
  }
  tasks.clear();
}

}  // namespace crawl
