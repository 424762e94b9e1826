// The parts of `crawl bench` that need no child process: the plan and its order, the aggregation
// of runs into pairs, the chart's axes and its SVG.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>

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

// The chart's CPU and context-switch panels compare modes per page: a run's counters are totals.
TEST(BenchAggregate, CpuAndContextSwitchesPerPageAreMediansOverTheRuns) {
  const BenchInfo info{.modes = {"thread"}, .concurrencies = {10}, .repeat = 3};
  std::vector<BenchRun> runs;
  for (int64_t switches : {300, 900, 500}) {
    runs.push_back(run_of("thread", 10, 1.0));
    runs.back().voluntary_ctx = switches - 100;
    runs.back().involuntary_ctx = 100;
    runs.back().user_s = static_cast<double>(switches) / 1000;
    runs.back().sys_s = 0.1;
  }
  const auto report = aggregate_bench(info, runs, {});
  ASSERT_EQ(report.pairs.size(), 1u);
  EXPECT_DOUBLE_EQ(report.pairs[0].context_switches_per_page, 5.0);  // 500 over 100 URLs
  EXPECT_DOUBLE_EQ(report.pairs[0].cpu_ms_per_page, 6.0);            // 0.6 s over 100 URLs
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
  // fiber and thread, in four panels; process has nothing to draw.
  EXPECT_EQ(count(svg, "<polyline"), 8u);
  EXPECT_EQ(count(svg, "stroke=\"#1f77b4\" stroke-width=\"2.5\" points"), 4u);
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

// The `points` of each polyline drawn in `colour`, in drawing order: the panels' order.
std::vector<std::string> polyline_points(const std::string& svg, const std::string& colour) {
  std::vector<std::string> points;
  const std::regex polyline("<polyline[^>]*stroke=\"" + colour + "\"[^>]*points=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), polyline); it != std::sregex_iterator(); ++it)
    points.push_back((*it)[1]);
  return points;
}

constexpr const char* kIdealColour = "#333333";
constexpr const char* kFiberColour = "#1f77b4";

// A bench of fibers alone whose throughput at each concurrency is `pages_per_c` × c.
BenchReport fibers_at(double pages_per_c, BenchInfo info) {
  info.modes = {"fiber"};
  std::vector<BenchRun> runs;
  for (int c : info.concurrencies) {
    runs.push_back(run_of("fiber", c, 100 / (pages_per_c * c)));
    runs.back().user_s = 0.01 * c;
    runs.back().voluntary_ctx = 1000 / c;
  }
  return aggregate_bench(info, runs, {});
}

TEST(BenchChart, FourPanels) {
  const std::string svg = bench_chart_svg(fibers_at(1, {.concurrencies = {10, 100}, .repeat = 1}));
  for (const char* title :
       {"Throughput (higher is better)", "Peak memory (lower is better)",
        "CPU s per 1,000 pages (lower is better)", "Context switches per page (lower is better)"})
    EXPECT_EQ(count(svg, std::string(">") + title + "<"), 1u) << title;
  EXPECT_EQ(count(svg, "concurrency (fetches in flight"), 4u);
  EXPECT_EQ(polyline_points(svg, kFiberColour).size(), 4u);
}

// With the testbed's latency known, the throughput panel draws c / latency under the measured lines:
// a mode measuring exactly that lies on it.
TEST(BenchChart, IdealThroughputIsConcurrencyOverLatency) {
  // 100 ms: c / 0.1 s = 10 × c pages per second.
  const BenchReport report =
      fibers_at(10, {.concurrencies = {10, 100, 1000}, .repeat = 1, .latency_ms = 100, .cores = 2});
  ASSERT_DOUBLE_EQ(report.pairs[1].pages_per_s.median, 1000);
  const std::string svg = bench_chart_svg(report);
  const auto ideal = polyline_points(svg, kIdealColour);
  ASSERT_EQ(ideal.size(), 1u) << "in the throughput panel only";
  EXPECT_EQ(ideal[0], polyline_points(svg, kFiberColour).at(0));
  EXPECT_EQ(count(svg, ">ideal (c / latency)<"), 1u);

  // Half the latency, twice the ideal: the fibers now lie under it.
  BenchReport faster = report;
  faster.info.latency_ms = 50;
  const std::string faster_svg = bench_chart_svg(faster);
  ASSERT_EQ(polyline_points(faster_svg, kIdealColour).size(), 1u);
  EXPECT_NE(polyline_points(faster_svg, kIdealColour)[0], polyline_points(faster_svg, kFiberColour).at(0));
}

// A list's latency is unknown and no latency has no bound: no ideal line either way.
TEST(BenchChart, NoIdealLineWithoutALatency) {
  for (std::optional<double> latency : {std::optional<double>{}, std::optional<double>{0.0}}) {
    const std::string svg =
        bench_chart_svg(fibers_at(10, {.concurrencies = {10, 100}, .repeat = 1, .latency_ms = latency}));
    EXPECT_TRUE(polyline_points(svg, kIdealColour).empty());
    EXPECT_EQ(svg.find("ideal"), std::string::npos);
  }
}

TEST(BenchChart, SubtitleNamesTheCoresWhenRecorded) {
  const BenchInfo info{.workload = "testbed, 100ms latency", .concurrencies = {10, 100}, .repeat = 1};
  BenchInfo two = info;
  two.cores = 2;
  EXPECT_NE(bench_chart_svg(fibers_at(1, two)).find("testbed, 100ms latency · 100 URLs · 2 cores · "),
            std::string::npos);
  BenchInfo one = info;
  one.cores = 1;
  EXPECT_NE(bench_chart_svg(fibers_at(1, one)).find(" · 1 core · "), std::string::npos);
  // A bench stored before the cores were.
  EXPECT_EQ(bench_chart_svg(fibers_at(1, info)).find("core"), std::string::npos);
}

BenchRun hybrid_run(int c, int threads) {
  BenchRun run = run_of("hybrid", c, 1.0);
  run.threads = threads;
  run.fibers = c / threads;
  return run;
}

// Hybrid's layout changes with c; the legend names the first and last measured.
TEST(BenchChart, HybridLegendNamesItsLayouts) {
  const BenchInfo info{.modes = {"fiber", "hybrid"}, .concurrencies = {10, 100, 1000}, .repeat = 1};
  std::vector<BenchRun> runs = {run_of("fiber", 10, 1.0), hybrid_run(10, 2), hybrid_run(100, 2),
                                hybrid_run(1000, 2)};
  const std::string svg = bench_chart_svg(aggregate_bench(info, runs, {}));
  EXPECT_EQ(count(svg, ">hybrid (1×2×5 … 1×2×500)<"), 1u);
  EXPECT_EQ(count(svg, ">fiber<"), 1u);

  // Two measured: both named. A skipped one is not.
  runs.pop_back();
  const std::string two = bench_chart_svg(
      aggregate_bench(info, runs, {{.mode = "hybrid", .concurrency = 1000, .reason = "too many"}}));
  EXPECT_EQ(count(two, ">hybrid (1×2×5, 1×2×50)<"), 1u);
}

// Eight lines with long hybrid labels do not fit one row of legend: it wraps, and stays in the picture.
TEST(BenchChart, ALongLegendWrapsInsideThePicture) {
  const BenchInfo info{.modes = {"fiber", "thread", "process", "hybrid"},
                       .parsers = {"gumbo", "libxml2"},
                       .concurrencies = {10, 1000},
                       .repeat = 1};
  std::vector<BenchRun> runs;
  for (const char* parser : {"gumbo", "libxml2"}) {
    for (int c : {10, 1000}) {
      runs.push_back(hybrid_run(c, 2));
      runs.back().parser = parser;
    }
  }
  const std::string svg = bench_chart_svg(aggregate_bench(info, runs, {}));
  EXPECT_EQ(count(svg, "(1×2×5, 1×2×500)<"), 2u);
  const std::regex legend_text(R"re(<text x="(-?[0-9.]+)" y="([0-9.]+)" font-size="14">([^<]*)<)re");
  std::set<std::string> rows;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), legend_text); it != std::sregex_iterator();
       ++it) {
    const double x = std::stod((*it)[1]);
    const std::string label = (*it)[3];
    EXPECT_GE(x, 0) << label;
    // Its width at the legend's own estimate of 8.5 units per character ("×": two bytes, one character).
    EXPECT_LE(x + 8.5 * static_cast<double>(label.size() - count(label, "×")), 1000) << label;
    rows.insert((*it)[2]);
  }
  EXPECT_GE(rows.size(), 2u);
}

}  // namespace
}  // namespace crawl::bench
