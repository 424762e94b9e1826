// The categories of what a crawl meets (common/error_category.hpp), and the one an HTTP status maps to.
#pragma once

#include "common/error_category.hpp"

namespace crawl {

// The category for an HTTP status that completed the transfer (none for 1xx–3xx; http_other for a
// status HTTP does not define, outside 100–599).
ErrorCategory category_for_status(long status);

}  // namespace crawl
