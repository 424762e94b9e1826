#pragma once

#include <boost/context/stack_context.hpp>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace crawl {

// All the stacks of one thread's fibers carved out of one mapping, each below a guard page: one
// allocation for thousands of fibers, and a stack overflow faults instead of corrupting the next
// stack. Only the pages a fiber touches become resident.
class StackPool {
 public:
  StackPool(size_t stacks, size_t stack_bytes);
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  // Throws std::bad_alloc when every stack is taken. The stack handed out is clean under
  // AddressSanitizer: a fiber's last frames never return (it switches away for good), so the
  // redzones they poisoned would otherwise stay poisoned in the shadow, and the next fiber given
  // the same stack would be reported for writing its own locals there.
  boost::context::stack_context allocate();
  void deallocate(boost::context::stack_context& sc);

  size_t stack_bytes() const { return slot_ - page_; }

 private:
  std::mutex mutex_;  // only contended if fibers ever migrated; they do not
  char* base_ = nullptr;
  size_t page_ = 0, slot_ = 0, bytes_ = 0;
  std::vector<size_t> free_;
};

// The StackAllocator concept Boost.Fiber copies into every fiber: a handle on the pool.
// Shared ownership: a finished fiber's stack may be handed back after the thread's fiber loop
// has ended (the scheduler frees terminated fibers lazily).
struct PooledStack {
  std::shared_ptr<StackPool> pool;
  boost::context::stack_context allocate() { return pool->allocate(); }
  void deallocate(boost::context::stack_context& sc) noexcept { pool->deallocate(sc); }
};

}  // namespace crawl
