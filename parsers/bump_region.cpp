#include "parsers/bump_region.hpp"

#include <cstdint>
#include <new>

namespace crawl::parsers::detail {
namespace {

// Each allocation is preceded by a header holding its size, which resize() and size_of() read; 16
// bytes keep every allocation aligned as malloc's are (libxml2's structures hold doubles).
constexpr size_t kHeader = 16;

constexpr size_t round_up(size_t n) {
  return (n + kHeader - 1) / kHeader * kHeader;
}

size_t& header_of(const void* p) {
  return *reinterpret_cast<size_t*>(static_cast<std::byte*>(const_cast<void*>(p)) - kHeader);
}

}  // namespace

void* BumpRegion::allocate(size_t size) noexcept {
  if (size > capacity_) return nullptr;
  const size_t need = kHeader + round_up(size);
  if (need > capacity_ - used_) return nullptr;
  if (!block_) {
    block_.reset(new (std::nothrow) std::byte[capacity_]);
    if (!block_) return nullptr;
  }
  std::byte* base = block_.get() + used_;
  used_ += need;
  last_ = base;
  void* p = base + kHeader;
  header_of(p) = size;
  return p;
}

bool BumpRegion::resize(void* p, size_t size) noexcept {
  std::byte* base = static_cast<std::byte*>(p) - kHeader;
  const size_t start = static_cast<size_t>(base - block_.get());
  if (base != last_ || size > capacity_ - start - kHeader) return false;
  used_ = start + kHeader + round_up(size);
  header_of(p) = size;
  return true;
}

size_t BumpRegion::size_of(const void* p) const noexcept {
  return header_of(p);
}

}  // namespace crawl::parsers::detail
