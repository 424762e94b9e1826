#include "urls/domain.hpp"

#include <libpsl.h>

#include <memory>

namespace crawl::urls {
namespace {

struct PslDeleter {
  void operator()(psl_ctx_t* ctx) const noexcept { psl_free(ctx); }
};

// The newer of libpsl's built-in list and the one the Debian `publicsuffix` package installs
// (psl_latest reads the latter, so updating that package updates the crawler's list without a
// rebuild). Loaded once; lookups on it are read-only and safe from any thread.
const psl_ctx_t* context() {
  static const std::unique_ptr<psl_ctx_t, PslDeleter> latest(psl_latest(nullptr));
  return latest ? latest.get() : psl_builtin();
}

bool is_ip_literal(std::string_view host) {
  return host.front() == '[' || host.find_first_not_of("0123456789.") == std::string_view::npos;
}

// The last two labels of `host`, or all of it when it has fewer.
std::string_view last_two_labels(std::string_view host) {
  const auto last = host.rfind('.');
  if (last == std::string_view::npos || last == 0) return host;
  const auto second = host.rfind('.', last - 1);
  return second == std::string_view::npos ? host : host.substr(second + 1);
}

}  // namespace

std::string registrable_domain(std::string_view host) {
  if (host.empty() || is_ip_literal(host)) return std::string(host);
  constexpr std::string_view kLocalhost = ".localhost";
  if (host == kLocalhost.substr(1) ||
      (host.size() > kLocalhost.size() && host.substr(host.size() - kLocalhost.size()) == kLocalhost))
    return std::string(last_two_labels(host));
  const psl_ctx_t* psl = context();
  if (!psl) return std::string(last_two_labels(host));  // libpsl built without any list
  const std::string name(host);                         // libpsl wants a terminated string
  const char* domain = psl_registrable_domain(psl, name.c_str());
  return domain ? std::string(domain) : name;  // null: the host is itself a public suffix
}

}  // namespace crawl::urls
