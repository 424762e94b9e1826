// What the progress line says, for each thing it may or may not know.
#include "crawler/progress.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace crawl {
namespace {

TEST(ProgressText, WithAKnownTotalSaysWhatIsLeftAndWhenItEnds) {
  const ProgressFigures f{
      .done = 751, .failed = 3, .in_flight = 64, .total = 2000, .rate = 100, .elapsed_s = 7.5, .idle_s = 0};
  EXPECT_EQ(progress_text(f),
            "751/2000 done (3 failed), 1249 to do, 64 in flight, 100 pages/s, ETA 12.5 s, 7.5 s");
}

TEST(ProgressText, WithoutATotalSaysWhatItKnows) {
  const ProgressFigures f{
      .done = 751, .failed = 0, .in_flight = 64, .total = -1, .rate = 993, .elapsed_s = 0.8};
  EXPECT_EQ(progress_text(f), "751 done (0 failed), 64 in flight, 993 pages/s, 0.8 s");
}

// Links found so far make a total that grows: what is left is shown, an end is not.
TEST(ProgressText, FollowingLinksGivesNoEta) {
  const ProgressFigures f{
      .done = 40, .failed = 0, .in_flight = 8, .total = 100, .total_grows = true, .rate = 50, .elapsed_s = 1};
  EXPECT_EQ(progress_text(f), "40/100 done (0 failed), 60 to do, 8 in flight, 50 pages/s, 1.0 s");
}

// Nothing finished for a while, with fetches in flight: the line says since when, and the rate
// (over the last seconds) says 0 rather than an average of the whole run.
TEST(ProgressText, SaysHowLongNothingHasFinished) {
  const ProgressFigures f{
      .done = 10, .failed = 1, .in_flight = 2, .total = 12, .rate = 0, .elapsed_s = 70, .idle_s = 7.6};
  EXPECT_EQ(progress_text(f),
            "10/12 done (1 failed), 2 to do, 2 in flight, 0 pages/s, 1 min 10 s, none finished for 7.0 s");
  ProgressFigures quick = f;
  quick.idle_s = 4;
  EXPECT_EQ(progress_text(quick).find("none finished"), std::string::npos);
}

// With the fetch under way longest known, the line names it last (a narrow terminal cuts the URL,
// not the figures).
TEST(ProgressText, NamesTheFetchItWaitsFor) {
  ProgressFigures f{
      .done = 10, .failed = 0, .in_flight = 1, .total = 11, .rate = 0, .elapsed_s = 20, .idle_s = 9.4};
  f.oldest_url = "http://127.0.0.1:8080/delay/20000/page/1";
  f.oldest_s = 12.7;
  EXPECT_EQ(progress_text(f),
            "10/11 done (0 failed), 1 to do, 1 in flight, 0 pages/s, 20.0 s, none finished for "
            "9.0 s; oldest 12.0 s: http://127.0.0.1:8080/delay/20000/page/1");
}

TEST(InFlight, CountsFetchesAndKnowsTheOneUnderWayLongest) {
  InFlight in_flight;
  const auto now = [] { return std::chrono::steady_clock::now(); };
  EXPECT_EQ(in_flight.count(), 0);
  EXPECT_FALSE(in_flight.oldest(now()).has_value());
  in_flight.begin(7, "http://127.0.0.1:8080/page/7");
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  in_flight.begin(3, "http://127.0.0.1:8080/page/3");
  in_flight.begin(9, "http://127.0.0.1:8080/page/9");
  EXPECT_EQ(in_flight.count(), 3);
  auto oldest = in_flight.oldest(now());
  ASSERT_TRUE(oldest.has_value());
  EXPECT_EQ(oldest->url, "http://127.0.0.1:8080/page/7");
  EXPECT_GE(oldest->seconds, 0.005);
  in_flight.end(7);
  in_flight.end(7);  // ended twice (a dead worker's task, then its page): counted once
  in_flight.end(42);
  EXPECT_EQ(in_flight.count(), 2);
  oldest = in_flight.oldest(now());
  ASSERT_TRUE(oldest.has_value());
  EXPECT_TRUE(oldest->url == "http://127.0.0.1:8080/page/3" || oldest->url == "http://127.0.0.1:8080/page/9")
      << oldest->url;
  in_flight.end(3);
  in_flight.end(9);
  EXPECT_EQ(in_flight.count(), 0);
  EXPECT_FALSE(in_flight.oldest(now()).has_value());
}

TEST(ShortDuration, ReadsAtEveryScale) {
  EXPECT_EQ(short_duration(0), "0.0 s");
  EXPECT_EQ(short_duration(12.34), "12.3 s");
  EXPECT_EQ(short_duration(245), "4 min 05 s");
  EXPECT_EQ(short_duration(7380), "2 h 03 min");
  EXPECT_EQ(short_duration(-1), "0.0 s");
}

}  // namespace
}  // namespace crawl
