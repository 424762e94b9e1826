// The parts of `crawl bench` that need no child process: the plan and its order, the aggregation
// of runs into pairs, the chart's axes and its SVG.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "bench/chart.hpp"
#include "bench/report.hpp"
#include "bench/runner.hpp"
#include "common/usage_error.hpp"

namespace crawl::bench {
namespace {

using storage::BenchInfo;
using storage::BenchRun;

TEST(BenchPlan, RunsEveryPairOnceBeforeAnyPairAgain) {
  EXPECT_EQ(interleaved_order(3, 2), (std::vector<size_t>{0, 1, 2, 0, 1, 2}));
  EXPECT_EQ(interleaved_order(1, 3), (std::vector<size_t>{0, 0, 0}));
  EXPECT_TRUE(interleaved_order(4, 0).empty());
}

TEST(BenchPlan, PairsFollowTheGivenOrderWithTheirRunFlags) {
  const auto pairs = plan_pairs({"thread", "fiber"}, {}, {50, 5}, 0, {.cores = 2});
  ASSERT_EQ(pairs.size(), 4u);
  EXPECT_EQ(pairs[0].mode, "thread");
  EXPECT_EQ(pairs[0].concurrency, 50);
  EXPECT_EQ(pairs[0].layout_flags, (std::vector<std::string>{"--mode", "thread", "-c", "50"}));
  EXPECT_EQ(pairs[3].layout_flags, (std::vector<std::string>{"--mode", "fiber", "-c", "5"}));
  for (const auto& pair : pairs) EXPECT_EQ(pair.skip_reason, "") << pair.mode << pair.concurrency;
}

TEST(BenchPlan, HybridSplitsConcurrencyOverOneThreadPerCore) {
  const auto pairs = plan_pairs({"hybrid"}, {}, {100, 7}, 0, {.cores = 4});
  EXPECT_EQ(pairs[0].layout_flags,
            (std::vector<std::string>{"--mode", "hybrid", "--threads", "4", "--fibers", "25"}));
  EXPECT_EQ(pairs[0].skip_reason, "");
  EXPECT_NE(pairs[1].skip_reason.find("not a multiple of 4 threads"), std::string::npos)
      << pairs[1].skip_reason;
  // --hybrid-threads overrides the number of cores.
  const auto three = plan_pairs({"hybrid"}, {}, {9}, 3, {.cores = 4});
  EXPECT_EQ(three[0].layout_flags,
            (std::vector<std::string>{"--mode", "hybrid", "--threads", "3", "--fibers", "3"}));
}

TEST(BenchPlan, SkipsWhatTheMachineCannotRunBeforeStartingIt) {
  const auto pairs = plan_pairs({"process", "thread", "fiber"}, {}, {1000, 3000}, 0,
                                {.cores = 2, .max_user_processes = 2500});
  EXPECT_EQ(pairs[0].skip_reason, "");
  EXPECT_NE(pairs[1].skip_reason.find("too many processes for this machine"), std::string::npos);
  EXPECT_EQ(pairs[2].skip_reason, "");
  EXPECT_NE(pairs[3].skip_reason.find("ulimit -u"), std::string::npos) << pairs[3].skip_reason;
  // Fibers are not processes or threads: no limit of that kind applies.
  EXPECT_EQ(pairs[4].skip_reason, "");
  EXPECT_EQ(pairs[5].skip_reason, "");
}

TEST(BenchPlan, ComparesEachParserInEachModeWithItsFlag) {
  const auto pairs = plan_pairs({"fiber", "hybrid"}, {"gumbo", "libxml2"}, {4}, 0, {.cores = 2});
  ASSERT_EQ(pairs.size(), 4u);
  EXPECT_EQ(pairs[0].parser, "gumbo");
  EXPECT_EQ(pairs[1].parser, "libxml2");
  EXPECT_EQ(pairs[1].layout_flags,
            (std::vector<std::string>{"--mode", "fiber", "-c", "4", "--parser", "libxml2"}));
  EXPECT_EQ(pairs[3].mode, "hybrid");
  EXPECT_EQ(pairs[3].layout_flags, (std::vector<std::string>{"--mode", "hybrid", "--threads", "2", "--fibers",
                                                             "2", "--parser", "libxml2"}));
  // Without parsers, no --parser: crawl run's own default.
  for (const auto& pair : plan_pairs({"fiber"}, {}, {4}, 0, {.cores = 2})) {
    EXPECT_EQ(pair.parser, "");
    EXPECT_EQ(std::count(pair.layout_flags.begin(), pair.layout_flags.end(), "--parser"), 0);
  }
}

TEST(BenchOptionsCheck, RefusesWhatCannotRun) {
  const BenchOptions good{.testbed = TestbedWorkload{}, .modes = {"fiber"}, .concurrencies = {2}};
  EXPECT_NO_THROW(validate(good));
  auto refused = [&](auto change) {
    BenchOptions options = good;
    change(options);
    EXPECT_THROW(validate(options), UsageError);
  };
  refused([](BenchOptions& o) { o.modes = {"coroutine"}; });
  refused([](BenchOptions& o) { o.modes = {}; });
  refused([](BenchOptions& o) { o.modes = {"fiber", "fiber"}; });
  refused([](BenchOptions& o) { o.concurrencies = {0}; });
  refused([](BenchOptions& o) { o.concurrencies = {4, 4}; });
  refused([](BenchOptions& o) { o.repeat = 0; });
  refused([](BenchOptions& o) { o.testbed.reset(); });
  refused([](BenchOptions& o) { o.lists = {"/etc/hostname"}; });  // a list and --testbed
  refused([](BenchOptions& o) { o.testbed->latency = "soon"; });
  refused([](BenchOptions& o) { o.testbed->pages = 0; });
  refused([](BenchOptions& o) {
    o.testbed.reset();
    o.lists = {"-"};
  });
  refused([](BenchOptions& o) { o.parsers = {"html5ever"}; });
  refused([](BenchOptions& o) { o.parsers = {"gumbo", "gumbo"}; });
  refused([](BenchOptions& o) {
    o.parsers = {"gumbo", "libxml2"};
    o.run_flags = {"--no-parse"};
  });
  BenchOptions both = good;
  both.parsers = {"libxml2", "gumbo"};
  EXPECT_NO_THROW(validate(both));
}

BenchRun run_of(std::string mode, int c, double wall_s, int64_t peak_rss_kb = 10240) {
  return {.status = "completed",
          .mode = std::move(mode),
          .concurrency = c,
          .fibers = c,
          .urls = 100,
          .wall_s = wall_s,
          .pages_per_s = 100 / wall_s,
          .peak_rss_kb = peak_rss_kb,
          .p50_ms = wall_s * 10,
          .pages_failed = 1};
}

TEST(BenchAggregate, ComparingParsersMakesOnePairPerModeParserAndConcurrency) {
  const BenchInfo info{
      .modes = {"fiber"}, .parsers = {"gumbo", "libxml2"}, .concurrencies = {4}, .repeat = 2};
  std::vector<BenchRun> runs = {run_of("fiber", 4, 4.0), run_of("fiber", 4, 1.0), run_of("fiber", 4, 6.0),
                                run_of("fiber", 4, 2.0)};
  runs[0].parser = runs[2].parser = "gumbo";
  runs[1].parser = runs[3].parser = "libxml2";
  const auto report = aggregate_bench(
      info, runs, {{.mode = "fiber/libxml2", .concurrency = 4, .reason = "crawl run failed (exit 1)"}});
  ASSERT_EQ(report.pairs.size(), 2u);
  EXPECT_EQ(report.pairs[0].parser, "gumbo");
  EXPECT_EQ(report.pairs[0].runs, 2);
  EXPECT_DOUBLE_EQ(report.pairs[0].wall_s.median, 5.0);
  EXPECT_EQ(report.pairs[1].parser, "libxml2");
  EXPECT_DOUBLE_EQ(report.pairs[1].wall_s.median, 1.5);
  EXPECT_DOUBLE_EQ(report.pairs[1].vs_best, 1.0);
  EXPECT_DOUBLE_EQ(report.pairs[0].vs_best, 5.0 / 1.5);
  // A skip names its mode and parser: it is the libxml2 pair's, not the gumbo one's.
  EXPECT_EQ(report.pairs[0].note, "");
  EXPECT_EQ(report.pairs[1].note, "stopped: crawl run failed (exit 1)");
  EXPECT_EQ(series_labels(info), (std::vector<std::string>{"fiber/gumbo", "fiber/libxml2"}));
  EXPECT_EQ(bench_notes(report),
            (std::vector<std::string>{"fiber/libxml2 -c 4: stopped: crawl run failed (exit 1)"}));
}

TEST(BenchAggregate, MediansRangesAndTheRatioToTheBest) {
  const BenchInfo info{.modes = {"fiber", "thread"}, .concurrencies = {8, 2}, .repeat = 3};
  std::vector<BenchRun> runs = {run_of("fiber", 2, 4.0),  run_of("fiber", 2, 1.0),  run_of("fiber", 2, 2.0),
                                run_of("thread", 2, 4.0), run_of("thread", 2, 8.0), run_of("fiber", 8, 0.5),
                                run_of("fiber", 8, 1.5)};
  runs.push_back(run_of("thread", 2, 100));
  runs.back().status = "interrupted";  // not measured
  const auto report =
      aggregate_bench(info, runs, {{.mode = "thread", .concurrency = 8, .reason = "cannot start a thread"}});
  ASSERT_EQ(report.pairs.size(), 4u);
  // Rising concurrency within each mode, whatever order -c gave.
  EXPECT_EQ(report.pairs[0].concurrency, 2);
  EXPECT_EQ(report.pairs[1].concurrency, 8);

  const auto& fiber2 = report.pairs[0];
  EXPECT_EQ(fiber2.runs, 3);
  EXPECT_DOUBLE_EQ(fiber2.wall_s.median, 2.0);
  EXPECT_DOUBLE_EQ(fiber2.wall_s.min, 1.0);
  EXPECT_DOUBLE_EQ(fiber2.wall_s.max, 4.0);
  EXPECT_DOUBLE_EQ(fiber2.pages_per_s.median, 50);
  EXPECT_DOUBLE_EQ(fiber2.peak_rss_mb, 10);
  EXPECT_EQ(fiber2.failed, 3);
  EXPECT_EQ(fiber2.layout, "1x1x2");

  const auto& fiber8 = report.pairs[1];
  EXPECT_DOUBLE_EQ(fiber8.wall_s.median, 1.0);  // even count: mean of the middle two
  EXPECT_DOUBLE_EQ(fiber8.vs_best, 1.0);
  EXPECT_DOUBLE_EQ(fiber2.vs_best, 2.0);

  const auto& thread2 = report.pairs[2];
  EXPECT_EQ(thread2.runs, 2);
  EXPECT_DOUBLE_EQ(thread2.wall_s.median, 6.0);
  EXPECT_EQ(thread2.note, "1 run did not complete");

  const auto& thread8 = report.pairs[3];
  EXPECT_EQ(thread8.runs, 0);
  EXPECT_EQ(thread8.note, "skipped: cannot start a thread");
  EXPECT_EQ(bench_notes(report), (std::vector<std::string>{"thread -c 2: 1 run did not complete",
                                                           "thread -c 8: skipped: cannot start a thread"}));
}

TEST(BenchAggregate, MedianOfNothingIsZero) {
  EXPECT_EQ(median({}), 0);
  EXPECT_EQ(median({3, 1, 2}), 2);
}

TEST(BenchChart, ConcurrencyAxisIsLogarithmicPastTenfold) {
  const Axis wide = concurrency_axis({10, 100, 1000});
  EXPECT_TRUE(wide.log);
  EXPECT_EQ(wide.ticks, (std::vector<double>{10, 100, 1000}));
  // Equal ratios sit at equal distances.
  EXPECT_NEAR(wide.fraction(100) - wide.fraction(10), wide.fraction(1000) - wide.fraction(100), 1e-9);
  EXPECT_GT(wide.fraction(10), 0);
  EXPECT_LT(wide.fraction(1000), 1);

  const Axis narrow = concurrency_axis({8, 2});
  EXPECT_FALSE(narrow.log);
  EXPECT_EQ(narrow.ticks, (std::vector<double>{2, 8}));
  const Axis single = concurrency_axis({50});
  EXPECT_DOUBLE_EQ(single.fraction(50), 0.5);
}

TEST(BenchChart, ValueAxisStartsAtZeroWithRoundTicksUnlessTheValuesSpanMuch) {
  const Axis linear = value_axis({120, 870, 400});
  EXPECT_FALSE(linear.log);
  EXPECT_EQ(linear.low, 0);
  EXPECT_GE(linear.high, 870);
  ASSERT_GE(linear.ticks.size(), 3u);
  EXPECT_EQ(linear.ticks.front(), 0);
  EXPECT_EQ(linear.ticks.back(), linear.high);
  const double step = linear.ticks[1] - linear.ticks[0];
  EXPECT_EQ(step, 200);

  const Axis log = value_axis({95, 900, 9500});
  EXPECT_TRUE(log.log);
  EXPECT_LT(log.low, 95);
  EXPECT_GT(log.high, 9500);
  for (double tick : {100.0, 1000.0, 5000.0})
    EXPECT_NE(std::find(log.ticks.begin(), log.ticks.end(), tick), log.ticks.end()) << tick;
}

TEST(BenchChart, ShortNumbers) {
  EXPECT_EQ(short_number(0), "0");
  EXPECT_EQ(short_number(950), "950");
  EXPECT_EQ(short_number(2500), "2500");
  EXPECT_EQ(short_number(20000), "20k");
  EXPECT_EQ(short_number(1500000), "1.5M");
  EXPECT_EQ(short_number(0.5), "0.5");
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(BenchChart, DrawsALinePerMeasuredModeInEachPanelAndEscapesText) {
  const BenchInfo info{.id = "b1",
                       .started_at = "2026-11-24T09:37:00.000Z",
                       .workload = "lists a&b <1>",
                       .modes = {"fiber", "thread", "process"},
                       .concurrencies = {10, 100, 1000},
                       .repeat = 2};
  std::vector<BenchRun> runs;
  for (int c : {10, 100, 1000}) {
    runs.push_back(run_of("fiber", c, 10.0 / c));
    runs.push_back(run_of("thread", c, 12.0 / c, 10240 + c * 300));
  }
  const auto report =
      aggregate_bench(info, runs, {{.mode = "process", .concurrency = 10, .reason = "no processes"}});
  const std::string svg = bench_chart_svg(report);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_EQ(count(svg, "<svg"), 1u);
  EXPECT_EQ(count(svg, "</svg>"), 1u);
  // fiber and thread, in two panels; process has nothing to draw.
  EXPECT_EQ(count(svg, "<polyline"), 4u);
  EXPECT_EQ(count(svg, "stroke=\"#1f77b4\" stroke-width=\"2.5\" points"), 2u);
  EXPECT_NE(svg.find("lists a&amp;b &lt;1&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("a&b"), std::string::npos);
  EXPECT_NE(svg.find("process (skipped)"), std::string::npos);
  EXPECT_NE(svg.find("process -c 10: skipped: no processes"), std::string::npos);
  EXPECT_NE(svg.find("log scale"), std::string::npos);
  EXPECT_NE(svg.find("2026-11-24"), std::string::npos);
  // Every coordinate is a finite number inside the picture.
  const std::regex coordinate(R"re((?:x1|x2|cx|x)="(-?[0-9.]+)")re");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), coordinate); it != std::sregex_iterator();
       ++it) {
    const double x = std::stod((*it)[1]);
    EXPECT_GE(x, 0);
    EXPECT_LE(x, 1000);
  }
}

}  // namespace
}  // namespace crawl::bench
