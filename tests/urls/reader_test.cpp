#include "urls/reader.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <stop_token>
#include <thread>

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

// Counted ahead for the progress line: as many lines as the reader returns of the list, whatever
// its blanks, comments, byte order mark, CRLFs and last line; a named pipe (which opening would wait
// on, and reading would consume) and a missing file are not counted.
TEST(CountUrlLines, CountsWhatTheReaderReturns) {
  test::TempDir dir;
  const std::string text =
      "\xEF\xBB\xBFhttp://a.example.test/\n\n  # a comment\n  http://b.example.test/x  \r\nnot a url at all\n"
      " \t \r\n#http://commented.example.test/\nftp://c.example.test/\nhttp://d.example.test/";
  test::write_file(dir.file("list.txt"), text);
  EXPECT_EQ(count_url_lines(dir.file("list.txt")),
            static_cast<int64_t>(read_all({.files = {dir.file("list.txt")}}).size()));
  EXPECT_EQ(count_url_lines(dir.file("list.txt")), 5);
  test::write_file(dir.file("empty.txt"), "");
  EXPECT_EQ(count_url_lines(dir.file("empty.txt")), 0);
  EXPECT_EQ(count_url_lines(dir.file("missing.txt")), -1);
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  EXPECT_EQ(count_url_lines(dir.file("fifo")), -1);
  std::stop_source stopped;
  stopped.request_stop();
  EXPECT_EQ(count_url_lines(dir.file("list.txt"), stopped.get_token()), -1);
}

// A line without a scheme is read as http:// when it names a host, and is an error naming the
// reason when it is a bare word; an internationalised host is read in punycode.
TEST(UrlReader, ReadsSchemelessLinesOnlyWhenTheyNameAHost) {
  test::TempDir dir;
  test::write_file(dir.file("list.txt"),
                   "le\n127.0.0.1:8080/p/1\nbücher.localhost/x\nfoo/bar\nexample.test:81\n");
  auto lines = read_all({.files = {dir.file("list.txt")}});
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0].url, "");
  EXPECT_NE(lines[0].error.find("no scheme"), std::string::npos) << lines[0].error;
  EXPECT_EQ(lines[1].url, "http://127.0.0.1:8080/p/1");
  EXPECT_EQ(lines[2].url, "http://xn--bcher-kva.localhost/x");
  EXPECT_EQ(lines[2].input, "bücher.localhost/x");
  EXPECT_NE(lines[3].error.find("no scheme"), std::string::npos) << lines[3].error;
  EXPECT_EQ(lines[4].url, "http://example.test:81/");
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

// positions() names the last URL line returned and where it ends, so that going on from there
// repeats no line and misses none; a list read to its end is finished.
TEST(UrlReader, PositionsSayHowFarEachListWasRead) {
  test::TempDir dir;
  const std::string text = "http://a.example.test/\n# c\n\nhttp://b.example.test/\n# trailing\n";
  test::write_file(dir.file("list.txt"), text);
  UrlReader reader({.files = {dir.file("list.txt")}, .urls = {"http://c.example.test/"}});
  UrlLine line;
  ASSERT_TRUE(reader.next(line));
  auto p = reader.positions();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].lines, 1);
  EXPECT_EQ(p[0].bytes, 23);
  EXPECT_FALSE(p[0].finished);
  EXPECT_EQ(p[0].size, static_cast<int64_t>(text.size()));
  EXPECT_EQ(p[1].source, "--url");
  EXPECT_EQ(p[1].lines, 0);
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(line.line, 4);
  p = reader.positions();
  EXPECT_EQ(p[0].lines, 4);
  EXPECT_EQ(p[0].bytes, static_cast<int64_t>(text.find("# trailing")));
  ASSERT_TRUE(reader.next(line));  // the --url value
  EXPECT_FALSE(reader.next(line));
  p = reader.positions();
  EXPECT_TRUE(p[0].finished);
  EXPECT_EQ(p[0].lines, 5);
  EXPECT_EQ(p[0].bytes, static_cast<int64_t>(text.size()));
  EXPECT_TRUE(p[1].finished);
  EXPECT_EQ(p[1].lines, 1);
}

// A line that never ends (/dev/zero) is read a buffer at a time: interrupt() from another thread
// makes next() return false at once, with nothing returned and the list not finished.
TEST(UrlReader, InterruptEndsAnEndlessLine) {
  UrlReader reader({.files = {"/dev/zero"}});
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    reader.interrupt();
  });
  UrlLine line;
  EXPECT_FALSE(reader.next(line));
  stopper.join();
  EXPECT_TRUE(reader.interrupted());
  auto p = reader.positions();
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].lines, 0);
  EXPECT_FALSE(p[0].finished);
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
