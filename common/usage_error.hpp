// Thrown when the user's input cannot be used (a missing file, contradicting flags): main() prints
// its message on one line and exits with status 2. Crawl-time failures are data, never this.
#pragma once

#include <stdexcept>

namespace crawl {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace crawl
