// One block of memory handed out front to back and taken back whole: what libxml2 allocates while
// it parses one page (libxml2_html.cpp). Whether a pointer came from the block is told by its
// address, so memory from anywhere else (allocated outside a parse, or past the block's end) stays
// the C library's to free and resize.
#pragma once

#include <cstddef>
#include <memory>

namespace crawl::parsers::detail {

class BumpRegion {
 public:
  // `bytes`: the block's size; it is allocated by the first allocate().
  explicit BumpRegion(size_t bytes) : capacity_(bytes) {}
  BumpRegion(const BumpRegion&) = delete;
  BumpRegion& operator=(const BumpRegion&) = delete;

  // `size` bytes aligned as malloc's are; nullptr when they do not fit in what is left (or the
  // block cannot be had).
  void* allocate(size_t size) noexcept;
  // Resizes `p` (held) in place, which it can when `p` is the last allocation and the block has
  // room; false otherwise, `p` untouched.
  bool resize(void* p, size_t size) noexcept;
  // What allocate() or resize() last gave `p` (held).
  size_t size_of(const void* p) const noexcept;
  bool holds(const void* p) const noexcept {
    const auto* b = static_cast<const std::byte*>(p);
    return block_ && b >= block_.get() && b < block_.get() + capacity_;
  }
  // Everything handed out is taken back; the block stays for the next page.
  void reset() noexcept {
    used_ = 0;
    last_ = nullptr;
  }
  size_t used() const noexcept { return used_; }
  size_t capacity() const noexcept { return capacity_; }

 private:
  std::unique_ptr<std::byte[]> block_;
  size_t capacity_;
  size_t used_ = 0;
  std::byte* last_ = nullptr;  // the last allocation's header
};

}  // namespace crawl::parsers::detail
