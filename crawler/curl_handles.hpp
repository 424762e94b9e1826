// Typed owners of libcurl's handles: each handle kind has one owner that frees it, however its
// holder's constructor or life ends. Callers do not include curl.h: libcurl's handle types are void
// (CURL, CURLM, CURLSH) or an incomplete struct (curl_slist), and only the .cpp calls libcurl.
#pragma once

#include <memory>
#include <string>
#include <vector>

// Same as curl.h's own typedefs.
using CURL = void;
using CURLM = void;
using CURLSH = void;
struct curl_slist;

namespace crawl::curl {

struct EasyCleanup {
  void operator()(CURL* easy) const noexcept;
};
struct MultiCleanup {
  void operator()(CURLM* multi) const noexcept;
};
struct ShareCleanup {
  void operator()(CURLSH* share) const noexcept;
};
struct ListFree {
  void operator()(curl_slist* list) const noexcept;
};

using EasyHandle = std::unique_ptr<CURL, EasyCleanup>;
using MultiHandle = std::unique_ptr<CURLM, MultiCleanup>;
using ShareHandle = std::unique_ptr<CURLSH, ShareCleanup>;
using HeaderList = std::unique_ptr<curl_slist, ListFree>;

// Each throws std::bad_alloc when libcurl cannot make the handle (its only reason to fail).
EasyHandle make_easy();
MultiHandle make_multi();
ShareHandle make_share();
// The lines as a libcurl header list; null for no lines.
HeaderList make_header_list(const std::vector<std::string>& lines);

}  // namespace crawl::curl
