#include "parsers/gumbo_arena.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <string>

#include "parsers/html.hpp"

namespace crawl::parsers::detail {
namespace {

TEST(GumboArena, AllocationsAreAlignedDistinctAndWritable) {
  GumboArena arena(size_t{1} << 20);
  std::set<uintptr_t> seen;
  std::vector<std::pair<unsigned char*, size_t>> all;
  for (size_t size : {1, 7, 16, 100, 4096, 70000, 3, 0}) {
    auto* p = static_cast<unsigned char*>(arena.allocate(size));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignof(void*), 0u) << size;
    EXPECT_TRUE(seen.insert(reinterpret_cast<uintptr_t>(p)).second);
    std::memset(p, static_cast<int>(size & 0xFF), size);
    all.emplace_back(p, size);
  }
  // Nothing written over another allocation.
  for (const auto& [p, size] : all)
    for (size_t i = 0; i < size; ++i) ASSERT_EQ(p[i], static_cast<unsigned char>(size & 0xFF)) << size;
  EXPECT_EQ(arena.live_heap_allocations(), 0u);
}

// gumbo grows its buffers by allocating anew and freeing the old one: a small piece given back is
// cut again for the next allocation of its size, and only for that size.
TEST(GumboArena, ASmallPieceGivenBackIsReusedForItsSizeOnly) {
  GumboArena arena(size_t{1} << 20);
  void* forty = arena.allocate(40);
  void* hundred = arena.allocate(100);
  const size_t used = arena.used_bytes();
  arena.deallocate(forty);
  arena.deallocate(hundred);
  void* other_size = arena.allocate(64);
  EXPECT_NE(other_size, forty);
  EXPECT_NE(other_size, hundred);
  EXPECT_GT(arena.used_bytes(), used);
  const size_t used_after_other = arena.used_bytes();
  // Sizes that round to the same 8-byte step share pieces.
  EXPECT_EQ(arena.allocate(97), hundred);
  EXPECT_EQ(arena.allocate(33), forty);
  EXPECT_EQ(arena.used_bytes(), used_after_other);
  // Nothing is left to reuse: the next one is cut from the block, distinct from both.
  void* fresh = arena.allocate(40);
  EXPECT_NE(fresh, forty);
  EXPECT_GT(arena.used_bytes(), used_after_other);
  // A large piece given back is not reused before reset().
  void* large = arena.allocate(4096);
  arena.deallocate(large);
  EXPECT_NE(arena.allocate(4096), large);
  // reset() forgets the pieces: they are part of the block again.
  arena.deallocate(fresh);
  arena.reset();
  EXPECT_EQ(arena.used_bytes(), 0u);
  arena.allocate(40);
  EXPECT_GT(arena.used_bytes(), 0u);
}

TEST(GumboArena, PastItsLimitMemoryComesFromMallocAndGoesBackToFree) {
  GumboArena arena(64 << 10);
  void* in_block = arena.allocate(32 << 10);
  void* past = arena.allocate(48 << 10);  // would take the page past 64 KiB
  EXPECT_EQ(arena.live_heap_allocations(), 1u);
  EXPECT_LE(arena.used_bytes(), size_t{64} << 10);
  arena.deallocate(in_block);  // block memory: nothing to do until reset()
  EXPECT_EQ(arena.live_heap_allocations(), 1u);
  arena.deallocate(past);
  EXPECT_EQ(arena.live_heap_allocations(), 0u);
  arena.deallocate(nullptr);
}

TEST(GumboArena, ResetKeepsOneBlockOfBoundedSizeForTheNextPage) {
  GumboArena arena(size_t{256} << 20);
  for (int i = 0; i < 1000; ++i) arena.allocate(1000);
  const size_t held = arena.block_bytes();
  EXPECT_GE(held, 1000u * 1000u);
  arena.reset();
  EXPECT_EQ(arena.used_bytes(), 0u);
  EXPECT_GT(arena.block_bytes(), 0u);
  EXPECT_LE(arena.block_bytes(), GumboArena::kKeptBytes);
  // A page that needed a block larger than is kept leaves none of it behind.
  arena.allocate(GumboArena::kKeptBytes * 2);
  arena.reset();
  EXPECT_LE(arena.block_bytes(), GumboArena::kKeptBytes);
}

// A large page takes more blocks of kKeptBytes rather than larger ones: jemalloc hands out 8 MB and
// more from an arena that returns it to the kernel when freed, so such blocks were faulted in again
// for every large page. An allocation larger than a block still gets a block of its own.
TEST(GumboArena, BlocksStopGrowingAtTheSizeKeptBetweenPages) {
  GumboArena arena(size_t{256} << 20);
  for (int i = 0; i < 40'000; ++i) arena.allocate(1000);
  EXPECT_GE(arena.block_bytes(), size_t{40'000} * 1000);
  EXPECT_EQ(arena.largest_block_bytes(), GumboArena::kKeptBytes);
  arena.allocate(GumboArena::kKeptBytes * 3);
  EXPECT_GE(arena.largest_block_bytes(), GumboArena::kKeptBytes * 3);
  // The page ended on that block: one of kKeptBytes is what stays for the next page.
  arena.reset();
  EXPECT_EQ(arena.largest_block_bytes(), GumboArena::kKeptBytes);
  EXPECT_EQ(arena.block_bytes(), GumboArena::kKeptBytes);
}

// A page whose tree outgrows the arena's limit (32 MB, or 8 bytes per byte of a larger page) is
// parsed in part from malloc: the facts are the same and, under the sanitizers' leak checker, no
// node is lost.
TEST(GumboArena, APageLargerThanTheArenaParsesWithTheSameFacts) {
  std::string html = "<!DOCTYPE html><title>big</title><body>";
  const int links = 200000;
  for (int i = 0; i < links; ++i)
    html += "<p><a href=\"/p/" + std::to_string(i) + "\" class=x id=y>link</a></p>";
  const ParseOptions options{.parser = HtmlParser::gumbo, .collect_links = true};
  const PageFacts facts = parse_page(html, "text/html; charset=utf-8", options);
  EXPECT_EQ(facts.link_count, links);
  ASSERT_EQ(facts.links.size(), static_cast<size_t>(links));
  EXPECT_EQ(facts.links.back(), "/p/" + std::to_string(links - 1));
  EXPECT_EQ(facts.title, "big");
  // And the thread's next page parses from the arena again.
  const PageFacts small = parse_page("<title>t</title><a href=/x>x</a>", "text/html", options);
  EXPECT_EQ(small.link_count, 1);
  EXPECT_EQ(small.title, "t");
}

}  // namespace
}  // namespace crawl::parsers::detail
