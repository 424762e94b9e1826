#include "crawler/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/clock.hpp"
#include "common/thread_name.hpp"

namespace crawl {
namespace {

// Nothing finished for this long, with fetches in flight, is worth saying.
constexpr double kQuietAfterS = 5;

// Columns of the terminal on stderr; 0 when not known.
int terminal_width() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) != 0) return 0;
  return size.ws_col;
}

}  // namespace

std::string short_duration(double seconds) {
  char text[48];
  if (!(seconds >= 0)) seconds = 0;
  if (seconds < 60) {
    std::snprintf(text, sizeof text, "%.1f s", seconds);
  } else if (seconds < 3600) {
    const auto s = static_cast<long long>(std::llround(seconds));
    std::snprintf(text, sizeof text, "%lld min %02lld s", s / 60, s % 60);
  } else {
    const auto m = static_cast<long long>(std::llround(seconds / 60));
    std::snprintf(text, sizeof text, "%lld h %02lld min", m / 60, m % 60);
  }
  return text;
}

std::string progress_text(const ProgressFigures& f) {
  std::string text = std::to_string(f.done);
  if (f.total >= 0) text += "/" + std::to_string(std::max(f.total, f.done));
  text += " done (" + std::to_string(f.failed) + " failed)";
  const int64_t to_do = f.total >= 0 ? std::max<int64_t>(0, f.total - f.done) : -1;
  if (to_do >= 0) text += ", " + std::to_string(to_do) + " to do";
  text += ", " + std::to_string(f.in_flight) + " in flight";
  char rate[32];
  std::snprintf(rate, sizeof rate, ", %.0f pages/s", f.rate);
  text += rate;
  // Only a total that cannot grow gives an end to count down to.
  if (to_do > 0 && !f.total_grows && f.rate > 0) text += ", ETA " + short_duration(to_do / f.rate);
  text += ", " + short_duration(f.elapsed_s);
  if (f.in_flight > 0 && f.idle_s >= kQuietAfterS) {
    text += ", none finished for " + short_duration(std::floor(f.idle_s));
    // Last, so that a terminal too narrow for the URL cuts only the URL.
    if (!f.oldest_url.empty())
      text += "; oldest " + short_duration(std::floor(f.oldest_s)) + ": " + f.oldest_url;
  }
  return text;
}

ProgressFigures ProgressLine::figures(std::chrono::steady_clock::time_point now) {
  ProgressFigures f;
  f.done = sources_.tally.done();
  f.failed = sources_.tally.failed();
  f.in_flight = sources_.in_flight.count();
  f.total = sources_.total ? sources_.total() : -1;
  f.total_grows = sources_.follows_links;
  f.elapsed_s = seconds_between(start_, now);
  if (f.done != last_done_) {
    last_done_ = f.done;
    last_change_ = now;
  }
  f.idle_s = seconds_between(last_change_, now);
  if (f.idle_s >= kQuietAfterS) {
    if (auto oldest = sources_.in_flight.oldest(now)) {
      f.oldest_url = std::move(oldest->url);
      f.oldest_s = oldest->seconds;
    }
  }
  samples_.emplace_back(now, f.done);
  while (samples_.size() > 2 && now - samples_[1].first >= kRateWindow) samples_.pop_front();
  const double span = seconds_between(samples_.front().first, now);
  f.rate = span > 0 ? static_cast<double>(f.done - samples_.front().second) / span : 0;
  return f;
}

void ProgressLine::stop() {
  {
    std::lock_guard lock(mutex_);
    if (done_) return;
    done_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (style_ == ProgressStyle::terminal) std::fputs("\r\033[K", stderr);
  if (style_ == ProgressStyle::plain)
    std::fprintf(stderr, "progress: %s\n", progress_text(figures(std::chrono::steady_clock::now())).c_str());
}

void ProgressLine::loop() {
  name_this_thread("crawl-progress");
  auto next_plain = start_ + kPlainEvery;
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, std::chrono::milliseconds(250), [&] { return done_; })) {
    every_tick_();
    const auto now = std::chrono::steady_clock::now();
    if (style_ == ProgressStyle::none) continue;
    const ProgressFigures f = figures(now);
    if (style_ == ProgressStyle::plain) {
      if (now < next_plain) continue;
      next_plain = now + kPlainEvery;
      std::fprintf(stderr, "progress: %s\n", progress_text(f).c_str());
      std::fflush(stderr);
      continue;
    }
    std::string text = progress_text(f);
    // A line longer than the terminal would wrap, and \r would then rewrite only its last row.
    if (const int width = terminal_width(); width > 1 && text.size() >= static_cast<size_t>(width))
      text.resize(static_cast<size_t>(width) - 1);
    std::fprintf(stderr, "\r\033[K%s", text.c_str());
    std::fflush(stderr);
  }
}

}  // namespace crawl
