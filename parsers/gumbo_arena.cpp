#include "parsers/gumbo_arena.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace crawl::parsers::detail {
namespace {

// Each allocation is preceded by a header: the size cut from the block for it, or kFromHeap, so
// that deallocate() knows what to do with it. gumbo's structures hold pointers, sizes and ints:
// the header's eight bytes keep every allocation aligned as they need.
using Header = uint64_t;
constexpr size_t kHeader = sizeof(Header);
constexpr Header kFromHeap = ~Header{0};
constexpr size_t kFirstBlock = size_t{64} << 10;

size_t round_up(size_t n, size_t grain) {
  return (n + grain - 1) / grain * grain;
}

}  // namespace

void* GumboArena::from_heap(size_t size) {
  auto* base = static_cast<std::byte*>(std::malloc(kHeader + size));
  if (!base) throw std::bad_alloc();
  *reinterpret_cast<Header*>(base) = kFromHeap;
  ++live_heap_;
  return base + kHeader;
}

void* GumboArena::allocate(size_t size) {
  // At least a grain: a piece given back holds the address of the next one.
  const size_t payload = std::max(round_up(size, kGrain), kGrain);
  if (payload <= kLargestReused) {
    void*& head = reusable_[payload / kGrain];
    if (head) {
      void* p = head;
      head = *static_cast<void**>(p);
      return p;
    }
  }
  const size_t need = kHeader + payload;
  if (used_ + need > limit_) return from_heap(size);
  if (blocks_.empty() || offset_ + need > blocks_.back().size) {
    // Each block twice the one before, up to kKeptBytes, so a page of any size takes few of them.
    // No larger: jemalloc serves 8 MB and more from an arena of its own that gives memory back to
    // the kernel as soon as it is freed, so each large page's blocks were faulted in afresh (75
    // huge pages, 150 MB, zeroed in each gumbo crawl of perf/docs.py's sites); blocks of 4 MB
    // come back from jemalloc's dirty pages, already faulted in.
    const size_t grown = blocks_.empty() ? kFirstBlock : std::min(blocks_.back().size * 2, kKeptBytes);
    const size_t size_of_block = std::max(grown, need);
    blocks_.push_back({std::unique_ptr<std::byte[]>(new std::byte[size_of_block]), size_of_block});
    capacity_ += size_of_block;
    offset_ = 0;
  }
  std::byte* base = blocks_.back().bytes.get() + offset_;
  offset_ += need;
  used_ += need;
  *reinterpret_cast<Header*>(base) = payload;
  return base + kHeader;
}

void GumboArena::deallocate(void* p) noexcept {
  if (!p) return;
  std::byte* base = static_cast<std::byte*>(p) - kHeader;
  const Header header = *reinterpret_cast<Header*>(base);
  if (header == kFromHeap) {
    --live_heap_;
    std::free(base);
    return;
  }
  // Larger block memory comes back all at once in reset().
  if (header > kLargestReused) return;
  void*& head = reusable_[header / kGrain];
  *static_cast<void**>(p) = head;
  head = p;
}

void GumboArena::reset() noexcept {
  // The largest block of at most kKeptBytes is kept (one made for a single larger allocation is
  // more than a page usually needs).
  Block kept;
  for (Block& b : blocks_)
    if (b.size <= kKeptBytes && b.size > kept.size) kept = std::move(b);
  blocks_.clear();
  capacity_ = kept.size;
  if (kept.bytes) blocks_.push_back(std::move(kept));
  reusable_.fill(nullptr);
  offset_ = 0;
  used_ = 0;
}

size_t GumboArena::largest_block_bytes() const {
  size_t largest = 0;
  for (const Block& b : blocks_) largest = std::max(largest, b.size);
  return largest;
}

void use_arena(GumboOptions& options, GumboArena& arena) {
  options.allocator = [](void* a, size_t size) { return static_cast<GumboArena*>(a)->allocate(size); };
  options.deallocator = [](void* a, void* p) { static_cast<GumboArena*>(a)->deallocate(p); };
  options.userdata = &arena;
}

}  // namespace crawl::parsers::detail
