// The registrable domain of a host name (what --scope domain compares), from the public suffix
// list through libpsl.
#pragma once

#include <string>
#include <string_view>

namespace crawl::urls {

// The registrable domain of a lower-case host name: the public suffix it ends in plus one label,
// as the public suffix list (ICANN and private sections) defines it. "a.b.example.co.uk" →
// "example.co.uk", "alice.github.io" → "alice.github.io". Special cases, each its own domain:
// - an IP literal ("127.0.0.1", "[::1]") is its own domain;
// - a host that is itself a public suffix ("co.uk", "github.io") or a single label is its own
//   domain;
// - "localhost" and names under it: "localhost" is treated as a top-level suffix whatever the
//   list says, so "w0.h3.localhost" → "h3.localhost" (RFC 6761 keeps the name off the internet,
//   and the list does not mention it).
// Names under a suffix the list does not know ("h3.test") fall under its implicit "*" rule: the
// last label is the suffix.
std::string registrable_domain(std::string_view host);

}  // namespace crawl::urls
