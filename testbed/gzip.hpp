// gzip compression for /gzip responses (internal to the testbed).
#pragma once

#include <string>
#include <string_view>

namespace crawl::testbed {

// `data` compressed in the gzip format (RFC 1952) that Content-Encoding: gzip announces.
std::string gzip_compress(std::string_view data);

}  // namespace crawl::testbed
