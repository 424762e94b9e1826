#include "parsers/gumbo_arena.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace crawl::parsers::detail {
namespace {

// Each allocation is preceded by a header that says where it came from, so that deallocate() knows
// what to do with it; its size keeps the allocation aligned as malloc's are.
constexpr size_t kHeader = alignof(std::max_align_t);
constexpr uint64_t kFromBlock = 0xA3E1A3E1;
constexpr uint64_t kFromHeap = 0x4EA94EA9;
constexpr size_t kFirstBlock = size_t{64} << 10;

size_t round_up(size_t n) {
  return (n + kHeader - 1) / kHeader * kHeader;
}

}  // namespace

void* GumboArena::from_heap(size_t size) {
  auto* base = static_cast<std::byte*>(std::malloc(kHeader + size));
  if (!base) throw std::bad_alloc();
  *reinterpret_cast<uint64_t*>(base) = kFromHeap;
  ++live_heap_;
  return base + kHeader;
}

void* GumboArena::allocate(size_t size) {
  const size_t need = kHeader + round_up(size);
  if (used_ + need > limit_) return from_heap(size);
  if (blocks_.empty() || offset_ + need > blocks_.back().size) {
    // Each block twice the one before, so a page of any size takes few of them.
    const size_t grown = blocks_.empty() ? kFirstBlock : blocks_.back().size * 2;
    const size_t size_of_block = std::max(grown, need);
    blocks_.push_back({std::unique_ptr<std::byte[]>(new std::byte[size_of_block]), size_of_block});
    capacity_ += size_of_block;
    offset_ = 0;
  }
  std::byte* base = blocks_.back().bytes.get() + offset_;
  offset_ += need;
  used_ += need;
  *reinterpret_cast<uint64_t*>(base) = kFromBlock;
  return base + kHeader;
}

void GumboArena::deallocate(void* p) noexcept {
  if (!p) return;
  std::byte* base = static_cast<std::byte*>(p) - kHeader;
  // Block memory comes back all at once in reset().
  if (*reinterpret_cast<uint64_t*>(base) != kFromHeap) return;
  --live_heap_;
  std::free(base);
}

void GumboArena::reset() noexcept {
  // The last block is the largest; it is kept unless it is larger than a page usually needs.
  if (!blocks_.empty()) {
    Block kept = std::move(blocks_.back());
    blocks_.clear();
    capacity_ = 0;
    if (kept.size <= kKeptBytes) {
      capacity_ = kept.size;
      blocks_.push_back(std::move(kept));
    }
  }
  offset_ = 0;
  used_ = 0;
}

}  // namespace crawl::parsers::detail
