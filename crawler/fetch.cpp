#include "crawler/fetch.hpp"

#include <curl/curl.h>
#include <sys/resource.h>

#include <cerrno>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <new>

#include "common/text.hpp"
#include "crawler/errors.hpp"

namespace crawl {
namespace {

double seconds_since_epoch() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string http_version_name(long version) {
  switch (version) {
    case CURL_HTTP_VERSION_1_0:
      return "1.0";
    case CURL_HTTP_VERSION_1_1:
      return "1.1";
    case CURL_HTTP_VERSION_2_0:
      return "2";
    case CURL_HTTP_VERSION_3:
      return "3";
    default:
      return {};
  }
}

// The value of the last response's header `name` (the final one after redirects), as sent; empty
// when it has none. A header sent twice gives its last value, as a cache would keep.
std::string last_header(CURL* easy, const char* name) {
  curl_header* header = nullptr;
  if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &header) != CURLHE_OK || !header) return {};
  if (header->amount > 1 &&
      curl_easy_header(easy, name, header->amount - 1, CURLH_HEADER, -1, &header) != CURLHE_OK)
    return {};
  return header->value;
}

// Every value of the last response's header `name`, joined as one list ("gzip, br" for two lines),
// as HTTP reads a header sent more than once (RFC 9110, 5.3); empty when it has none.
std::string all_header_values(CURL* easy, const char* name) {
  curl_header* header = nullptr;
  std::string values;
  for (size_t i = 0; curl_easy_header(easy, name, i, CURLH_HEADER, -1, &header) == CURLHE_OK && header; ++i) {
    // libcurl 7.88 gives an empty header's value as its line's "\r".
    std::string_view value = header->value;
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.remove_suffix(1);
    if (!values.empty()) values += ", ";
    values += value;
    if (i + 1 >= header->amount) break;
  }
  return values;
}

// A 304's row: the earlier run's status and facts, this answer's validators where it sent them.
void carry_forward(const storage::EarlierPage& earlier, storage::PageRecord& r) {
  r.not_modified = true;
  r.status = earlier.status;
  r.error = ErrorCategory::none;
  r.error_message.clear();
  r.content_type = earlier.content_type;
  r.charset = earlier.charset;
  r.wire_bytes = earlier.wire_bytes;
  r.body_bytes = earlier.body_bytes;
  r.text_bytes = earlier.text_bytes;
  r.title = earlier.title;
  r.link_count = earlier.link_count;
  r.body_hash = earlier.body_hash;
  if (r.etag.empty()) r.etag = earlier.etag;
  if (r.last_modified.empty()) r.last_modified = earlier.last_modified;
}

double info_ms(CURL* easy, CURLINFO what) {
  curl_off_t us = 0;
  curl_easy_getinfo(easy, what, &us);
  return static_cast<double>(us) / 1000.0;
}

// One place turns libcurl's result codes into the categories rows are stored with.
ErrorCategory category_for(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return ErrorCategory::dns;
    case CURLE_COULDNT_CONNECT:
      return ErrorCategory::connect;
    case CURLE_OPERATION_TIMEDOUT:
      return ErrorCategory::timeout;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return ErrorCategory::reset;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
      return ErrorCategory::tls;
    case CURLE_TOO_MANY_REDIRECTS:
      return ErrorCategory::too_many_redirects;
    case CURLE_FILESIZE_EXCEEDED:
      return ErrorCategory::too_large;
    case CURLE_BAD_CONTENT_ENCODING:
      return ErrorCategory::decode;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_RANGE_ERROR:
      return ErrorCategory::protocol;
    case CURLE_URL_MALFORMAT:
      return ErrorCategory::bad_url;
    case CURLE_ABORTED_BY_CALLBACK:
      return ErrorCategory::interrupted;
    default:
      return ErrorCategory::other;
  }
}

// Whether a megabyte can be had now: tells libcurl's 7.88 header-line limit, which it reports as
// CURLE_OUT_OF_MEMORY, from a real shortage. Only asked on that rare failure.
Memory memory_now() {
  void* block = std::malloc(1 << 20);
  // Through a volatile the compiler must keep the allocation it could otherwise drop with its free.
  static void* volatile probe;
  probe = block;
  std::free(probe);
  return block ? Memory::kAvailable : Memory::kShort;
}

// Whether any variable libcurl reads a proxy from is set. libcurl looks them up (several getenv
// calls, each a scan of the environment) for every request that has no proxy set.
bool proxy_in_environment() {
  static const bool set = [] {
    for (const char* name :
         {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"})
      if (const char* value = std::getenv(name); value && *value) return true;
    return false;
  }();
  return set;
}

}  // namespace

TransferFailure transfer_failure(int curl_code, std::string_view error_text, Memory memory) {
  const auto rc = static_cast<CURLcode>(curl_code);
  std::string message = curl_easy_strerror(rc);
  if (!error_text.empty() && error_text != message) message += std::string(": ").append(error_text);
  switch (rc) {
    case CURLE_RECV_ERROR:
      // libcurl words every chunk-size and framing error "<what> in chunked-encoding"; the same server
      // sends the same broken body again, so this is not a reset (and is not retried). Its own
      // allocation failure while unchunking is worded the same way, and is not the server's doing.
      if (error_text.ends_with(" in chunked-encoding")) {
        if (error_text.starts_with("Out of memory")) return {ErrorCategory::other, std::move(message)};
        return {ErrorCategory::protocol, "malformed chunked body: " + std::string(error_text)};
      }
      // Debian's 7.88 carries the later limit on all response headers (300 KB), reported this way.
      if (error_text.starts_with("Too large response headers"))
        return {ErrorCategory::too_large,
                "response headers larger than libcurl accepts (300 KB in all): " + std::string(error_text)};
      break;
    case CURLE_OUT_OF_MEMORY:
      // libcurl 7.88 gives up on a header line over CURL_MAX_HTTP_HEADER with this code and no text.
      if (error_text.empty() && memory == Memory::kAvailable)
        return {ErrorCategory::too_large, "a response header line larger than libcurl accepts (" +
                                              std::to_string(CURL_MAX_HTTP_HEADER / 1024) +
                                              " KB; libcurl reports it as \"Out of memory\")"};
      break;
#if LIBCURL_VERSION_NUM >= 0x080600
    case CURLE_TOO_LARGE:  // libcurl 8.6 and later name the header limits by their own code
      return {ErrorCategory::too_large, std::move(message)};
#endif
    case CURLE_ABORTED_BY_CALLBACK:
      return {ErrorCategory::interrupted, "the run was interrupted during the fetch"};
    case CURLE_URL_MALFORMAT:
      // The URL fetched was checked before: what could not be parsed is where the server sent it.
      if (error_text.find("redirect") != std::string_view::npos)
        return {ErrorCategory::protocol,
                "the server redirected to a URL that cannot be parsed: " + std::string(error_text)};
      break;
    default:
      break;
  }
  return {category_for(rc), std::move(message)};
}

void apply_safety_defaults(CURL* easy, const FetchOptions& options) {
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  // Only http and https, for the first request and every redirect.
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L);
  TlsHook::uncounted(options.trust, options.verify_tls).apply(easy);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options.user_agent.c_str());
  if (!options.proxy.empty())
    curl_easy_setopt(easy, CURLOPT_PROXY, options.proxy.c_str());
  else if (!proxy_in_environment())
    curl_easy_setopt(easy, CURLOPT_PROXY, "");  // no proxy: the same as libcurl would find, found once
}

CurlShare::CurlShare() : share_(curl::make_share()) {
  curl_share_setopt(share_.get(), CURLSHOPT_LOCKFUNC, &CurlShare::lock);
  curl_share_setopt(share_.get(), CURLSHOPT_UNLOCKFUNC, &CurlShare::unlock);
  curl_share_setopt(share_.get(), CURLSHOPT_USERDATA, this);
  curl_share_setopt(share_.get(), CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(share_.get(), CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

CurlShare::~CurlShare() = default;

void CurlShare::lock(CURL*, int data, int, void* self) noexcept {
  static_cast<CurlShare*>(self)->locks_[static_cast<unsigned>(data) % 8].lock();
}

void CurlShare::unlock(CURL*, int data, void* self) noexcept {
  static_cast<CurlShare*>(self)->locks_[static_cast<unsigned>(data) % 8].unlock();
}

Transfer::Transfer(const FetchOptions& options, CURLSH* share, const std::atomic<bool>* stop,
                   StartListener* starts)
    : options_(options),
      stop_(stop),
      starts_(starts),
      easy_(curl::make_easy()),
      tls_hook_(options.trust, options.verify_tls, &handshakes_) {
  curl_easy_setopt(easy_.get(), CURLOPT_ERRORBUFFER, error_buffer_);
  curl_easy_setopt(easy_.get(), CURLOPT_WRITEFUNCTION, &Transfer::on_body);
  curl_easy_setopt(easy_.get(), CURLOPT_WRITEDATA, this);
  // Bodies arrive as sent and are decoded in on_body (crawler/content_decoder.hpp): libcurl 7.88
  // takes a compressed stream that stops before its end for a whole body.
  curl_easy_setopt(easy_.get(), CURLOPT_HTTP_CONTENT_DECODING, 0L);
  curl_easy_setopt(easy_.get(), CURLOPT_XFERINFOFUNCTION, &Transfer::on_progress);
  curl_easy_setopt(easy_.get(), CURLOPT_XFERINFODATA, this);
  curl_easy_setopt(easy_.get(), CURLOPT_NOPROGRESS, stop_ ? 0L : 1L);
  // Every transfer hears when its first request goes out: the row's fetched_at is that moment.
  curl_easy_setopt(easy_.get(), CURLOPT_PREREQFUNCTION, &Transfer::on_request);
  curl_easy_setopt(easy_.get(), CURLOPT_PREREQDATA, this);
  apply_safety_defaults(easy_.get(), options_);
  tls_hook_.apply(easy_.get());  // counts this handle's handshakes into the page
  curl_easy_setopt(easy_.get(), CURLOPT_MAXREDIRS, static_cast<long>(options_.max_redirects));
  curl_easy_setopt(easy_.get(), CURLOPT_AUTOREFERER, 1L);
  if (options_.buffer_size > 0) curl_easy_setopt(easy_.get(), CURLOPT_BUFFERSIZE, options_.buffer_size);
  if (share) curl_easy_setopt(easy_.get(), CURLOPT_SHARE, share);
  // libcurl formats its User-Agent and Accept-Encoding headers anew for every request (an
  // allocation and a few reallocations each); given as fixed lines of the header list they are only
  // copied. A header the user gave (--header) wins, as it would over libcurl's own. Through a proxy
  // libcurl's User-Agent stays: the list does not reach a proxy's CONNECT.
  std::vector<std::string> lines = options_.headers;
  auto given = [&](std::string_view name) {
    return std::any_of(options_.headers.begin(), options_.headers.end(), [&](const std::string& h) {
      return h.size() > name.size() && h[name.size()] == ':' &&
             iequals(std::string_view(h).substr(0, name.size()), name);
    });
  };
  if (options_.proxy.empty() && !proxy_in_environment() && !given("User-Agent")) {
    curl_easy_setopt(easy_.get(), CURLOPT_USERAGENT, nullptr);
    if (!options_.user_agent.empty()) lines.push_back("User-Agent: " + options_.user_agent);
  }
  if (!given("Accept-Encoding")) lines.push_back("Accept-Encoding: " + std::string(decodable_codings()));
  headers_ = curl::make_header_list(lines);
  if (headers_) curl_easy_setopt(easy_.get(), CURLOPT_HTTPHEADER, headers_.get());
  header_lines_ = std::move(lines);
  // An empty file name turns on libcurl's cookie engine without reading any file.
  if (options_.cookies) curl_easy_setopt(easy_.get(), CURLOPT_COOKIEFILE, "");
}

Transfer::~Transfer() = default;

void Transfer::begin(UrlTask&& task, std::string_view worker) {
  task_ = std::move(task);
  worker_.assign(worker);
  body_.clear();
  body_bytes_ = 0;
  too_large_ = false;
  cut_ = false;
  out_of_memory_ = false;
  coding_known_ = false;
  decoder_.reset();
  error_buffer_[0] = '\0';
  started_unix_ = seconds_since_epoch();
  start_told_ = false;
  handshakes_ = {};
  hash_.reset();
  ask_conditionally();
  curl_easy_setopt(easy_.get(), CURLOPT_URL, task_.url.c_str());
}

void Transfer::ask_conditionally() {
  const storage::EarlierPage* earlier = nullptr;
  if (options_.since) {
    const auto found = options_.since->find(task_.url);
    if (found != options_.since->end()) earlier = &found->second;
    if (earlier && task_.depth < options_.follow_depth &&
        earlier->content_type.find("html") != std::string::npos)
      earlier = nullptr;
  }
  if (earlier == nullptr) {
    if (earlier_ != nullptr) curl_easy_setopt(easy_.get(), CURLOPT_HTTPHEADER, headers_.get());
    earlier_ = nullptr;
    return;
  }
  earlier_ = earlier;
  // Both when both are known: a server that honours If-None-Match ignores the other (RFC 9110, 13.2.2).
  std::vector<std::string> lines = header_lines_;
  if (!earlier->etag.empty()) lines.push_back("If-None-Match: " + earlier->etag);
  if (!earlier->last_modified.empty()) lines.push_back("If-Modified-Since: " + earlier->last_modified);
  conditional_headers_ = curl::make_header_list(lines);
  curl_easy_setopt(easy_.get(), CURLOPT_HTTPHEADER, conditional_headers_.get());
}

int Transfer::on_request(void* self, char*, char*, int, int) noexcept {
  auto* t = static_cast<Transfer*>(self);
  // Only the first request counts: a redirect's follow-up is part of the same fetch.
  if (t->start_told_) return CURL_PREREQFUNC_OK;
  t->start_told_ = true;
  if (t->connects_) t->connects_->connected(t->easy_.get());
  // The row records the very moment --delay is counted from, so the stored start times show that
  // the delay was kept, whatever the load on the machine or the server.
  const auto now = std::chrono::steady_clock::now();
  t->started_unix_ = seconds_since_epoch();
  if (t->task_.report_start && t->starts_) t->starts_->started(t->task_.seq, now);
  return CURL_PREREQFUNC_OK;
}

size_t Transfer::on_body(char* data, size_t size, size_t count, void* self) noexcept {
  auto* t = static_cast<Transfer*>(self);
  const size_t n = size * count;
  // The first bytes of the body: its headers are all here, and say how it is coded.
  if (!t->coding_known_) {
    t->coding_known_ = true;
    const std::string coding = all_header_values(t->easy_.get(), "Content-Encoding");
    if (!coding.empty()) {
      try {
        auto decoder = std::make_unique<ContentDecoder>(coding);
        if (!decoder->identity()) t->decoder_ = std::move(decoder);
      } catch (const std::bad_alloc&) {
        t->out_of_memory_ = true;
        return 0;
      }
    }
    // A body as sent that announces more than --max-size is refused before it arrives. A coded one's
    // length says nothing of its decoded size, which write() counts (as it counts bodies without a
    // Content-Length), so libcurl's CURLOPT_MAXFILESIZE, which reads that header alone, is not used.
    curl_off_t announced = -1;
    if (!t->decoder_ && !t->options_.cut_at_max_body &&
        curl_easy_getinfo(t->easy_.get(), CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) == CURLE_OK &&
        announced > t->options_.max_body_bytes) {
      t->too_large_ = true;
      return 0;
    }
  }
  if (!t->decoder_) return t->write(data, n) ? n : 0;
  // 0 stops libcurl (CURLE_WRITE_ERROR): the data is not valid in its coding, or write() wants no more.
  return t->decoder_->feed({data, n}, *t) ? n : 0;
}

bool Transfer::write(const char* data, size_t n) {
  const int64_t total = body_bytes_ + static_cast<int64_t>(n);
  if (total > options_.max_body_bytes && options_.cut_at_max_body) {
    const auto fits = static_cast<size_t>(options_.max_body_bytes - body_bytes_);
    body_bytes_ = options_.max_body_bytes;
    cut_ = true;
    hash_.update(data, fits);
    if (options_.keep_body) {
      try {
        body_.append(data, fits);
      } catch (const std::bad_alloc&) {
        out_of_memory_ = true;
      }
    }
    return false;  // the rest is not wanted: libcurl stops with CURLE_WRITE_ERROR, which finish() forgives
  }
  if (total > options_.max_body_bytes) {
    // The row's body_bytes stay what was taken before the limit: never more than --max-size.
    too_large_ = true;
    return false;
  }
  body_bytes_ = total;
  hash_.update(data, n);
  if (options_.keep_body) {
    try {
      // The body is made as large as its Content-Length says (within the limit) before its first
      // bytes: grown by doubling instead, a 1 MB page is copied twice more, into fresh pages of memory.
      // A coded body's length is not the decoded one's, and is no guide.
      if (body_.empty() && !decoder_) {
        curl_off_t announced = -1;
        if (curl_easy_getinfo(easy_.get(), CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) == CURLE_OK &&
            announced > 0)
          body_.reserve(static_cast<size_t>(std::min<int64_t>(announced, options_.max_body_bytes)));
      }
      body_.append(data, n);
    } catch (const std::bad_alloc&) {
      out_of_memory_ = true;
      return false;
    }
  }
  return true;
}

int Transfer::on_progress(void* self, int64_t, int64_t, int64_t, int64_t) noexcept {
  auto* t = static_cast<Transfer*>(self);
  return t->stop_ && t->stop_->load(std::memory_order_relaxed) ? 1 : 0;
}

int Transfer::perform() {
  return curl_easy_perform(easy_.get());
}

void Transfer::finish_into(std::vector<Page>& out, int curl_code) {
  out.push_back(finish(curl_code));
}

Page Transfer::finish(int curl_code) {
  // A body cut at the limit on purpose arrived as far as it was wanted.
  auto rc =
      cut_ && !out_of_memory_ && curl_code == CURLE_WRITE_ERROR ? CURLE_OK : static_cast<CURLcode>(curl_code);
  // A coded body is whole when its coded stream ended, not merely when the connection delivered all
  // the bytes it announced: a server or cache that cut the stream short still frames it correctly.
  std::string decode_failure;
  if (decoder_ && !decoder_->error().empty())
    decode_failure = decoder_->error();
  else if (decoder_ && rc == CURLE_OK && !cut_ && !decoder_->complete())
    decode_failure = "the " + std::string(decoder_->unfinished_coding()) +
                     " stream stops before its end: the body was cut short (" + std::to_string(body_bytes_) +
                     " bytes decoded)";
  if (!decode_failure.empty()) rc = CURLE_BAD_CONTENT_ENCODING;
  Page page;
  auto& r = page.record;
  r.attempts = task_.attempt;
  take_task_fields(page, std::move(task_));
  r.worker = worker_;
  r.fetched_at = started_unix_;

  long status = 0;
  curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &status);
  r.status = status;
  char* final_url = nullptr;
  // Left empty when it is the URL itself (most pages): the consumer fills it in (see Page), so the
  // copy is made there rather than on the fetching thread.
  if (curl_easy_getinfo(easy_.get(), CURLINFO_EFFECTIVE_URL, &final_url) == CURLE_OK && final_url &&
      status > 0 && r.url != final_url)
    r.final_url = final_url;
  char* content_type = nullptr;
  if (curl_easy_getinfo(easy_.get(), CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK && content_type)
    r.content_type = content_type;
  long redirects = 0;
  curl_easy_getinfo(easy_.get(), CURLINFO_REDIRECT_COUNT, &redirects);
  r.redirects = static_cast<int>(redirects);
  curl_off_t wire = 0;
  curl_easy_getinfo(easy_.get(), CURLINFO_SIZE_DOWNLOAD_T, &wire);
  r.wire_bytes = wire;
  r.body_bytes = body_bytes_;
  long connects = 0;
  curl_easy_getinfo(easy_.get(), CURLINFO_NUM_CONNECTS, &connects);
  r.connections.opened = static_cast<int>(connects);
  r.connections.tls_full = static_cast<int>(handshakes_.full);
  r.connections.tls_resumed = static_cast<int>(handshakes_.resumed);
  long http_version = 0;
  if (status > 0 && curl_easy_getinfo(easy_.get(), CURLINFO_HTTP_VERSION, &http_version) == CURLE_OK)
    r.http_version = http_version_name(http_version);
  char* ip = nullptr;
  if (curl_easy_getinfo(easy_.get(), CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip) r.server_ip = ip;
  if (status > 0) {
    r.etag = last_header(easy_.get(), "ETag");
    r.last_modified = last_header(easy_.get(), "Last-Modified");
  }
  curl_off_t retry_after = -1;
  if (curl_easy_getinfo(easy_.get(), CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0)
    page.retry_after_s = retry_after;

  // libcurl reports each phase as time since the start; rows store how long each phase took.
  const double dns = info_ms(easy_.get(), CURLINFO_NAMELOOKUP_TIME_T);
  const double connect = info_ms(easy_.get(), CURLINFO_CONNECT_TIME_T);
  const double tls = info_ms(easy_.get(), CURLINFO_APPCONNECT_TIME_T);
  r.timings.dns_ms = dns;
  r.timings.connect_ms = connect > dns ? connect - dns : 0;
  r.timings.tls_ms = tls > connect ? tls - connect : 0;
  r.timings.ttfb_ms = info_ms(easy_.get(), CURLINFO_STARTTRANSFER_TIME_T);
  r.timings.total_ms = info_ms(easy_.get(), CURLINFO_TOTAL_TIME_T);

  if (rc == CURLE_OK) {
    r.error = category_for_status(status);
    if (r.error != ErrorCategory::none) r.error_message = "HTTP " + std::to_string(status);
    if (r.error == ErrorCategory::http_other) r.error_message += " (not a status HTTP defines: 100-599)";
  } else if (too_large_ || rc == CURLE_FILESIZE_EXCEEDED) {
    r.error = ErrorCategory::too_large;
    r.error_message = "body larger than --max-size (" + std::to_string(options_.max_body_bytes) + " bytes)";
  } else if (out_of_memory_) {
    r.error = ErrorCategory::other;
    r.error_message = "out of memory while receiving the body";
  } else if (!decode_failure.empty()) {
    r.error = ErrorCategory::decode;
    r.error_message = std::move(decode_failure);
  } else {
    const std::string_view text(error_buffer_);
    // The probe only runs for the one code it can tell apart.
    const Memory memory = rc == CURLE_OUT_OF_MEMORY ? memory_now() : Memory::kAvailable;
    TransferFailure failure = transfer_failure(rc, text, memory);
    r.error = failure.category;
    r.error_message = std::move(failure.message);
    // Which certificates were trusted is what the user can change.
    if (rc == CURLE_PEER_FAILED_VERIFICATION && options_.verify_tls)
      r.error_message += " (trusted: " + describe_trust(options_.trust) + ")";
    // Out of descriptors: libcurl says only that it could not open a socket (or resolve); the
    // limit, and what to do about it, is what the user needs to know.
    long os_errno = 0;
    curl_easy_getinfo(easy_.get(), CURLINFO_OS_ERRNO, &os_errno);
    if (os_errno == EMFILE || os_errno == ENFILE) {
      rlimit lim{};
      getrlimit(RLIMIT_NOFILE, &lim);
      r.error_message +=
          " (out of file descriptors: this process may open " +
          (lim.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : std::to_string(lim.rlim_cur)) +
          " files; lower -c or raise the limit with ulimit -n)";
    }
  }
  if (rc == CURLE_OK) r.body_hash = hash_.hex();
  // Not modified since the earlier run: the page is what that run found (as wget -N keeps its copy).
  if (rc == CURLE_OK && status == 304 && earlier_ != nullptr) carry_forward(*earlier_, r);
  // A body is only worth parsing when it arrived whole.
  page.body_kept = options_.keep_body && rc == CURLE_OK && !r.not_modified;
  if (page.body_kept)
    page.body = std::move(body_);
  else
    body_.clear();
  body_.shrink_to_fit();
  decoder_.reset();
  page.enqueued_at = std::chrono::steady_clock::now();
  return page;
}

}  // namespace crawl
