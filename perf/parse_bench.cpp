// Parse throughput per core of each HTML parser on the testbed's pages (200 pages, 21 KB each on
// average), facts and links collected as a link-following crawl collects them:
//   build/crawl_microbench --benchmark_filter=Parse
// bytes_per_second is the page bytes one thread parses a second.
//
// With CRAWL_PARSE_CORPUS=DIR, ParseCorpus/gumbo and ParseCorpus/libxml2 parse every file under DIR
// instead (e.g. the bodies a crawl saved with --save-bodies; perf/docs.py does that), and
// ParseAlone/gumbo and ParseAlone/libxml2 time the libraries alone on them, as anyone would call them
// with nothing of crawl's around them: gumbo_parse with gumbo's default options (malloc, every error
// recorded) and gumbo_destroy_output; libxml2's HTML push parser with a SAX handler that does
// nothing. The pages are UTF-8 or ASCII (the documentation of perf/docs.py is), so no decoding is
// left out.
#include <benchmark/benchmark.h>
#include <gumbo.h>
#include <libxml/HTMLparser.h>

#include <climits>
#include <cstdint>
#include <cstring>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "parsers/gumbo_arena.hpp"
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

void parse_pages(benchmark::State& state, const std::vector<std::string>& pages,
                 std::string_view content_type, HtmlParser parser) {
  const crawl::parsers::ParseOptions options{.parser = parser, .collect_links = true};
  int64_t bytes = 0;
  for (auto _ : state) {
    for (const auto& page : pages) {
      auto facts = crawl::parsers::parse_page(page, content_type, options);
      benchmark::DoNotOptimize(facts.link_count);
      bytes += static_cast<int64_t>(page.size());
    }
  }
  state.SetBytesProcessed(bytes);
  state.counters["pages_per_s"] =
      benchmark::Counter(static_cast<double>(pages.size()), benchmark::Counter::kIsIterationInvariantRate);
}
void Parse(benchmark::State& state, HtmlParser parser) {
  parse_pages(state, testbed_pages(), "text/html; charset=utf-8", parser);
}
BENCHMARK_CAPTURE(Parse, gumbo, HtmlParser::gumbo)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Parse, libxml2, HtmlParser::libxml2)->Unit(benchmark::kMillisecond);

std::vector<std::string> read_corpus(const char* dir) {
  std::vector<std::string> pages;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    pages.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return pages;
}

void gumbo_alone(benchmark::State& state, const std::vector<std::string>& pages) {
  int64_t bytes = 0;
  for (auto _ : state) {
    for (const auto& page : pages) {
      GumboOutput* out = gumbo_parse_with_options(&kGumboDefaultOptions, page.data(), page.size());
      benchmark::DoNotOptimize(out->root);
      gumbo_destroy_output(&kGumboDefaultOptions, out);
      bytes += static_cast<int64_t>(page.size());
    }
  }
  state.SetBytesProcessed(bytes);
}

void libxml2_alone(benchmark::State& state, const std::vector<std::string>& pages) {
  htmlSAXHandler handler;
  std::memset(&handler, 0, sizeof handler);
  int64_t bytes = 0;
  for (auto _ : state) {
    for (const auto& page : pages) {
      if (page.size() > INT_MAX) continue;
      htmlParserCtxtPtr context =
          htmlCreatePushParserCtxt(&handler, nullptr, nullptr, 0, nullptr, XML_CHAR_ENCODING_UTF8);
      htmlCtxtUseOptions(context, HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                      HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC | HTML_PARSE_NODEFDTD);
      htmlParseChunk(context, page.data(), static_cast<int>(page.size()), 1);
      htmlFreeParserCtxt(context);
      bytes += static_cast<int64_t>(page.size());
    }
  }
  state.SetBytesProcessed(bytes);
}

// What gumbo asks its allocator for, in bytes per byte of HTML (counter requested_per_page_byte):
// what the arena of parsers/gumbo_arena.hpp is sized by. Allocations are counted, then made by
// malloc as gumbo's defaults make them. arena_per_page_byte: what the same parses take from the
// arena's blocks, with its headers and with the small pieces gumbo gives back cut again.
void gumbo_allocations(benchmark::State& state, const std::vector<std::string>& pages) {
  struct Count {
    int64_t bytes = 0;
  } count;
  GumboOptions options = kGumboDefaultOptions;
  options.userdata = &count;
  options.allocator = [](void* userdata, size_t size) {
    static_cast<Count*>(userdata)->bytes += static_cast<int64_t>(size);
    return std::malloc(size);
  };
  options.deallocator = [](void*, void* p) { std::free(p); };
  int64_t page_bytes = 0;
  for (auto _ : state) {
    for (const auto& page : pages) {
      GumboOutput* out = gumbo_parse_with_options(&options, page.data(), page.size());
      gumbo_destroy_output(&options, out);
      page_bytes += static_cast<int64_t>(page.size());
    }
  }
  state.counters["requested_per_page_byte"] =
      static_cast<double>(count.bytes) / static_cast<double>(page_bytes);
  crawl::parsers::detail::GumboArena arena(SIZE_MAX);
  GumboOptions in_arena = kGumboDefaultOptions;
  crawl::parsers::detail::use_arena(in_arena, arena);
  int64_t arena_bytes = 0;
  int64_t arena_page_bytes = 0;
  for (const auto& page : pages) {
    gumbo_parse_with_options(&in_arena, page.data(), page.size());
    arena_bytes += static_cast<int64_t>(arena.used_bytes());
    arena_page_bytes += static_cast<int64_t>(page.size());
    arena.reset();
  }
  state.counters["arena_per_page_byte"] =
      static_cast<double>(arena_bytes) / static_cast<double>(arena_page_bytes);
}
BENCHMARK_CAPTURE(gumbo_allocations, testbed, testbed_pages())
    ->Name("GumboAllocations/testbed")
    ->Unit(benchmark::kMillisecond);

// Registered before main runs, when the variable names a corpus.
const bool corpus_registered = [] {
  const char* dir = std::getenv("CRAWL_PARSE_CORPUS");
  if (!dir || !*dir) return false;
  static const std::vector<std::string> corpus = read_corpus(dir);
  for (HtmlParser parser : {HtmlParser::gumbo, HtmlParser::libxml2})
    benchmark::RegisterBenchmark(
        ("ParseCorpus/" + std::string(crawl::parsers::parser_name(parser))).c_str(),
        // As nginx labels them: no charset, so each page's own <meta> decides.
        [parser](benchmark::State& state) { parse_pages(state, corpus, "text/html", parser); })
        ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("GumboAllocations/corpus", [](benchmark::State& state) {
    gumbo_allocations(state, corpus);
  })->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("ParseAlone/gumbo", [](benchmark::State& state) {
    gumbo_alone(state, corpus);
  })->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("ParseAlone/libxml2", [](benchmark::State& state) {
    libxml2_alone(state, corpus);
  })->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
