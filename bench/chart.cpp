#include "bench/chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/usage_error.hpp"

namespace crawl::bench {
namespace {

// Geometry of the picture, in SVG user units (pixels when rendered at 100%).
constexpr double kWidth = 1000;
constexpr double kPlotTop = 96;
constexpr double kPlotBottom = 420;
constexpr double kLegendY = 492;
constexpr double kFootnoteY = 524;
constexpr double kFootnoteStep = 17;
struct PanelBox {
  double left, right;
};
constexpr PanelBox kThroughputBox{82, 468};
constexpr PanelBox kMemoryBox{584, 970};

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
  void polyline(const std::vector<std::pair<double, double>>& points, const ModeStyle& style) {
    if (points.size() < 2) return;
    out_ << "<polyline fill=\"none\" stroke=\"" << style.colour << "\" stroke-width=\"2.5\"";
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

void draw_panel(Svg& svg, const BenchReport& report, const Measure& measure, const PanelBox& box) {
  const Axis x_axis = concurrency_axis(report.info.concurrencies);
  std::vector<double> values;
  for (const auto& pair : report.pairs) {
    if (pair.runs == 0) continue;
    values.push_back(measure.low(pair));
    values.push_back(measure.high(pair));
  }
  const Axis y_axis = value_axis(values);
  auto to_x = [&](double c) { return box.left + x_axis.fraction(c) * (box.right - box.left); };
  auto to_y = [&](double v) { return kPlotBottom - y_axis.fraction(v) * (kPlotBottom - kPlotTop); };
  const double middle = (box.left + box.right) / 2;

  svg.text(middle, kPlotTop - 14, measure.title,
           "text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\"");
  for (double tick : y_axis.ticks) {
    const double y = to_y(tick);
    svg.line(box.left, y, box.right, y, "#e3e3e3", 1);
    svg.text(box.left - 8, y + 4, short_number(tick), "text-anchor=\"end\" font-size=\"11\" fill=\"#333\"");
  }
  for (double tick : x_axis.ticks) {
    const double x = to_x(tick);
    svg.line(x, kPlotBottom, x, kPlotBottom + 5, "#333", 1);
    svg.text(x, kPlotBottom + 19, short_number(tick),
             "text-anchor=\"middle\" font-size=\"11\" fill=\"#333\"");
  }
  svg.line(box.left, kPlotBottom, box.right, kPlotBottom, "#333", 1);
  svg.line(box.left, kPlotTop, box.left, kPlotBottom, "#333", 1);
  svg.text(middle, kPlotBottom + 40,
           std::string("concurrency (fetches in flight") + (x_axis.log ? ", log scale)" : ")"),
           "text-anchor=\"middle\" font-size=\"12\"");
  const double label_x = box.left - 52;
  const double label_y = (kPlotTop + kPlotBottom) / 2;
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
  const double height = kFootnoteY + kFootnoteStep * static_cast<double>(footnotes.size()) + 8;

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
             kThroughputBox);
  draw_panel(svg, report,
             {.title = "Peak memory (lower is better)",
              .axis_label = "peak RSS (MB)",
              .median = [](const BenchPair& p) { return p.peak_rss_mb; },
              .low = [](const BenchPair& p) { return p.peak_rss_mb; },
              .high = [](const BenchPair& p) { return p.peak_rss_mb; }},
             kMemoryBox);

  // The legend: one entry per mode, centred under both panels. Entry widths follow their labels,
  // estimated at 8.5 units per character of 14-unit DejaVu Sans.
  constexpr double kSwatch = 38, kCharWidth = 8.5, kGap = 30;
  std::vector<std::string> labels;
  double legend_width = 0;
  const std::vector<Series> all = series_of(info);
  for (const Series& series : all) {
    const bool measured = std::any_of(report.pairs.begin(), report.pairs.end(), [&](const auto& pair) {
      return pair.mode == series.mode && pair.parser == series.parser && pair.runs > 0;
    });
    labels.push_back(measured ? series.label : series.label + " (skipped)");
    legend_width += kSwatch + kCharWidth * static_cast<double>(labels.back().size()) + kGap;
  }
  double x = (kWidth - (legend_width - kGap)) / 2;
  for (size_t i = 0; i < all.size(); ++i) {
    const ModeStyle& style = all[i].style;
    svg.line(x, kLegendY, x + 30, kLegendY, style.colour, 2.5,
             *style.dashes ? std::string(" stroke-dasharray=\"") + style.dashes + "\"" : "");
    svg.marker(x + 15, kLegendY, style);
    svg.text(x + kSwatch, kLegendY + 5, labels[i], "font-size=\"14\"");
    x += kSwatch + kCharWidth * static_cast<double>(labels[i].size()) + kGap;
  }
  double y = kFootnoteY;
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
