// Memory for gumbo's parse of one page. gumbo allocates every node, attribute, string buffer and
// vector of the tree separately (about 14% of a gumbo crawl's CPU goes to malloc and another 6% to
// free, most of it gumbo's, on the documentation pages of perf/docs.py), and frees them one by one
// at the end. Here they are cut from a few large blocks instead, given back all at once when the page
// is done, and the blocks stay with the thread for its next page.
//
// While it parses, gumbo also frees much of what it asked for: every string buffer and vector grows
// by allocating twice the size, copying and freeing the old one, and each text's buffer is freed
// once copied out. Small pieces given back are cut again for the next allocation of their size, from
// memory still in the cache, instead of from fresh memory further along the block.
#pragma once

#include <gumbo.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace crawl::parsers::detail {

class GumboArena {
 public:
  // `limit`: the most bytes one page may take from the blocks; past it, allocations go to malloc
  // (and come back to free), as without the arena, so a hostile page holds no more than it would
  // have.
  explicit GumboArena(size_t limit) : limit_(limit) {}
  GumboArena(const GumboArena&) = delete;
  GumboArena& operator=(const GumboArena&) = delete;

  void set_limit(size_t limit) { limit_ = limit; }
  void* allocate(size_t size);
  void deallocate(void* p) noexcept;

  // Ends a page: every block allocation is given back, and one block of at most kKeptBytes is kept
  // for the next page. Allocations that went to malloc are not: while live_heap_allocations() is
  // not 0, the tree must first be freed node by node (gumbo_destroy_output).
  void reset() noexcept;
  size_t live_heap_allocations() const { return live_heap_; }
  size_t used_bytes() const { return used_; }       // taken from blocks by this page
  size_t block_bytes() const { return capacity_; }  // held in blocks now
  size_t largest_block_bytes() const;

  static constexpr size_t kKeptBytes = size_t{4} << 20;

 private:
  struct Block {
    std::unique_ptr<std::byte[]> bytes;
    size_t size = 0;
  };
  // Pieces of block memory given back, by size in steps of kGrain up to kLargestReused; each free
  // piece holds the address of the next one of its size.
  static constexpr size_t kGrain = 8;
  static constexpr size_t kLargestReused = 512;
  void* from_heap(size_t size);

  size_t limit_;
  std::vector<Block> blocks_;
  size_t offset_ = 0;  // into blocks_.back()
  size_t used_ = 0;
  size_t capacity_ = 0;
  size_t live_heap_ = 0;
  std::array<void*, kLargestReused / kGrain + 1> reusable_{};
};

// Makes gumbo take its memory from `arena` (GumboOptions' allocator, deallocator and userdata).
void use_arena(GumboOptions& options, GumboArena& arena);

}  // namespace crawl::parsers::detail
