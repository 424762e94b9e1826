// One shape for a page everywhere: the same run read through --jsonl and through crawl query in
// every format gives the same keys, in the same order, with the same values (NULL for what is not
// known, times in ISO 8601 UTC, ASCII); `crawl runs` names a run and its start the same way.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

using json = nlohmann::ordered_json;

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> objects;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) objects.push_back(json::parse(line));
  return objects;
}

std::vector<std::string> keys_of(const json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

TEST(OutputShape, APageReadsTheSameThroughJsonlAndEveryQueryFormat) {
  test::TempDir dir;
  auto testbed = test::Testbed::start();
  const std::string page = testbed.url("/page/1");
  test::write_file(dir.file("urls.txt"), page + "\n" + testbed.url("/status/404") + "\nnot a url\n" + page +
                                             "\nhttp://127.0.0.1:1/\n");
  const std::string db = dir.file("crawl.db");
  const auto run = test::run_crawl({"run", dir.file("urls.txt"), "--jsonl", dir.file("pages.jsonl"),
                                    "--retries", "0", "--db", db, "--no-progress"});
  ASSERT_EQ(run.exit_code, 0) << run.err;

  std::vector<json> streamed = json_lines(test::read_file(dir.file("pages.jsonl")));
  ASSERT_EQ(streamed.size(), 5u);
  std::sort(streamed.begin(), streamed.end(),
            [](const json& a, const json& b) { return a["seq"].get<int64_t>() < b["seq"].get<int64_t>(); });
  const std::string sql = "SELECT * FROM pages WHERE run_id = 1 ORDER BY seq";
  const auto lines = test::run_crawl({"query", "--db", db, "--format", "jsonl", sql});
  ASSERT_EQ(lines.exit_code, 0) << lines.err;
  std::vector<json> stored = json_lines(lines.out);
  ASSERT_EQ(stored.size(), streamed.size());
  for (size_t i = 0; i < stored.size(); ++i) {
    json row = stored[i];
    row.erase("id");  // the table's own key
    EXPECT_EQ(keys_of(row), keys_of(streamed[i])) << "seq " << i;
    EXPECT_EQ(row, streamed[i]) << "seq " << i << "\nstored   " << row.dump() << "\nstreamed "
                                << streamed[i].dump();
  }
  // What is not known is NULL: a line that is no URL has no URL, status or worker; the duplicate
  // was never fetched; neither has timings.
  EXPECT_TRUE(streamed[2]["url"].is_null());
  EXPECT_TRUE(streamed[2]["status"].is_null());
  EXPECT_TRUE(streamed[2]["worker"].is_null());
  EXPECT_EQ(streamed[3]["error"], "duplicate");
  EXPECT_TRUE(streamed[3]["fetched_at"].is_null());
  for (const char* timing : {"dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "total_ms", "queue_ms"}) {
    EXPECT_TRUE(streamed[2][timing].is_null()) << timing;
    EXPECT_TRUE(streamed[3][timing].is_null()) << timing;
  }
  EXPECT_TRUE(streamed[0]["total_ms"].is_number());
  EXPECT_TRUE(std::regex_match(streamed[0]["fetched_at"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << streamed[0]["fetched_at"];
  EXPECT_EQ(streamed[0]["run_id"], 1);

  const auto array = test::run_crawl({"query", "--db", db, "--format", "json", sql});
  ASSERT_EQ(array.exit_code, 0) << array.err;
  EXPECT_EQ(json::parse(array.out), json(stored));
  const auto csv = test::run_crawl({"query", "--db", db, "--format", "csv", sql});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  std::string header = "id";
  for (const auto& key : keys_of(streamed[0])) header += "," + key;
  EXPECT_EQ(csv.out.substr(0, csv.out.find('\n')), header);

  // crawl runs: the run is `run`, as the summary says; its start is ISO 8601 as the pages' times
  // are; the layout is ASCII.
  const auto runs = test::run_crawl({"runs", "--db", db, "--format", "jsonl"});
  ASSERT_EQ(runs.exit_code, 0) << runs.err;
  const std::vector<json> listed = json_lines(runs.out);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["run"], 1);
  EXPECT_TRUE(std::regex_match(listed[0]["started_at"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << listed[0];
  EXPECT_EQ(listed[0]["layout"], "1x1x64");
  // What it crawled, and no bench.
  EXPECT_EQ(listed[0]["crawled"], dir.file("urls.txt"));
  EXPECT_TRUE(listed[0]["bench"].is_null());
  ASSERT_EQ(test::run_crawl({"run", "--url", page, "--url", page + "?2", "--db", db, "-q"}).exit_code, 0);
  const std::vector<json> both = json_lines(test::run_crawl({"runs", "--db", db, "--format", "jsonl"}).out);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0]["crawled"], page + " +1 more");
  for (const auto& text : {runs.out, lines.out, csv.out, array.out})
    EXPECT_TRUE(std::all_of(text.begin(), text.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x80;
    })) << text;
}

}  // namespace
}  // namespace crawl
