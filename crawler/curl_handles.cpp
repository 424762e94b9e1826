#include "crawler/curl_handles.hpp"

#include <curl/curl.h>

#include <new>

namespace crawl::curl {

void EasyCleanup::operator()(CURL* easy) const noexcept {
  curl_easy_cleanup(easy);
}

void MultiCleanup::operator()(CURLM* multi) const noexcept {
  curl_multi_cleanup(multi);
}

void ShareCleanup::operator()(CURLSH* share) const noexcept {
  curl_share_cleanup(share);
}

void ListFree::operator()(curl_slist* list) const noexcept {
  curl_slist_free_all(list);
}

EasyHandle make_easy() {
  EasyHandle easy(curl_easy_init());
  if (!easy) throw std::bad_alloc();
  return easy;
}

MultiHandle make_multi() {
  MultiHandle multi(curl_multi_init());
  if (!multi) throw std::bad_alloc();
  return multi;
}

ShareHandle make_share() {
  ShareHandle share(curl_share_init());
  if (!share) throw std::bad_alloc();
  return share;
}

HeaderList make_header_list(const std::vector<std::string>& lines) {
  HeaderList list;
  for (const auto& line : lines) {
    // libcurl appends in place and returns the head, which is new only for the first line; on
    // failure the list stays as it was, still owned by `list`.
    curl_slist* head = curl_slist_append(list.get(), line.c_str());
    if (!head) throw std::bad_alloc();
    if (!list) list.reset(head);
  }
  return list;
}

}  // namespace crawl::curl
