#include "crawler/stack_pool.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace crawl {

StackPool::StackPool(size_t stacks, size_t stack_bytes) {
  page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  slot_ = (stack_bytes + page_ - 1) / page_ * page_ + page_;
  bytes_ = slot_ * stacks;
  void* base =
      mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED)
    throw std::runtime_error(std::string("cannot map fiber stacks: ") + std::strerror(errno));
  base_ = static_cast<char*>(base);
  for (size_t i = 0; i < stacks; ++i) {
    mprotect(base_ + i * slot_, page_, PROT_NONE);  // the guard sits below: stacks grow down
    free_.push_back(i);
  }
}

StackPool::~StackPool() {
#if defined(__SANITIZE_ADDRESS__)
  // The mapping's addresses may be mapped again for something else; leave no poison behind.
  ASAN_UNPOISON_MEMORY_REGION(base_, bytes_);
#endif
  munmap(base_, bytes_);
}

boost::context::stack_context StackPool::allocate() {
  std::lock_guard lock(mutex_);
  if (free_.empty()) throw std::bad_alloc();
  size_t i = free_.back();
  free_.pop_back();
  boost::context::stack_context sc;
  sc.size = stack_bytes();
  sc.sp = base_ + (i + 1) * slot_;
#if defined(__SANITIZE_ADDRESS__)
  ASAN_UNPOISON_MEMORY_REGION(static_cast<char*>(sc.sp) - sc.size, sc.size);
#endif
  return sc;
}

void StackPool::deallocate(boost::context::stack_context& sc) {
  std::lock_guard lock(mutex_);
  free_.push_back((static_cast<char*>(sc.sp) - base_) / slot_ - 1);
}

}  // namespace crawl
