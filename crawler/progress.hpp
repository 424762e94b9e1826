// The run's clock: every quarter second it runs the crawl's periodic checks and, with --progress,
// shows how far the crawl is on stderr: rewritten in place on a terminal, a plain line every few
// seconds (and one at the end) for a log.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "crawler/in_flight.hpp"
#include "crawler/tally.hpp"

namespace crawl {

// What the progress line says at one moment.
struct ProgressFigures {
  int64_t done = 0;
  int64_t failed = 0;
  int64_t in_flight = 0;
  int64_t total = -1;        // URLs the crawl holds: lines of the lists, links found (-1: not known)
  bool total_grows = false;  // links are followed: more may be found
  double rate = 0;           // pages/s over the last few seconds
  double elapsed_s = 0;
  double idle_s = 0;  // since a page last finished
  // When nothing has finished for a while: the fetch under way longest, and for how long.
  std::string oldest_url;
  double oldest_s = 0;
};

// "751/2000 done (3 failed), 1249 to do, 64 in flight, 993 pages/s, ETA 1.3 s, 0.8 s": the total,
// what is left and the ETA when they are known, and how long nothing has finished when that is
// long enough to wonder.
std::string progress_text(const ProgressFigures& figures);

// "12.3 s", "4 min 05 s", "2 h 03 min".
std::string short_duration(double seconds);

enum class ProgressStyle {
  none,      // no line; the periodic checks still run
  terminal,  // rewritten in place, cut to the terminal's width
  plain,     // a line of its own every kPlainEvery, and one at the end: no escape codes
};

struct ProgressSources {
  const Tally& tally;
  const InFlight& in_flight;
  // The URLs the crawl holds so far (-1: not known), and whether links are followed.
  std::function<int64_t()> total;
  bool follows_links = false;
};

class ProgressLine {
 public:
  static constexpr std::chrono::seconds kPlainEvery{5};
  static constexpr std::chrono::seconds kRateWindow{5};
  // `every_tick` runs on the line's thread every tick, shown or not.
  ProgressLine(ProgressStyle style, ProgressSources sources, std::function<void()> every_tick)
      : sources_(std::move(sources)), every_tick_(std::move(every_tick)), style_(style) {
    thread_ = std::thread([this] { loop(); });
  }
  ~ProgressLine() { stop(); }
  // Ends the ticks, and clears the line (terminal) or prints the last one (plain); idempotent.
  void stop();

 private:
  void loop();
  ProgressFigures figures(std::chrono::steady_clock::time_point now);

  ProgressSources sources_;
  std::function<void()> every_tick_;
  ProgressStyle style_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  // (when, pages done) over the last kRateWindow, oldest first: the rate is taken over them.
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> samples_;
  int64_t last_done_ = 0;
  std::chrono::steady_clock::time_point last_change_ = start_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace crawl
