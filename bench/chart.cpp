#include "bench/chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/usage_error.hpp"

namespace crawl::bench {
namespace {

// Geometry of the picture, in SVG user units (pixels when rendered at 100%): four panels in two rows
// of two, the legend and the footnotes below them.
constexpr double kWidth = 1000;
struct PanelBox {
  double left, right, top, bottom;
};
constexpr double kLeftColumn = 82, kRightColumn = 584, kPanelWidth = 386;
constexpr double kTopRow = 96, kBottomRow = 430, kPanelHeight = 240;
constexpr PanelBox kThroughputBox{kLeftColumn, kLeftColumn + kPanelWidth, kTopRow, kTopRow + kPanelHeight};
constexpr PanelBox kMemoryBox{kRightColumn, kRightColumn + kPanelWidth, kTopRow, kTopRow + kPanelHeight};
constexpr PanelBox kCpuBox{kLeftColumn, kLeftColumn + kPanelWidth, kBottomRow, kBottomRow + kPanelHeight};
constexpr PanelBox kSwitchesBox{kRightColumn, kRightColumn + kPanelWidth, kBottomRow,
                                kBottomRow + kPanelHeight};
constexpr double kLegendY = kBottomRow + kPanelHeight + 72;
constexpr double kLegendRowStep = 24;
constexpr double kFootnoteStep = 17;

// Hues that stay apart for the common colour-vision deficiencies; each mode also has its own marker.
// Each mode also has its own marker and dash pattern, so lines that coincide stay apart.
struct ModeStyle {
  const char* colour;
  const char* marker;  // circle, square, triangle, diamond
  const char* dashes;  // SVG stroke-dasharray; empty: solid
};
ModeStyle style_of(const std::string& mode) {
  if (mode == "fiber") return {"#1f77b4", "circle", ""};
  if (mode == "thread") return {"#e6730f", "square", "8 4"};
  if (mode == "process") return {"#2ca02c", "triangle", "3 3"};
  if (mode == "hybrid") return {"#9c4fbd", "diamond", "10 3 2 3"};
  return {"#555555", "circle", ""};
}

// The ideal line: dark grey and dashed, apart from every mode's colour.
constexpr ModeStyle kReferenceStyle{"#333333", "", "6 4"};

// With parsers compared, each mode's first parser keeps the mode's style and the others a darker
// shade of its hue, drawn dotted.
ModeStyle style_of(const std::string& mode, size_t parser_index) {
  ModeStyle style = style_of(mode);
  if (parser_index == 0) return style;
  if (mode == "fiber") style.colour = "#0b3d62";
  if (mode == "thread") style.colour = "#8c3f00";
  if (mode == "process") style.colour = "#145214";
  if (mode == "hybrid") style.colour = "#5a2275";
  style.dashes = "2 3";
  return style;
}

// One line of the chart: a mode, or a (mode, parser) when the bench compares parsers.
struct Series {
  std::string label;
  std::string mode, parser;
  ModeStyle style;
};
std::vector<Series> series_of(const storage::BenchInfo& info) {
  std::vector<Series> series;
  for (const auto& mode : info.modes) {
    if (info.parsers.empty()) series.push_back({mode, mode, "", style_of(mode)});
    for (size_t i = 0; i < info.parsers.size(); ++i)
      series.push_back({pair_label(mode, info.parsers[i]), mode, info.parsers[i], style_of(mode, i)});
  }
  return series;
}

// Modes often measure alike (fibers and hybrid on a latency-bound list); each mode's points move a few
// pixels sideways from the tick so one never hides another.
constexpr double kDodge = 6;

std::string escape_xml(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        // Control characters are not allowed in XML 1.0 text.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t') out += c;
    }
  }
  return out;
}

std::string num(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

double nice_step(double rough) {
  if (rough <= 0) return 1;
  const double power = std::pow(10.0, std::floor(std::log10(rough)));
  const double fraction = rough / power;
  const double nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

std::vector<double> log_ticks(double low, double high, std::initializer_list<double> multipliers) {
  std::vector<double> ticks;
  for (int exponent = static_cast<int>(std::floor(std::log10(low)));
       exponent <= static_cast<int>(std::ceil(std::log10(high))); ++exponent)
    for (double m : multipliers) {
      const double tick = m * std::pow(10.0, exponent);
      if (tick >= low * (1 - 1e-9) && tick <= high * (1 + 1e-9)) ticks.push_back(tick);
    }
  return ticks;
}

class Svg {
 public:
  void line(double x1, double y1, double x2, double y2, std::string_view stroke, double width,
            std::string_view extra = "") {
    out_ << "<line x1=\"" << num(x1) << "\" y1=\"" << num(y1) << "\" x2=\"" << num(x2) << "\" y2=\""
         << num(y2) << "\" stroke=\"" << stroke << "\" stroke-width=\"" << width << "\"" << extra << "/>\n";
  }
  void text(double x, double y, std::string_view content, std::string_view attributes) {
    out_ << "<text x=\"" << num(x) << "\" y=\"" << num(y) << "\" " << attributes << ">" << escape_xml(content)
         << "</text>\n";
  }
  void polyline(const std::vector<std::pair<double, double>>& points, const ModeStyle& style,
                double width = 2.5) {
    if (points.size() < 2) return;
    out_ << "<polyline fill=\"none\" stroke=\"" << style.colour << "\" stroke-width=\"" << width << "\"";
    if (*style.dashes) out_ << " stroke-dasharray=\"" << style.dashes << "\"";
    out_ << " points=\"";
    for (const auto& [x, y] : points) out_ << num(x) << ',' << num(y) << ' ';
    out_ << "\"/>\n";
  }
  void marker(double x, double y, const ModeStyle& style) {
    const std::string fill = std::string("fill=\"") + style.colour + "\" stroke=\"white\" stroke-width=\"1\"";
    const std::string_view shape = style.marker;
    if (shape == "square") {
      out_ << "<rect x=\"" << num(x - 4.5) << "\" y=\"" << num(y - 4.5) << "\" width=\"9\" height=\"9\" "
           << fill << "/>\n";
    } else if (shape == "triangle") {
      out_ << "<polygon points=\"" << num(x) << ',' << num(y - 6) << ' ' << num(x - 5.5) << ','
           << num(y + 4.5) << ' ' << num(x + 5.5) << ',' << num(y + 4.5) << "\" " << fill << "/>\n";
    } else if (shape == "diamond") {
      out_ << "<polygon points=\"" << num(x) << ',' << num(y - 6) << ' ' << num(x + 6) << ',' << num(y) << ' '
           << num(x) << ',' << num(y + 6) << ' ' << num(x - 6) << ',' << num(y) << "\" " << fill << "/>\n";
    } else {
      out_ << "<circle cx=\"" << num(x) << "\" cy=\"" << num(y) << "\" r=\"5\" " << fill << "/>\n";
    }
  }
  void raw(std::string_view text) { out_ << text; }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

struct Measure {
  std::string title;
  std::string axis_label;
  double (*median)(const BenchPair&);
  double (*low)(const BenchPair&);  // whisker ends; equal to median when there is no range
  double (*high)(const BenchPair&);
};

// A line drawn under the measured ones for comparison: (concurrency, value) points and their label.
struct Reference {
  std::string label;
  std::vector<std::pair<double, double>> points;
};

// What throughput would be if every fetch took the testbed's added latency and nothing else: c fetches
// in flight finish c pages per latency. Nothing to draw when the latency is unknown or zero.
std::optional<Reference> ideal_throughput(const storage::BenchInfo& info) {
  if (!info.latency_ms || *info.latency_ms <= 0 || info.concurrencies.empty()) return std::nullopt;
  std::vector<int> concurrencies = info.concurrencies;
  std::sort(concurrencies.begin(), concurrencies.end());
  concurrencies.erase(std::unique(concurrencies.begin(), concurrencies.end()), concurrencies.end());
  Reference ideal{.label = "ideal (c / latency)", .points = {}};
  for (int c : concurrencies) ideal.points.emplace_back(c, c * 1000.0 / *info.latency_ms);
  return ideal;
}

void draw_panel(Svg& svg, const BenchReport& report, const Measure& measure, const PanelBox& box,
                const std::optional<Reference>& reference = std::nullopt) {
  const Axis x_axis = concurrency_axis(report.info.concurrencies);
  std::vector<double> values;
  for (const auto& pair : report.pairs) {
    if (pair.runs == 0) continue;
    values.push_back(measure.low(pair));
    values.push_back(measure.high(pair));
  }
  if (reference)
    for (const auto& point : reference->points) values.push_back(point.second);
  const Axis y_axis = value_axis(values);
  auto to_x = [&](double c) { return box.left + x_axis.fraction(c) * (box.right - box.left); };
  auto to_y = [&](double v) { return box.bottom - y_axis.fraction(v) * (box.bottom - box.top); };
  const double middle = (box.left + box.right) / 2;

  svg.text(middle, box.top - 14, measure.title,
           "text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\"");
  for (double tick : y_axis.ticks) {
    const double y = to_y(tick);
    svg.line(box.left, y, box.right, y, "#e3e3e3", 1);
    svg.text(box.left - 8, y + 4, short_number(tick), "text-anchor=\"end\" font-size=\"11\" fill=\"#333\"");
  }
  for (double tick : x_axis.ticks) {
    const double x = to_x(tick);
    svg.line(x, box.bottom, x, box.bottom + 5, "#333", 1);
    svg.text(x, box.bottom + 19, short_number(tick), "text-anchor=\"middle\" font-size=\"11\" fill=\"#333\"");
  }
  svg.line(box.left, box.bottom, box.right, box.bottom, "#333", 1);
  svg.line(box.left, box.top, box.left, box.bottom, "#333", 1);
  svg.text(middle, box.bottom + 40,
           std::string("concurrency (fetches in flight") + (x_axis.log ? ", log scale)" : ")"),
           "text-anchor=\"middle\" font-size=\"12\"");
  const double label_x = box.left - 52;
  const double label_y = (box.top + box.bottom) / 2;
  svg.text(label_x, label_y, measure.axis_label + (y_axis.log ? " (log scale)" : ""),
           "text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 " + num(label_x) + " " +
               num(label_y) + ")\"");

  const std::vector<Series> all = series_of(report.info);
  for (size_t index = 0; index < all.size(); ++index) {
    const Series& series = all[index];
    const ModeStyle& style = series.style;
    const double dodge = (static_cast<double>(index) - static_cast<double>(all.size() - 1) / 2) * kDodge;
    // A skipped pair breaks the line rather than being bridged over.
    std::vector<std::vector<std::pair<double, double>>> segments(1);
    std::vector<std::pair<double, double>> markers;
    for (const auto& pair : report.pairs) {
      if (pair.mode != series.mode || pair.parser != series.parser) continue;
      const double value = measure.median(pair);
      if (pair.runs == 0 || (y_axis.log && value <= 0)) {
        if (!segments.back().empty()) segments.emplace_back();
        continue;
      }
      const double x = to_x(pair.concurrency) + dodge;
      const double low = measure.low(pair), high = measure.high(pair);
      if (high > low && (!y_axis.log || low > 0)) {
        svg.line(x, to_y(low), x, to_y(high), style.colour, 1.5);
        svg.line(x - 4, to_y(low), x + 4, to_y(low), style.colour, 1.5);
        svg.line(x - 4, to_y(high), x + 4, to_y(high), style.colour, 1.5);
      }
      segments.back().emplace_back(x, to_y(value));
      markers.emplace_back(x, to_y(value));
    }
    for (const auto& segment : segments) svg.polyline(segment, style);
    for (const auto& [x, y] : markers) svg.marker(x, y, style);
  }

  // Over the measured lines: where a mode reaches the ideal, the two coincide and the ideal must
  // still show.
  if (reference && !reference->points.empty()) {
    std::vector<std::pair<double, double>> points;
    for (const auto& [c, value] : reference->points) points.emplace_back(to_x(c), to_y(value));
    // A single concurrency has no line to draw: a short dash across its tick shows the level.
    if (points.size() == 1)
      points = {{points[0].first - 24, points[0].second}, {points[0].first + 24, points[0].second}};
    svg.polyline(points, kReferenceStyle, 1.5);
    // Beside its highest point, inside the panel, where the measured lines fall short of it.
    const auto& [x, y] = points.back();
    svg.text(x - 6, std::max(y - 8, box.top + 12), reference->label,
             "text-anchor=\"end\" font-size=\"11.5\" fill=\"" + std::string(kReferenceStyle.colour) + "\"");
  }
}

// Characters, not bytes, of UTF-8 text: what its width on the page follows.
size_t characters(std::string_view text) {
  return static_cast<size_t>(std::count_if(
      text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// Hybrid's layout changes with the concurrency (fibers per thread grow with it), so its legend entry
// names the layouts measured: "hybrid (1×2×5 … 1×2×500)". The other modes' layouts follow from c.
std::string legend_label(const Series& series, const BenchReport& report) {
  std::vector<std::string> layouts;
  for (const auto& pair : report.pairs)
    if (pair.mode == series.mode && pair.parser == series.parser && pair.runs > 0 && !pair.layout.empty())
      layouts.push_back(pair.layout);
  if (layouts.empty()) return series.label + " (skipped)";
  if (series.mode != "hybrid") return series.label;
  auto shown = [](std::string layout) {
    for (size_t at = layout.find('x'); at != std::string::npos; at = layout.find('x', at))
      layout.replace(at, 1, "×");
    return layout;
  };
  std::string text = shown(layouts.front());
  if (layouts.size() == 2) text += ", " + shown(layouts.back());
  if (layouts.size() > 2) text += " … " + shown(layouts.back());
  return series.label + " (" + text + ")";
}

}  // namespace

double Axis::fraction(double value) const {
  if (log) {
    if (value <= 0) return 0;
    return (std::log10(value) - std::log10(low)) / (std::log10(high) - std::log10(low));
  }
  return high > low ? (value - low) / (high - low) : 0.5;
}

Axis concurrency_axis(const std::vector<int>& concurrencies) {
  Axis axis;
  if (concurrencies.empty()) return axis;
  const auto [lowest, highest] = std::minmax_element(concurrencies.begin(), concurrencies.end());
  const double low = *lowest, high = *highest;
  for (int c : concurrencies) axis.ticks.push_back(c);
  std::sort(axis.ticks.begin(), axis.ticks.end());
  if (high > 10 * low) {
    axis.log = true;
    // Padding so the end points sit inside the panel, not on its border.
    axis.low = low / 1.5;
    axis.high = high * 1.5;
  } else if (high > low) {
    const double pad = (high - low) * 0.08;
    axis.low = low - pad;
    axis.high = high + pad;
  } else {
    axis.low = low * 0.5;
    axis.high = high * 1.5;
  }
  return axis;
}

Axis value_axis(const std::vector<double>& values) {
  Axis axis;
  double highest = 0, lowest_positive = 0;
  for (double v : values) {
    highest = std::max(highest, v);
    if (v > 0 && (lowest_positive == 0 || v < lowest_positive)) lowest_positive = v;
  }
  if (highest <= 0) {
    axis.high = 1;
    axis.ticks = {0, 0.5, 1};
    return axis;
  }
  if (highest > 20 * lowest_positive) {
    axis.log = true;
    axis.low = lowest_positive / 1.3;
    axis.high = highest * 1.3;
    axis.ticks = log_ticks(axis.low, axis.high, {1, 2, 5});
    if (axis.ticks.size() < 3) axis.ticks = log_ticks(axis.low, axis.high, {1, 1.5, 2, 3, 5, 7});
    return axis;
  }
  const double step = nice_step(highest * 1.05 / 5);
  axis.low = 0;
  axis.high = std::ceil(highest * 1.05 / step) * step;
  for (int i = 0; i * step <= axis.high * (1 + 1e-9); ++i) axis.ticks.push_back(i * step);
  return axis;
}

std::string short_number(double value) {
  char text[32];
  const double magnitude = std::fabs(value);
  auto trimmed = [&](double scaled, const char* suffix) {
    // One decimal only while it carries information: 2.5k, 12k.
    if (std::fabs(scaled) < 10 && std::fabs(scaled - std::round(scaled)) > 1e-9)
      std::snprintf(text, sizeof text, "%.1f%s", scaled, suffix);
    else
      std::snprintf(text, sizeof text, "%.0f%s", scaled, suffix);
    return std::string(text);
  };
  if (magnitude >= 1e6) return trimmed(value / 1e6, "M");
  if (magnitude >= 1e4) return trimmed(value / 1e3, "k");
  if (magnitude >= 10 || magnitude == 0 || std::fabs(value - std::round(value)) < 1e-9)
    return trimmed(value, "");
  std::snprintf(text, sizeof text, "%.2g", value);
  return text;
}

std::string bench_chart_svg(const BenchReport& report) {
  const storage::BenchInfo& info = report.info;
  const std::vector<std::string> footnotes = bench_notes(report);

  // The legend: one entry per line, in rows centred under the panels. Entry widths follow their
  // labels, estimated at 8.5 units per character of 14-unit DejaVu Sans.
  constexpr double kSwatch = 38, kCharWidth = 8.5, kGap = 30, kLegendWidth = kWidth - 80;
  struct LegendEntry {
    const Series* series;
    std::string label;
    double width;
  };
  const std::vector<Series> all = series_of(info);
  std::vector<std::vector<LegendEntry>> legend_rows(1);
  double row_width = 0;
  for (const Series& series : all) {
    std::string label = legend_label(series, report);
    const double width = kSwatch + kCharWidth * static_cast<double>(characters(label));
    if (!legend_rows.back().empty() && row_width + kGap + width > kLegendWidth) {
      legend_rows.emplace_back();
      row_width = 0;
    }
    row_width += (legend_rows.back().empty() ? 0 : kGap) + width;
    legend_rows.back().push_back({&series, std::move(label), width});
  }
  const double footnote_y = kLegendY + kLegendRowStep * static_cast<double>(legend_rows.size() - 1) + 32;
  const double height = footnote_y + kFootnoteStep * static_cast<double>(footnotes.size()) + 8;

  Svg svg;
  svg.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  svg.raw("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kWidth) + "\" height=\"" + num(height) +
          "\" viewBox=\"0 0 " + num(kWidth) + " " + num(height) +
          "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n");
  svg.raw("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");

  int64_t urls = 0;
  for (const auto& pair : report.pairs) urls = std::max(urls, pair.urls);
  std::string workload = info.workload;
  if (workload.size() > 90) workload = workload.substr(0, 89) + "…";
  svg.text(kWidth / 2, 28, "crawl bench " + info.id + ": the concurrency models side by side",
           "text-anchor=\"middle\" font-size=\"18\" font-weight=\"bold\"");
  std::string subtitle = workload;
  if (urls > 0) subtitle += " · " + std::to_string(urls) + " URLs";
  if (info.cores > 0) subtitle += " · " + std::to_string(info.cores) + (info.cores == 1 ? " core" : " cores");
  subtitle += info.repeat == 1 ? " · one run per point · "
                               : " · median of " + std::to_string(info.repeat) +
                                     " interleaved runs per point (bars: min–max) · ";
  subtitle += info.started_at.substr(0, 10);
  if (info.status != "completed") subtitle += " · " + info.status;
  svg.text(kWidth / 2, 52, subtitle, "text-anchor=\"middle\" font-size=\"12.5\" fill=\"#444\"");

  draw_panel(svg, report,
             {.title = "Throughput (higher is better)",
              .axis_label = "pages per second",
              .median = [](const BenchPair& p) { return p.pages_per_s.median; },
              .low = [](const BenchPair& p) { return p.pages_per_s.min; },
              .high = [](const BenchPair& p) { return p.pages_per_s.max; }},
             kThroughputBox, ideal_throughput(info));
  draw_panel(svg, report,
             {.title = "Peak memory (lower is better)",
              .axis_label = "peak RSS (MB)",
              .median = [](const BenchPair& p) { return p.peak_rss_mb; },
              .low = [](const BenchPair& p) { return p.peak_rss_mb; },
              .high = [](const BenchPair& p) { return p.peak_rss_mb; }},
             kMemoryBox);
  // CPU milliseconds per page are CPU seconds per 1,000 pages: the same number in a unit that reads.
  draw_panel(svg, report,
             {.title = "CPU s per 1,000 pages (lower is better)",
              .axis_label = "user + system CPU seconds",
              .median = [](const BenchPair& p) { return p.cpu_ms_per_page; },
              .low = [](const BenchPair& p) { return p.cpu_ms_per_page; },
              .high = [](const BenchPair& p) { return p.cpu_ms_per_page; }},
             kCpuBox);
  draw_panel(svg, report,
             {.title = "Context switches per page (lower is better)",
              .axis_label = "voluntary + involuntary",
              .median = [](const BenchPair& p) { return p.context_switches_per_page; },
              .low = [](const BenchPair& p) { return p.context_switches_per_page; },
              .high = [](const BenchPair& p) { return p.context_switches_per_page; }},
             kSwitchesBox);

  double y = kLegendY;
  for (const auto& row : legend_rows) {
    double width = -kGap;
    for (const auto& entry : row) width += entry.width + kGap;
    double x = (kWidth - width) / 2;
    for (const auto& entry : row) {
      const ModeStyle& style = entry.series->style;
      svg.line(x, y, x + 30, y, style.colour, 2.5,
               *style.dashes ? std::string(" stroke-dasharray=\"") + style.dashes + "\"" : "");
      svg.marker(x + 15, y, style);
      svg.text(x + kSwatch, y + 5, entry.label, "font-size=\"14\"");
      x += entry.width + kGap;
    }
    y += kLegendRowStep;
  }
  y = footnote_y;
  for (const auto& footnote : footnotes) {
    std::string line = footnote.size() > 150 ? footnote.substr(0, 149) + "…" : footnote;
    svg.text(40, y, line, "font-size=\"12\" fill=\"#8a1c1c\"");
    y += kFootnoteStep;
  }
  svg.raw("</svg>\n");
  return svg.str();
}

void write_bench_chart(const BenchReport& report, const std::string& path) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << bench_chart_svg(report);
  file.flush();
  if (!file) throw UsageError("cannot write the chart to " + path + ": pass --chart with a writable path");
}

}  // namespace crawl::bench
