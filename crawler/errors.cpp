#include "crawler/errors.hpp"

namespace crawl {

ErrorCategory category_for_status(long status) {
  if (status < 100 || status > 599) return ErrorCategory::http_other;
  if (status >= 500) return ErrorCategory::http_5xx;
  if (status >= 400) return ErrorCategory::http_4xx;
  return ErrorCategory::none;
}

}  // namespace crawl
