// `crawl bench` as a user meets it: a small comparison on its own testbed, the runs it stores, the
// table printed again from the database in every format, a chart that really renders, skipped pairs,
// a stop with SIGTERM, and one-line errors for bad flags.
#include <signal.h>
#include <sys/resource.h>
#include <zlib.h>

#include <gtest/gtest.h>

#include <dirent.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/db.hpp"
#include "tests/support/process.hpp"

namespace crawl {
namespace {

using test::query_int;
using test::query_rows;
using test::run_crawl;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> fields;
  std::istringstream in(line);
  for (std::string field; in >> field;) fields.push_back(field);
  return fields;
}

// Split on commas; the bench CSV quotes nothing but the notes, which these tests do not split.
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (size_t comma; (comma = line.find(',', start)) != std::string::npos; start = comma + 1)
    fields.push_back(line.substr(start, comma - start));
  fields.push_back(line.substr(start));
  return fields;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// An 8-bit RGB or RGBA PNG (what rsvg-convert writes) decoded to pixels: enough to look at a chart's
// colours.
struct Image {
  uint32_t width = 0, height = 0;
  size_t channels = 0;  // 3: RGB, 4: RGBA
  std::vector<uint8_t> pixels;
};

uint32_t big_endian(const std::string& bytes, size_t at) {
  return (uint32_t(uint8_t(bytes[at])) << 24) | (uint32_t(uint8_t(bytes[at + 1])) << 16) |
         (uint32_t(uint8_t(bytes[at + 2])) << 8) | uint32_t(uint8_t(bytes[at + 3]));
}

Image decode_png(const std::string& png) {
  Image image;
  if (png.size() < 8 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) throw std::runtime_error("not a PNG");
  std::string compressed;
  int colour_type = -1, depth = 0;
  for (size_t at = 8; at + 8 <= png.size();) {
    const uint32_t length = big_endian(png, at);
    const std::string type = png.substr(at + 4, 4);
    if (type == "IHDR") {
      image.width = big_endian(png, at + 8);
      image.height = big_endian(png, at + 12);
      depth = uint8_t(png[at + 16]);
      colour_type = uint8_t(png[at + 17]);
    } else if (type == "IDAT") {
      compressed += png.substr(at + 8, length);
    }
    at += 12 + length;
  }
  if (depth != 8 || (colour_type != 2 && colour_type != 6)) throw std::runtime_error("expected 8-bit RGB(A)");
  image.channels = colour_type == 6 ? 4 : 3;
  const size_t bpp = image.channels;
  const size_t stride = size_t(image.width) * bpp;
  std::vector<uint8_t> raw((stride + 1) * image.height);
  uLongf raw_size = raw.size();
  if (uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(compressed.data()),
                 compressed.size()) != Z_OK)
    throw std::runtime_error("corrupt image data");
  image.pixels.assign(stride * image.height, 0);
  for (size_t y = 0; y < image.height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* out = &image.pixels[y * stride];
    const uint8_t* up = y ? &image.pixels[(y - 1) * stride] : nullptr;
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= bpp ? out[i - bpp] : 0, b = up ? up[i] : 0, c = (up && i >= bpp) ? up[i - bpp] : 0;
      int predicted = 0;
      switch (filter) {
        case 1:
          predicted = a;
          break;
        case 2:
          predicted = b;
          break;
        case 3:
          predicted = (a + b) / 2;
          break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          predicted = (pa <= pb && pa <= pc) ? a : pb <= pc ? b : c;
          break;
        }
      }
      out[i] = uint8_t(in[i] + predicted);
    }
  }
  return image;
}

size_t pixels_of_colour(const Image& image, uint8_t r, uint8_t g, uint8_t b) {
  size_t n = 0;
  const auto& p = image.pixels;
  for (size_t i = 0; i + image.channels <= p.size(); i += image.channels)
    if (p[i] == r && p[i + 1] == g && p[i + 2] == b && (image.channels == 3 || p[i + 3] == 255)) ++n;
  return n;
}

constexpr const char* kRsvgConvert = "/usr/bin/rsvg-convert";

TEST(Bench, ComparesModesOnItsOwnTestbedAndStoresEveryRun) {
  test::TempDir dir;
  const std::string db = dir.file("bench.db"), chart = dir.file("bench.svg");
  // hybrid -c 3 cannot be split over 2 threads: a pair skipped before it starts.
  auto r =
      run_crawl({"bench", "--testbed", "--pages", "50", "--modes", "fiber,thread,hybrid", "-c", "8,2,3",
                 "--hybrid-threads", "2", "--repeat", "2", "--db", db, "--chart", chart, "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;

  // Every runnable pair ran --repeat times, each a full crawl of the 50 pages, tagged with the bench.
  const auto bench = query_rows(db, "select id, status, repeat, modes, concurrencies from benches");
  ASSERT_EQ(bench.size(), 1u);
  const std::string id = *bench[0].at("id");
  EXPECT_EQ(*bench[0].at("status"), "completed");
  EXPECT_EQ(*bench[0].at("modes"), "fiber,thread,hybrid");
  EXPECT_EQ(*bench[0].at("concurrencies"), "8,2,3");
  // It says where it stored the results and drew the chart.
  EXPECT_NE(r.err.find("bench " + id + " stored in " + db + " (crawl runs --db " + db + " --bench " + id +
                       " shows it again); chart written to " + chart + "\n"),
            std::string::npos)
      << r.err;
  // crawl runs tells the bench's runs apart.
  EXPECT_NE(run_crawl({"runs", "--db", db, "--format", "csv"}).out.find("," + id + ","), std::string::npos);
  // 3 modes × 3 concurrencies, less the skipped pair, × 2 repeats.
  const int runs = (3 * 3 - 1) * 2;
  EXPECT_EQ(query_int(db, "select count(*) from runs"), runs);
  EXPECT_EQ(query_int(db, "select count(*) from runs where bench_id = '" + id + "'"), runs);
  EXPECT_EQ(
      query_int(db, "select count(*) from runs where urls = 50 and pages_ok = 50 and status = 'completed'"),
      runs);
  EXPECT_EQ(query_int(db, "select count(*) from pages"), runs * 50);
  for (const char* pair : {"'fiber', 8", "'fiber', 2", "'fiber', 3", "'thread', 8", "'thread', 2",
                           "'thread', 3", "'hybrid', 8", "'hybrid', 2"})
    EXPECT_EQ(
        query_int(db, std::string("select count(*) from runs where (mode, concurrency) = (") + pair + ")"), 2)
        << pair;
  EXPECT_EQ(query_int(db, "select count(*) from runs where mode = 'hybrid' and threads = 2 and fibers = 4"),
            2);
  // Interleaved: the first three runs are three different pairs.
  EXPECT_EQ(
      query_int(db,
                "select count(distinct mode || concurrency) from (select * from runs order by id limit 3)"),
      3);
  EXPECT_EQ(query_int(db, "select count(*) from runs where command_line like '%--no-progress%'"), runs);
  auto skips = query_rows(db, "select mode, concurrency, reason from bench_skips");
  ASSERT_EQ(skips.size(), 1u);
  EXPECT_EQ(*skips[0].at("mode"), "hybrid");
  EXPECT_EQ(*skips[0].at("concurrency"), "3");

  // The table: a heading, column names, a rule, one line per pair (rising -c), a count and the note.
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 1u + 2 + 9 + 1 + 1) << r.out;
  EXPECT_EQ(lines[0].rfind("bench " + id + " (completed): testbed, no latency, 50 URLs", 0), 0u) << lines[0];
  const auto header = fields_of(lines[1]);
  EXPECT_EQ(header,
            (std::vector<std::string>{"mode",       "c",           "layout",        "runs",    "wall_s",
                                      "wall_range", "pages/s",     "pages/s_range", "vs_best", "user_s",
                                      "sys_s",      "cpu_ms/page", "peak_mb",       "vol_ctx", "invol_ctx",
                                      "p50_ms",     "p99_ms",      "conn/host",     "failed",  "note"}));
  const std::vector<std::pair<std::string, std::string>> expected_rows = {
      {"fiber", "2"},  {"fiber", "3"},  {"fiber", "8"},  {"thread", "2"}, {"thread", "3"},
      {"thread", "8"}, {"hybrid", "2"}, {"hybrid", "3"}, {"hybrid", "8"}};
  double best_ratio = 1e9;
  for (size_t i = 0; i < expected_rows.size(); ++i) {
    const auto fields = fields_of(lines[3 + i]);
    SCOPED_TRACE(lines[3 + i]);
    ASSERT_GE(fields.size(), 2u);
    EXPECT_EQ(fields[0], expected_rows[i].first);
    EXPECT_EQ(fields[1], expected_rows[i].second);
    if (expected_rows[i] == std::pair<std::string, std::string>{"hybrid", "3"}) {
      EXPECT_EQ(fields[2], "0");  // no layout, no runs
      EXPECT_EQ(fields[3], "skipped:");
      continue;
    }
    ASSERT_EQ(fields.size(), header.size() - 1);  // no note
    EXPECT_EQ(fields[3], "2");
    best_ratio = std::min(best_ratio, std::stod(fields[8]));
    EXPECT_GE(std::stod(fields[8]), 1.0);
    EXPECT_EQ(fields[18], "0");  // failed pages
    // One plain HTTP/1.1 host: a connection per fetch in flight at most, at least one.
    EXPECT_GE(std::stod(fields[17]), 1.0);
    EXPECT_LE(std::stod(fields[17]), std::stod(expected_rows[i].second));
  }
  EXPECT_EQ(best_ratio, 1.0);
  EXPECT_EQ(lines[12], "(9 rows)");
  EXPECT_EQ(lines[13].rfind("hybrid -c 3: skipped: -c 3 is not a multiple of 2 threads", 0), 0u) << lines[13];

  // The same table again from the database.
  auto again = run_crawl({"runs", "--db", db, "--bench", "latest"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, r.out);
  auto by_id = run_crawl({"runs", "--db", db, "--bench", id});
  EXPECT_EQ(by_id.out, r.out);

  // CSV: the medians are those of the runs table, computed here independently.
  auto csv = run_crawl({"runs", "--db", db, "--bench", "latest", "--format", "csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  const auto csv_lines = lines_of(csv.out);
  ASSERT_EQ(csv_lines.size(), 10u) << csv.out;
  const auto columns = csv_fields(csv_lines[0]);
  auto column = [&](const std::string& name) {
    return static_cast<size_t>(std::find(columns.begin(), columns.end(), name) - columns.begin());
  };
  ASSERT_LT(column("wall_s"), columns.size());
  ASSERT_LT(column("peak_rss_mb"), columns.size());
  for (size_t i = 1; i < csv_lines.size(); ++i) {
    const auto row = csv_fields(csv_lines[i]);
    SCOPED_TRACE(csv_lines[i]);
    const std::string mode = row[column("mode")], c = row[column("concurrency")];
    const std::string where = "from runs where mode = '" + mode + "' and concurrency = " + c;
    std::vector<double> walls, rss, per_host;
    for (auto& run : query_rows(db, "select wall_s, peak_rss_kb, connections, connected_hosts " + where)) {
      walls.push_back(std::stod(*run.at("wall_s")));
      rss.push_back(std::stod(*run.at("peak_rss_kb")));
      per_host.push_back(std::stod(*run.at("connections")) / std::stod(*run.at("connected_hosts")));
    }
    if (mode == "hybrid" && c == "3") {
      EXPECT_TRUE(walls.empty());
      EXPECT_EQ(row[column("runs")], "0");
      EXPECT_EQ(row[column("wall_s")], "");
      continue;
    }
    ASSERT_EQ(walls.size(), 2u);
    EXPECT_NEAR(std::stod(row[column("wall_s")]), median(walls), 0.0005 + 1e-9);
    EXPECT_NEAR(std::stod(row[column("wall_min_s")]), *std::min_element(walls.begin(), walls.end()),
                0.0005 + 1e-9);
    EXPECT_NEAR(std::stod(row[column("wall_max_s")]), *std::max_element(walls.begin(), walls.end()),
                0.0005 + 1e-9);
    EXPECT_NEAR(std::stod(row[column("peak_rss_mb")]), median(rss) / 1024, 0.05 + 1e-9);
    EXPECT_NEAR(std::stod(row[column("connections_per_host")]), median(per_host), 0.005 + 1e-9);
    EXPECT_EQ(row[column("urls")], "50");
  }

  // JSON: one object per pair, carrying the same numbers as the CSV.
  auto json = run_crawl({"runs", "--db", db, "--bench", "latest", "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto objects = nlohmann::json::parse(json.out);
  ASSERT_EQ(objects.size(), 9u);
  for (size_t i = 0; i < objects.size(); ++i) {
    const auto row = csv_fields(csv_lines[i + 1]);
    EXPECT_EQ(objects[i]["mode"], row[column("mode")]);
    EXPECT_EQ(std::to_string(objects[i]["concurrency"].get<int>()), row[column("concurrency")]);
    if (objects[i]["runs"] == 0) {
      EXPECT_TRUE(objects[i]["wall_s"].is_null());
      EXPECT_NE(objects[i]["note"].get<std::string>().find("skipped: "), std::string::npos);
    } else {
      EXPECT_DOUBLE_EQ(objects[i]["wall_s"].get<double>(), std::stod(row[column("wall_s")]));
      EXPECT_TRUE(objects[i]["note"].is_null());
    }
  }

  // The chart: well-formed XML that renders to a picture showing each mode's colour.
  auto xml = test::run_process(
      {"/usr/bin/python3", "-c", "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])", chart});
  EXPECT_EQ(xml.exit_code, 0) << xml.err;
  ASSERT_TRUE(std::filesystem::exists(kRsvgConvert)) << "install librsvg2-bin (scripts/setup)";
  const std::string png = dir.file("bench.png");
  auto render = test::run_process({kRsvgConvert, "--output", png, chart});
  ASSERT_EQ(render.exit_code, 0) << render.err;
  const Image image = decode_png(test::read_file(png));
  EXPECT_EQ(image.width, 1000u);
  EXPECT_GT(image.height, 500u);
  // Each mode's lines and markers in both panels: a legend entry alone (a mode with nothing to draw)
  // is about 75 pixels of its colour.
  EXPECT_GT(pixels_of_colour(image, 0x1f, 0x77, 0xb4), 150u) << "fiber";
  EXPECT_GT(pixels_of_colour(image, 0xe6, 0x73, 0x0f), 150u) << "thread";
  EXPECT_GT(pixels_of_colour(image, 0x9c, 0x4f, 0xbd), 150u) << "hybrid";
  const size_t white = pixels_of_colour(image, 255, 255, 255);
  EXPECT_GT(white, image.width * image.height / 2);
  EXPECT_LT(white, image.width * image.height * 98 / 100);
}

// --parsers: each mode once per parser, the parser in every run's row and in the report, a line of
// its own in the chart.
TEST(Bench, ComparesParsersInEachModeAndRecordsTheParserOfEveryRun) {
  test::TempDir dir;
  const std::string db = dir.file("bench.db"), chart = dir.file("bench.svg");
  auto r = run_crawl({"bench", "--testbed", "--pages", "30", "--modes", "fiber,thread", "--parsers",
                      "libxml2,gumbo", "-c", "2,4", "--repeat", "2", "--db", db, "--chart", chart,
                      "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(query_int(db, "select count(*) from benches where parsers = 'libxml2,gumbo'"), 1);
  // 2 modes × 2 parsers × 2 repeats, each run with its parser, all 30 pages parsed.
  // 2 modes × 2 parsers × 2 concurrencies × 2 repeats, each run with its parser, all 30 pages parsed.
  EXPECT_EQ(query_int(db, "select count(*) from runs where status = 'completed' and pages_ok = 30"), 16);
  for (const char* mode : {"fiber", "thread"})
    for (const char* parser : {"gumbo", "libxml2"})
      EXPECT_EQ(
          query_int(db, std::string("select count(*) from runs where mode = '") + mode + "' and parser = '" +
                            parser + "' and command_line like '%--parser " + parser + "%'"),
          4)
          << mode << " " << parser;
  // Interleaved: the first eight runs are the eight (mode, parser, concurrency) triples.
  EXPECT_EQ(
      query_int(db,
                "select count(distinct mode || parser || concurrency) from (select * from runs order by "
                "id limit 8)"),
      8);

  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 1u + 2 + 8 + 1) << r.out;
  const auto header = fields_of(lines[1]);
  ASSERT_GE(header.size(), 3u);
  EXPECT_EQ(header[0], "mode");
  EXPECT_EQ(header[1], "parser");
  EXPECT_EQ(header[2], "c");
  // Each (mode, parser) with its concurrencies rising.
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"fiber", "libxml2"}, {"fiber", "gumbo"}, {"thread", "libxml2"}, {"thread", "gumbo"}};
  for (size_t i = 0; i < 2 * expected.size(); ++i) {
    const auto fields = fields_of(lines[3 + i]);
    ASSERT_GE(fields.size(), 4u) << lines[3 + i];
    const auto& [mode, parser] = expected[i / 2];
    const std::string c = i % 2 == 0 ? "2" : "4";
    EXPECT_EQ(fields[0], mode);
    EXPECT_EQ(fields[1], parser);
    EXPECT_EQ(fields[2], c);
    EXPECT_EQ(fields[3], mode == "fiber" ? "1x1x" + c : "1x" + c + "x1") << lines[3 + i];  // layout
  }

  // Machine formats carry the parser, and each row's median is that of its own parser's runs.
  auto json = run_crawl({"runs", "--db", db, "--bench", "latest", "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto objects = nlohmann::json::parse(json.out);
  ASSERT_EQ(objects.size(), 8u);
  for (size_t i = 0; i < objects.size(); ++i) {
    const auto& [mode, parser] = expected[i / 2];
    EXPECT_EQ(objects[i]["mode"], mode);
    EXPECT_EQ(objects[i]["parser"], parser);
    const int c = objects[i]["concurrency"].get<int>();
    std::vector<double> walls, cpu_per_page;
    for (auto& run : query_rows(
             db, "select wall_s, (user_s + sys_s) * 1000 / urls as cpu from runs where mode = '" + mode +
                     "' and parser = '" + parser + "' and concurrency = " + std::to_string(c))) {
      walls.push_back(std::stod(*run.at("wall_s")));
      cpu_per_page.push_back(std::stod(*run.at("cpu")));
    }
    EXPECT_NEAR(objects[i]["wall_s"].get<double>(), median(walls), 0.0005 + 1e-9);
    EXPECT_NEAR(objects[i]["cpu_ms_per_page"].get<double>(), median(cpu_per_page), 0.0005 + 1e-9);
  }

  // One chart line per (mode, parser), named in the legend.
  const std::string svg = test::read_file(chart);
  for (const char* label : {"fiber/libxml2", "fiber/gumbo", "thread/libxml2", "thread/gumbo"})
    EXPECT_NE(svg.find(std::string(">") + label + "<"), std::string::npos) << label;
  ASSERT_TRUE(std::filesystem::exists(kRsvgConvert)) << "install librsvg2-bin (scripts/setup)";
  auto render = test::run_process({kRsvgConvert, "--output", dir.file("bench.png"), chart});
  ASSERT_EQ(render.exit_code, 0) << render.err;
  const Image image = decode_png(test::read_file(dir.file("bench.png")));
  // Each line in both panels, beside its legend entry (a dotted legend swatch alone is under 75
  // pixels of its colour).
  EXPECT_GT(pixels_of_colour(image, 0x1f, 0x77, 0xb4), 150u) << "fiber, the first parser";
  EXPECT_GT(pixels_of_colour(image, 0x0b, 0x3d, 0x62), 150u) << "fiber, the second parser";

  // A run without parsing records no parser.
  ASSERT_EQ(run_crawl({"run", "--url", "http://127.0.0.1:1/", "--no-parse", "--db", db}).exit_code, 0);
  EXPECT_EQ(query_int(db, "select count(*) from runs where bench_id is null and parser is null"), 1);
}

TEST(Bench, APairThatCrawlRunRefusesIsSkippedWithItsMessage) {
  rlimit files{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &files), 0);
  if (files.rlim_max == RLIM_INFINITY || files.rlim_max > 1'000'000)
    GTEST_SKIP() << "no open-files limit to hit";
  const std::string too_many = std::to_string(files.rlim_max + 100);
  test::TempDir dir;
  const std::string db = dir.file("bench.db");
  auto r = run_crawl({"bench", "--testbed", "--pages", "20", "--modes", "fiber", "-c", "2," + too_many,
                      "--repeat", "2", "--db", db, "--format", "csv", "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  // Tried once, then no more: a pair that fails once would fail again.
  EXPECT_EQ(query_int(db, "select count(*) from runs"), 2);
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  // mode, parser (none: parsers not compared), concurrency, layout (none), runs
  EXPECT_EQ(lines[2].rfind("fiber,," + too_many + ",,0,", 0), 0u) << lines[2];
  EXPECT_NE(lines[2].find("skipped: -c " + too_many + " in fiber mode needs about"), std::string::npos)
      << lines[2];
  EXPECT_NE(lines[2].find("open files"), std::string::npos) << lines[2];
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) children.push_back(std::stoi(name));
  }
  return children;
}

TEST(Bench, SigtermStopsTheRunningCrawlAndTheTestbedAndKeepsWhatRan) {
  test::TempDir dir;
  const std::string db = dir.file("bench.db");
  // 40 pages × 200 ms at -c 2: a run takes about 4 s, so the signal lands in the middle of one.
  test::Child bench({test::crawl_binary(), "bench", "--testbed", "--pages", "40", "--latency", "200ms",
                     "--modes", "fiber", "-c", "2", "--repeat", "3", "--db", db, "--no-progress"});
  // Signalled once the first run has stored a page: then its run row is there, made once its stop
  // handlers are in place, and its fetches are under way. Its process having started, and a second
  // more, say neither on a loaded machine: the SIGTERM the bench passes on would kill a crawl that
  // has no handlers yet, and no run would be recorded as interrupted.
  ASSERT_TRUE(test::wait_for_count(db, "select count(*) from pages", 1)) << "the first run stored no page";
  const std::vector<pid_t> children = children_of(bench.pid());
  ASSERT_EQ(children.size(), 2u) << "expected the testbed and a crawl run";
  EXPECT_EQ(bench.stop(SIGTERM, std::chrono::seconds(20)), 130);
  for (pid_t child : children) EXPECT_NE(kill(child, 0), 0) << "child " << child << " outlived the bench";
  EXPECT_EQ(query_int(db, "select count(*) from benches where status = 'interrupted'"), 1);
  EXPECT_EQ(query_int(db, "select count(*) from runs where status = 'interrupted'"), 1);
  // The table of what ran is still printed.
  EXPECT_NE(bench.rest_of_output().find("(interrupted)"), std::string::npos);
}

TEST(Bench, BadUsageIsOneLineAndExitTwo) {
  test::TempDir dir;
  test::write_file(dir.file("urls.txt"), "http://127.0.0.1:1/\n");
  const std::string db = dir.file("x.db");
  // A database with a run but no bench yet.
  ASSERT_EQ(run_crawl({"run", "--url", "http://127.0.0.1:1/", "--db", db}).exit_code, 0);
  const std::vector<std::vector<std::string>> cases = {
      {"bench", "--testbed", "--modes", "fiber,coroutine"},
      {"bench", "--testbed", "-c", "0"},
      {"bench", "--testbed", "-c", "10,abc"},
      {"bench", "--testbed", "--repeat", "0"},
      {"bench"},
      {"bench", dir.file("urls.txt"), "--testbed"},
      {"bench", dir.file("missing.txt")},
      {"bench", "-"},
      {"bench", "--testbed", "--latency", "soon"},
      {"bench", "--testbed", "--timeout", "soon"},
      {"bench", "--testbed", "--format", "xml"},
      {"bench", "--testbed", "--parsers", "gumbo,html5ever"},
      {"bench", "--testbed", "--parsers", "libxml2,libxml2"},
      {"bench", "--testbed", "--parsers", "gumbo,libxml2", "--no-parse"},
      {"bench", "--testbed", "--chart", dir.file("no/such/dir/c.svg")},
      {"runs", "--bench", "latest"},  // no bench in the database yet
      {"runs", "--chart", dir.file("c.svg")},
  };
  for (const auto& args : cases) {
    std::vector<std::string> full = args;
    full.insert(full.end(), {"--db", db});
    auto r = run_crawl(full);
    SCOPED_TRACE(testing::PrintToString(args) + " said: " + r.err);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
    EXPECT_EQ(r.err.rfind("crawl: ", 0), 0u);
    EXPECT_EQ(r.out, "");
  }
}

}  // namespace
}  // namespace crawl
