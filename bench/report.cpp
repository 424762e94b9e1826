#include "bench/report.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <sstream>

namespace crawl::bench {

using storage::Format;
using storage::Value;

namespace {

Spread spread(const std::vector<double>& values) {
  if (values.empty()) return {};
  auto [lowest, highest] = std::minmax_element(values.begin(), values.end());
  return {.median = median(values), .min = *lowest, .max = *highest};
}

template <typename Field>
double median_of(const std::vector<const BenchRun*>& runs, Field field) {
  std::vector<double> values;
  for (const BenchRun* run : runs) values.push_back(static_cast<double>(run->*field));
  return median(std::move(values));
}

template <typename Field>
std::vector<double> values_of(const std::vector<const BenchRun*>& runs, Field field) {
  std::vector<double> values;
  for (const BenchRun* run : runs) values.push_back(static_cast<double>(run->*field));
  return values;
}

double round_to(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

std::string fixed(double value, int decimals) {
  std::ostringstream text;
  text.setf(std::ios::fixed);
  text.precision(decimals);
  text << value;
  return text.str();
}

// Decimals per measure: enough to tell pairs apart without noise digits. One table shared by every
// format, so csv and json carry the numbers the table shows.
constexpr int kWallDecimals = 3;
constexpr int kCpuDecimals = 2;
constexpr int kCpuPerPageDecimals = 3;
constexpr int kMemoryDecimals = 1;
constexpr int kLatencyDecimals = 1;
constexpr int kRatioDecimals = 2;

Value measured(const BenchPair& pair, double value, int decimals) {
  if (pair.runs == 0) return std::monostate{};
  return round_to(value, decimals);
}

Value measured_count(const BenchPair& pair, double value) {
  if (pair.runs == 0) return std::monostate{};
  return static_cast<int64_t>(std::llround(value));
}

Value range_text(const BenchPair& pair, const Spread& s, int decimals) {
  if (pair.runs == 0) return std::monostate{};
  return fixed(s.min, decimals) + "–" + fixed(s.max, decimals);
}

Value note_value(const BenchPair& pair) {
  if (pair.note.empty()) return std::monostate{};
  return pair.note;
}

// Wide enough to say what happened; bench_notes() below the table says it in full.
constexpr size_t kTableNoteWidth = 40;

Value short_note_value(const BenchPair& pair) {
  if (pair.note.size() <= kTableNoteWidth) return note_value(pair);
  size_t cut = kTableNoteWidth - 1;
  while (cut > 0 && (static_cast<unsigned char>(pair.note[cut]) & 0xC0) == 0x80) --cut;  // whole characters
  return pair.note.substr(0, cut) + "…";
}

void print_heading(const BenchReport& report, std::ostream& out) {
  const BenchInfo& info = report.info;
  int64_t urls = 0;
  for (const auto& pair : report.pairs) urls = std::max(urls, pair.urls);
  out << "bench " << info.id << " (" << info.status << "): " << info.workload;
  if (urls > 0) out << ", " << urls << " URLs";
  out << ", " << info.repeat << (info.repeat == 1 ? " run" : " interleaved runs") << " per pair, started "
      << info.started_at.substr(0, 19) << " UTC\n";
}

}  // namespace

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  if (values.size() % 2 == 1) return values[middle];
  return (values[middle - 1] + values[middle]) / 2;
}

BenchReport aggregate_bench(const BenchInfo& info, const std::vector<BenchRun>& runs,
                            const std::vector<BenchSkip>& skips) {
  BenchReport report{.info = info};
  // Runs went in the order given; a reader compares along rising concurrency.
  std::vector<int> concurrencies = info.concurrencies;
  std::sort(concurrencies.begin(), concurrencies.end());
  const std::vector<std::string> parsers = info.parsers.empty() ? std::vector<std::string>{""} : info.parsers;
  for (const auto& mode : info.modes) {
    for (const auto& parser : parsers) {
      for (int concurrency : concurrencies) {
        BenchPair pair{.mode = mode, .parser = parser, .concurrency = concurrency};
        const std::string label = pair_label(mode, parser);
        std::vector<const BenchRun*> completed;
        int unfinished = 0;
        for (const BenchRun& run : runs) {
          if (run.mode != mode || run.concurrency != concurrency || (!parser.empty() && run.parser != parser))
            continue;
          if (run.status == "completed")
            completed.push_back(&run);
          else
            ++unfinished;
        }
        pair.runs = static_cast<int>(completed.size());
        if (!completed.empty()) {
          const BenchRun& first = *completed.front();
          pair.layout = std::to_string(first.processes) + "x" + std::to_string(first.threads) + "x" +
                        std::to_string(first.fibers);
          pair.urls = std::llround(median_of(completed, &BenchRun::urls));
          pair.wall_s = spread(values_of(completed, &BenchRun::wall_s));
          pair.pages_per_s = spread(values_of(completed, &BenchRun::pages_per_s));
          pair.user_s = median_of(completed, &BenchRun::user_s);
          pair.sys_s = median_of(completed, &BenchRun::sys_s);
          std::vector<double> cpu_per_page, switches_per_page;
          for (const BenchRun* run : completed) {
            if (run->urls <= 0) continue;
            const auto urls = static_cast<double>(run->urls);
            cpu_per_page.push_back((run->user_s + run->sys_s) * 1000 / urls);
            switches_per_page.push_back(static_cast<double>(run->voluntary_ctx + run->involuntary_ctx) /
                                        urls);
          }
          pair.cpu_ms_per_page = median(cpu_per_page);
          pair.context_switches_per_page = median(switches_per_page);
          pair.peak_rss_mb = median_of(completed, &BenchRun::peak_rss_kb) / 1024;
          pair.voluntary_ctx = median_of(completed, &BenchRun::voluntary_ctx);
          pair.involuntary_ctx = median_of(completed, &BenchRun::involuntary_ctx);
          pair.p50_ms = median_of(completed, &BenchRun::p50_ms);
          pair.p99_ms = median_of(completed, &BenchRun::p99_ms);
          std::vector<double> per_host;
          for (const BenchRun* run : completed)
            if (run->connected_hosts > 0)
              per_host.push_back(static_cast<double>(run->connections) /
                                 static_cast<double>(run->connected_hosts));
          pair.connections_per_host = median(per_host);
          for (const BenchRun* run : completed) pair.failed += run->pages_failed;
        }
        for (const BenchSkip& skip : skips)
          if (skip.mode == label && skip.concurrency == concurrency)
            pair.note = (completed.empty() ? "skipped: " : "stopped: ") + skip.reason;
        if (pair.note.empty() && unfinished > 0)
          pair.note = std::to_string(unfinished) + (unfinished == 1 ? " run" : " runs") + " did not complete";
        report.pairs.push_back(std::move(pair));
      }
    }
  }
  double best = 0;
  for (const auto& pair : report.pairs)
    if (pair.runs > 0 && pair.wall_s.median > 0 && (best == 0 || pair.wall_s.median < best))
      best = pair.wall_s.median;
  for (auto& pair : report.pairs)
    if (pair.runs > 0 && best > 0) pair.vs_best = pair.wall_s.median / best;
  return report;
}

std::string pair_label(std::string_view mode, std::string_view parser) {
  return parser.empty() ? std::string(mode) : std::string(mode) + "/" + std::string(parser);
}

std::vector<std::string> series_labels(const BenchInfo& info) {
  std::vector<std::string> labels;
  for (const auto& mode : info.modes) {
    if (info.parsers.empty()) labels.push_back(mode);
    for (const auto& parser : info.parsers) labels.push_back(pair_label(mode, parser));
  }
  return labels;
}

std::vector<std::string> bench_notes(const BenchReport& report) {
  std::vector<std::string> notes;
  for (const auto& label : series_labels(report.info)) {
    std::vector<std::pair<std::string, std::string>> by_note;  // note, its concurrencies; first seen first
    for (const auto& pair : report.pairs) {
      if (pair_label(pair.mode, pair.parser) != label || pair.note.empty()) continue;
      auto same =
          std::find_if(by_note.begin(), by_note.end(), [&](const auto& n) { return n.first == pair.note; });
      if (same == by_note.end())
        by_note.emplace_back(pair.note, std::to_string(pair.concurrency));
      else
        same->second += ", " + std::to_string(pair.concurrency);
    }
    for (const auto& [note, concurrencies] : by_note)
      notes.push_back(label + " -c " + concurrencies + ": " + note);
  }
  return notes;
}

BenchReport load_bench_report(const std::string& db_path, std::string_view id) {
  const storage::StoredBench stored = storage::load_bench(db_path, id);
  return aggregate_bench(stored.info, stored.runs, stored.skips);
}

namespace {

// The measures every format shows alike, vs_best to failed, put before the row's last value (its
// note).
void insert_measures(std::vector<Value>& row, const BenchPair& p) {
  // Appended rather than inserted from an initializer list, where GCC 12 reports the variant's string
  // as maybe uninitialised.
  Value note = std::move(row.back());
  row.pop_back();
  for (Value measure :
       {measured(p, p.vs_best, kRatioDecimals), measured(p, p.user_s, kCpuDecimals),
        measured(p, p.sys_s, kCpuDecimals), measured(p, p.cpu_ms_per_page, kCpuPerPageDecimals),
        measured(p, p.peak_rss_mb, kMemoryDecimals), measured_count(p, p.voluntary_ctx),
        measured_count(p, p.involuntary_ctx), measured(p, p.p50_ms, kLatencyDecimals),
        measured(p, p.p99_ms, kLatencyDecimals), measured(p, p.connections_per_host, kRatioDecimals),
        p.runs == 0 ? Value{} : Value{p.failed}})
    row.push_back(std::move(measure));
  row.push_back(std::move(note));
}

}  // namespace

void print_bench_report(const BenchReport& report, Format format, std::ostream& out) {
  std::vector<std::vector<Value>> rows;
  if (format == Format::table) {
    print_heading(report, out);
    // The parser column only when the bench compares parsers.
    const bool parsers = !report.info.parsers.empty();
    for (const BenchPair& p : report.pairs) {
      rows.push_back({p.mode, int64_t{p.concurrency}, p.layout.empty() ? Value{} : Value{p.layout},
                      int64_t{p.runs}, measured(p, p.wall_s.median, kWallDecimals),
                      range_text(p, p.wall_s, kWallDecimals), measured_count(p, p.pages_per_s.median),
                      range_text(p, p.pages_per_s, 0), short_note_value(p)});
      insert_measures(rows.back(), p);
      if (parsers) rows.back().insert(rows.back().begin() + 1, Value{p.parser});
    }
    std::vector<std::string> columns = {"mode",       "c",           "layout",        "runs",    "wall_s",
                                        "wall_range", "pages/s",     "pages/s_range", "vs_best", "user_s",
                                        "sys_s",      "cpu_ms/page", "peak_mb",       "vol_ctx", "invol_ctx",
                                        "p50_ms",     "p99_ms",      "conn/host",     "failed",  "note"};
    if (parsers) columns.insert(columns.begin() + 1, "parser");
    print_rows(columns, rows, format, out);
    // The table only starts each note; a reason is worth reading whole.
    for (const std::string& note : bench_notes(report)) out << note << '\n';
    return;
  }
  for (const BenchPair& p : report.pairs) {
    rows.push_back({p.mode, p.parser.empty() ? Value{} : Value{p.parser}, int64_t{p.concurrency},
                    p.layout.empty() ? Value{} : Value{p.layout}, int64_t{p.runs},
                    p.runs == 0 ? Value{} : Value{p.urls}, measured(p, p.wall_s.median, kWallDecimals),
                    measured(p, p.wall_s.min, kWallDecimals), measured(p, p.wall_s.max, kWallDecimals),
                    measured_count(p, p.pages_per_s.median), measured_count(p, p.pages_per_s.min),
                    measured_count(p, p.pages_per_s.max), note_value(p)});
    insert_measures(rows.back(), p);
  }
  print_rows({"mode",
              "parser",
              "concurrency",
              "layout",
              "runs",
              "urls",
              "wall_s",
              "wall_min_s",
              "wall_max_s",
              "pages_per_s",
              "pages_per_s_min",
              "pages_per_s_max",
              "vs_best",
              "user_s",
              "sys_s",
              "cpu_ms_per_page",
              "peak_rss_mb",
              "voluntary_ctx",
              "involuntary_ctx",
              "p50_ms",
              "p99_ms",
              "connections_per_host",
              "failed",
              "note"},
             rows, format, out);
}

}  // namespace crawl::bench
