// Parse throughput per core of each HTML parser on the testbed's pages (200 pages, 21 KB each on
// average), facts and links collected as a link-following crawl collects them:
//   build/crawl_microbench --benchmark_filter=Parse
// bytes_per_second is the page bytes one thread parses a second.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "parsers/html.hpp"
#include "testbed/site.hpp"

namespace {

using crawl::parsers::HtmlParser;

const std::vector<std::string>& testbed_pages() {
  static const std::vector<std::string> pages = [] {
    std::vector<std::string> out;
    const crawl::testbed::SiteOptions site;
    for (uint64_t n = 0; n < 200; ++n) out.push_back(crawl::testbed::page_html(n, site));
    return out;
  }();
  return pages;
}

void Parse(benchmark::State& state, HtmlParser parser) {
  const auto& pages = testbed_pages();
  const crawl::parsers::ParseOptions options{.parser = parser, .collect_links = true};
  int64_t bytes = 0;
  for (auto _ : state) {
    for (const auto& page : pages) {
      auto facts = crawl::parsers::parse_page(page, "text/html; charset=utf-8", options);
      benchmark::DoNotOptimize(facts.link_count);
      bytes += static_cast<int64_t>(page.size());
    }
  }
  state.SetBytesProcessed(bytes);
  state.counters["pages_per_s"] =
      benchmark::Counter(static_cast<double>(pages.size()), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK_CAPTURE(Parse, gumbo, HtmlParser::gumbo)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Parse, libxml2, HtmlParser::libxml2)->Unit(benchmark::kMillisecond);

}  // namespace
