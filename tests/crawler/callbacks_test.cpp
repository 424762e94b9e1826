#include "crawler/callbacks.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <stdexcept>

#include "tests/support/process.hpp"

namespace crawl {
namespace {

storage::PageRecord fetched_page(int64_t seq) {
  storage::PageRecord r;
  r.seq = seq;
  r.fetched_at = 1.0;
  r.body_bytes = 5;
  r.content_type = "text/html; charset=utf-8";
  return r;
}

std::shared_ptr<RunStamp> stamp(int64_t run_id, double started_at) {
  auto s = std::make_shared<RunStamp>();
  s->run_id = run_id;
  s->started_at = started_at;
  return s;
}

// The start time (runs.started_at without '-' and ':') tells apart the run 1 of two databases.
TEST(BodySaver, NamesFilesAfterTheRunsStartIdAndSeq) {
  EXPECT_EQ(body_file_name(*stamp(1, 1764648091.1234), 7, "text/html"), "20251202T040131.123Z-1-7.html");
  EXPECT_EQ(body_file_name(*stamp(12, 0.9996), 0, "image/png"), "19700101T000001.000Z-12-0.png");
}

// A file already there is never overwritten, and the body that could not be saved is not lost in
// silence: the callback throws OutputError, which stops the run.
TEST(BodySaver, AFileThatExistsIsAnOutputError) {
  test::TempDir dir;
  auto s = stamp(1, 1764648091.0);
  PageCallback save = make_body_saver(dir.path(), s);
  save(fetched_page(0), "hello");
  const std::string first = dir.file(body_file_name(*s, 0, "text/html"));
  EXPECT_EQ(test::read_file(first), "hello");
  try {
    save(fetched_page(0), "other");
    FAIL() << "overwrote " << first;
  } catch (const OutputError& e) {
    EXPECT_NE(std::string(e.what()).find(first), std::string::npos) << e.what();
  }
  EXPECT_EQ(test::read_file(first), "hello");
}

TEST(JsonlWriter, AWriteThatFailsIsAnOutputError) {
  PageCallback write = make_jsonl_writer("/dev/full", std::make_shared<RunStamp>());
  try {
    write(fetched_page(0), "");
    FAIL() << "a write to /dev/full succeeded";
  } catch (const OutputError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot write --jsonl file '/dev/full': No space left on device");
  }
}

TEST(CallbackPool, OutputErrorsAreKeptApartFromOtherFailures) {
  CallbackPool pool(2, 10);
  pool.submit([] { throw std::runtime_error("a user's callback failed"); });
  pool.drain();
  EXPECT_EQ(pool.failures(), 1);
  EXPECT_FALSE(pool.output_failed());

  CallbackPool output(1, 10);
  output.submit([] { throw OutputError("disk full"); });
  output.submit([] { throw OutputError("disk still full"); });
  output.drain();
  EXPECT_EQ(output.failures(), 2);
  EXPECT_TRUE(output.output_failed());
  EXPECT_EQ(output.output_failure(), "disk full");
}

// --print-urls: what each kind of row prints, in colour and not, and that text from the web
// cannot reach the terminal as escape codes.
TEST(UrlLine, PrintsEachKindOfRowAsHttpxDoes) {
  storage::PageRecord ok;
  ok.url = "http://a.test/";
  ok.status = 200;
  ok.body_bytes = 18234;
  ok.title = "Home";
  ok.timings.total_ms = 125.4;
  EXPECT_EQ(url_line(ok, false), "http://a.test/ [200] [18.2 kB] [Home] [125 ms]");
  EXPECT_EQ(url_line(ok, true), "http://a.test/ \033[32m[200]\033[0m [18.2 kB] [Home] [125 ms]");

  storage::PageRecord missing = ok;
  missing.status = 404;
  missing.error = ErrorCategory::http_4xx;
  missing.body_bytes = 512;
  missing.title = std::nullopt;
  EXPECT_EQ(url_line(missing, false), "http://a.test/ [404] [512 B] [125 ms]");
  EXPECT_EQ(url_line(missing, true), "http://a.test/ \033[31m[404]\033[0m [512 B] [125 ms]");

  storage::PageRecord refused;
  refused.url = "http://b.test/";
  refused.error = ErrorCategory::connect;
  refused.error_message = "Failed to connect";
  EXPECT_EQ(url_line(refused, false), "http://b.test/ [connect] [Failed to connect]");

  storage::PageRecord bad;
  bad.input = "not a url\x1b[2J";
  bad.error = ErrorCategory::bad_url;
  bad.error_message = "no host";
  EXPECT_EQ(url_line(bad, false), "not a url [2J [bad_url] [no host]");

  storage::PageRecord again = ok;
  again.error = ErrorCategory::duplicate;
  again.status = 0;
  EXPECT_EQ(url_line(again, false), "http://a.test/ [duplicate]");
  EXPECT_EQ(url_line(again, true), "http://a.test/ \033[2m[duplicate]\033[0m");

  storage::PageRecord hostile = ok;
  hostile.title = "Pwned\x1b]0;evil\x07 title";
  EXPECT_EQ(url_line(hostile, false), "http://a.test/ [200] [18.2 kB] [Pwned ]0;evil  title] [125 ms]");
}

}  // namespace
}  // namespace crawl
