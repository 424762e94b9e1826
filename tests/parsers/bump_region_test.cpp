#include "parsers/bump_region.hpp"

#include <gtest/gtest.h>
#include <libxml/xmlerror.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "parsers/html.hpp"

namespace crawl::parsers::detail {
namespace {

TEST(BumpRegion, AllocationsAreAlignedDistinctWritableAndHeld) {
  BumpRegion region(size_t{1} << 20);
  std::vector<std::pair<unsigned char*, size_t>> all;
  for (size_t size : {1, 7, 16, 100, 4096, 70000, 3, 0}) {
    auto* p = static_cast<unsigned char*>(region.allocate(size));
    ASSERT_NE(p, nullptr) << size;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u) << size;
    EXPECT_TRUE(region.holds(p));
    EXPECT_EQ(region.size_of(p), size);
    std::memset(p, static_cast<int>(size & 0xFF), size);
    all.emplace_back(p, size);
  }
  for (const auto& [p, size] : all)
    for (size_t i = 0; i < size; ++i) ASSERT_EQ(p[i], static_cast<unsigned char>(size & 0xFF)) << size;
  void* elsewhere = std::malloc(16);
  EXPECT_FALSE(region.holds(elsewhere));
  std::free(elsewhere);
}

TEST(BumpRegion, SaysNoOnceFullAndTakesEverythingBackOnReset) {
  BumpRegion region(4200);
  EXPECT_FALSE(region.holds(nullptr));
  EXPECT_EQ(region.allocate(4201), nullptr);
  void* first = region.allocate(1000);
  ASSERT_NE(first, nullptr);
  int taken = 1;
  while (region.allocate(1000)) ++taken;
  EXPECT_EQ(taken, 4);  // each takes 1,008 bytes and a 16-byte header: 104 bytes are left
  EXPECT_LE(region.used(), region.capacity());
  EXPECT_EQ(region.allocate(81), nullptr);
  EXPECT_NE(region.allocate(80), nullptr);  // what is left still serves a smaller one
  region.reset();
  EXPECT_EQ(region.used(), 0u);
  EXPECT_EQ(region.allocate(1000), first);
}

TEST(BumpRegion, ResizesTheLastAllocationInPlaceOnly) {
  BumpRegion region(4096);
  auto* a = static_cast<char*>(region.allocate(100));
  std::memset(a, 'a', 100);
  EXPECT_TRUE(region.resize(a, 1000));
  EXPECT_EQ(region.size_of(a), 1000u);
  EXPECT_EQ(std::string(a, 100), std::string(100, 'a'));
  auto* b = static_cast<char*>(region.allocate(100));
  ASSERT_NE(b, nullptr);
  EXPECT_GE(b, a + 1000);                // past a's grown size
  EXPECT_FALSE(region.resize(a, 2000));  // no longer the last
  EXPECT_EQ(region.size_of(a), 1000u);
  EXPECT_TRUE(region.resize(b, 10));     // shrinking the last
  EXPECT_FALSE(region.resize(b, 4096));  // past the block's end
  EXPECT_EQ(region.size_of(b), 10u);
}

ParseOptions libxml2_links() {
  return {.parser = HtmlParser::libxml2, .collect_links = true};
}

// libxml2 records each parse's last error per thread, in memory it allocated during the parse: an
// HTML5 element its tables lack is one. That memory is the region's, which the next page reuses, so
// nothing of it may be left once the parse is over.
TEST(Libxml2Region, NothingLibxml2KeepsOfAParsePointsIntoIt) {
  std::thread([] {
    const PageFacts facts =
        parse_page("<nav><section><a href='/x'>x</a></section></nav>&bogus", "text/html", libxml2_links());
    EXPECT_EQ(facts.link_count, 1);
    EXPECT_EQ(xmlGetLastError(), nullptr);
  }).join();
}

// A page whose parse needs more than the region (its copy of the page alone is larger) goes on in
// memory from malloc, and pages before and after it are measured as ever.
TEST(Libxml2Region, PagesLargerThanTheRegionAndThoseAfterThem) {
  std::string large = "<title>large</title><body>";
  constexpr int kLinks = 60'000;
  for (int i = 0; i < kLinks; ++i)
    large += "<section class='c" + std::to_string(i) + "'><a href='/p" + std::to_string(i) +
             "'>link</a></section>\n";
  ASSERT_GT(large.size(), size_t{3} << 20);  // the region is 2 MB
  const std::string small =
      "<title>small</title><article><a href='/one'>one</a> <a href='/two'>two</a></article>";
  std::thread([&] {
    for (int round = 0; round < 2; ++round) {
      const PageFacts before = parse_page(small, "text/html", libxml2_links());
      EXPECT_EQ(before.title, "small");
      EXPECT_EQ(before.links, (std::vector<std::string>{"/one", "/two"}));
      const PageFacts facts = parse_page(large, "text/html", libxml2_links());
      EXPECT_EQ(facts.title, "large");
      ASSERT_EQ(facts.link_count, kLinks);
      ASSERT_EQ(facts.links.size(), static_cast<size_t>(kLinks));
      EXPECT_EQ(facts.links.front(), "/p0");
      EXPECT_EQ(facts.links.back(), "/p" + std::to_string(kLinks - 1));
      EXPECT_EQ(facts.text_bytes, int64_t{kLinks} * 4 + (kLinks - 1));  // "link" and a space between
    }
  }).join();
}

}  // namespace
}  // namespace crawl::parsers::detail
