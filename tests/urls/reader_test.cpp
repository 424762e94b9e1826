#include "urls/reader.hpp"

#include <gtest/gtest.h>

#include "common/usage_error.hpp"
#include "tests/support/process.hpp"

namespace crawl::urls {
namespace {

std::vector<UrlLine> read_all(const ReaderInputs& in) {
  UrlReader reader(in);
  std::vector<UrlLine> out;
  UrlLine line;
  while (reader.next(line)) out.push_back(line);
  return out;
}

TEST(UrlReader, SkipsBlanksAndCommentsAndNumbersLines) {
  test::TempDir dir;
  test::write_file(
      dir.file("list.txt"),
      "\xEF\xBB\xBFhttp://a.example.test/\n\n  # a comment\n  http://b.example.test/x  \r\nnot a url at all\n"
      "ftp://c.example.test/\nhttp://d.example.test/");
  auto lines = read_all({.files = {dir.file("list.txt")}, .urls = {"https://e.example.test"}});
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0].url, "http://a.example.test/");
  EXPECT_EQ(lines[0].line, 1);
  EXPECT_EQ(lines[1].url, "http://b.example.test/x");
  EXPECT_EQ(lines[1].line, 4);
  EXPECT_EQ(lines[1].input, "http://b.example.test/x");
  EXPECT_TRUE(lines[2].url.empty());
  EXPECT_FALSE(lines[2].error.empty());
  EXPECT_EQ(lines[2].line, 5);
  EXPECT_NE(lines[3].error.find("ftp"), std::string::npos);
  EXPECT_EQ(lines[4].url, "http://d.example.test/");  // last line without a newline
  EXPECT_EQ(lines[5].source, "--url");
  EXPECT_EQ(lines[5].url, "https://e.example.test/");
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(lines[i].seq, static_cast<int64_t>(i));
}

TEST(UrlReader, CutsOverlongLinesAndReportsThem) {
  test::TempDir dir;
  test::write_file(dir.file("long.txt"),
                   "http://a.example.test/" + std::string(20000, 'x') + "\nhttp://b.example.test/\n");
  auto lines = read_all({.files = {dir.file("long.txt")}});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_FALSE(lines[0].error.empty());
  EXPECT_LE(lines[0].input.size(), 8192u + 4);
  EXPECT_EQ(lines[1].url, "http://b.example.test/");
  EXPECT_EQ(lines[1].line, 2);
}

TEST(UrlReader, MissingFileIsAUsageErrorNamingIt) {
  try {
    UrlReader reader({.files = {"/nonexistent/urls.txt"}});
    FAIL() << "expected a UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/urls.txt"), std::string::npos);
  }
}

// fopen opens a directory, and reading it fails at once: without a check it reads as an empty list.
TEST(UrlReader, ADirectoryIsAUsageErrorNamingIt) {
  test::TempDir dir;
  test::write_file(dir.file("list.txt"), "http://a.example.test/\n");
  try {
    UrlReader reader({.files = {dir.file("list.txt"), dir.path()}});
    FAIL() << "expected a UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.path() + "': it is a directory"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace crawl::urls
