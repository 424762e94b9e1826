// The picture of a bench: throughput, peak memory, CPU per page and context switches per page of each
// mode against concurrency, as a self-contained SVG (no scripts, no external fonts or files) that browsers
// and rsvg-convert render.
#pragma once

#include <string>
#include <vector>

#include "bench/report.hpp"

namespace crawl::bench {

// One axis: its domain (in data units), whether it is logarithmic, and where its ticks go.
struct Axis {
  bool log = false;
  double low = 0, high = 1;
  std::vector<double> ticks;
  // 0 at `low`, 1 at `high`.
  double fraction(double value) const;
};

// The concurrencies tested, each a tick; logarithmic when they span more than 10×.
Axis concurrency_axis(const std::vector<int>& concurrencies);
// A value axis from zero with round ticks (1, 2, 5 × 10^k); logarithmic when the positive values span
// more than 20×, where a linear axis would flatten the small ones against zero.
Axis value_axis(const std::vector<double>& values);

// "950", "2.5k", "12k", "1.5M": tick labels that stay short.
std::string short_number(double value);

std::string bench_chart_svg(const BenchReport& report);

// Writes bench_chart_svg() to `path`; throws crawl::UsageError when the file cannot be written.
void write_bench_chart(const BenchReport& report, const std::string& path);

}  // namespace crawl::bench
