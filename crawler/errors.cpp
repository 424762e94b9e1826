#include "crawler/errors.hpp"

namespace crawl {

std::string_view category_for_status(long status) {
  if (status >= 500) return category::kHttp5xx;
  if (status >= 400) return category::kHttp4xx;
  return {};
}

}  // namespace crawl
