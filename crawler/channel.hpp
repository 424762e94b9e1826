// The bounded queues of the pipeline. boost::fibers::buffered_channel blocks only the calling fiber
// (or, on a thread with no other fibers, the thread) and is safe across threads, so one type serves
// fiber and thread producers alike.
#pragma once

#include <boost/fiber/buffered_channel.hpp>
#include <cstddef>

#include "crawler/page.hpp"

namespace crawl {

using PageChannel = boost::fibers::buffered_channel<Page>;
using TaskChannel = boost::fibers::buffered_channel<UrlTask>;

// buffered_channel needs a power-of-two capacity and holds one item less than it; this returns the
// capacity that holds at least `items`.
inline std::size_t channel_capacity_for(std::size_t items) {
  std::size_t c = 2;
  while (c - 1 < items) c *= 2;
  return c;
}

}  // namespace crawl
