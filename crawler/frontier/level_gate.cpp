#include "crawler/frontier/level_gate.hpp"

#include <algorithm>

namespace crawl {

LevelGate::LevelGate(int max_depth, int64_t max_pages)
    : max_pages_(max_pages),
      open_(static_cast<size_t>(std::max(max_depth, 0)) + 1, 0),
      waiting_(static_cast<size_t>(std::max(max_depth, 0)) + 1) {}

bool LevelGate::take() {
  if (spent()) return false;
  ++taken_;
  return true;
}

size_t LevelGate::clamp(int depth) const {
  return std::min(static_cast<size_t>(std::max(depth, 0)), open_.size() - 1);
}

void LevelGate::hold(UrlTask&& link) {
  waiting_[clamp(link.depth)].push_back(std::move(link));
}

void LevelGate::clear() {
  for (auto& b : waiting_) b.clear();
}

bool LevelGate::empty() const {
  return std::all_of(waiting_.begin(), waiting_.end(), [](const auto& b) { return b.empty(); });
}

}  // namespace crawl
