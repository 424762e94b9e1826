#include "crawler/errors.hpp"

namespace crawl {

std::string_view category_for_status(long status) {
  if (status < 100 || status > 599) return category::kHttpOther;
  if (status >= 500) return category::kHttp5xx;
  if (status >= 400) return category::kHttp4xx;
  return {};
}

}  // namespace crawl
