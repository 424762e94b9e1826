// One reusable libcurl easy handle with every safety default (design.md), and the translation of
// a finished transfer into a Page. Used by every execution layout: thread and process workers drive
// it with curl_easy_perform, fiber schedulers through a CURLM. Internal to crawler/.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/body_hash.hpp"
#include "crawler/content_decoder.hpp"
#include "crawler/curl_handles.hpp"
#include "crawler/page.hpp"
#include "crawler/tls.hpp"
#include "storage/since.hpp"

namespace crawl {

struct FetchOptions {
  std::chrono::milliseconds timeout{30'000};
  std::chrono::milliseconds connect_timeout{10'000};
  int64_t max_body_bytes = 10 * 1024 * 1024;
  int max_redirects = 10;
  std::string user_agent = std::string("crawl/") + CRAWL_VERSION;
  bool keep_body = true;  // false: bodies are counted as they arrive, never stored (--no-parse)
  // A body over max_body_bytes is cut there and kept as if whole, instead of failing the fetch
  // (robots.txt: RFC 9309 2.5 parses the first 500 KiB and ignores the rest).
  bool cut_at_max_body = false;
  bool verify_tls = true;
  TrustOptions trust;  // --cacert, --capath
  // libcurl's receive buffer per transfer; smaller saves memory with thousands in flight.
  long buffer_size = 0;              // 0: libcurl's default
  std::vector<std::string> headers;  // extra request headers, "Name: value" (--header)
  std::string proxy;                 // --proxy; empty: libcurl's usual proxy environment variables
  bool cookies = false;              // keep cookies a site sets, per producer (--cookies)
  // --since: an earlier run's validators, sent back as If-None-Match / If-Modified-Since; a 304
  // answer takes that run's facts (PageRecord::not_modified). Null: no conditional requests.
  std::shared_ptr<const storage::EarlierPages> since;
  // --depth: the links of pages at a lower depth are followed. --since asks for such an HTML page
  // in full, as a 304 brings no links to follow: a site re-crawled since an earlier run reaches
  // every page it reached, and the pages at the last depth (most of them) are asked conditionally.
  int follow_depth = 0;
};

// DNS cache and TLS sessions shared between the easy handles of several threads or fibers: a
// second connection to a host resumes the TLS session of the first instead of a full handshake.
// (Connections are not shared: libcurl 7.88 cannot share a connection pool across threads.)
class CurlShare {
 public:
  CurlShare();
  ~CurlShare();
  CurlShare(const CurlShare&) = delete;
  CurlShare& operator=(const CurlShare&) = delete;
  CURLSH* get() const { return share_.get(); }

 private:
  static void lock(CURL*, int data, int access, void* self) noexcept;
  static void unlock(CURL*, int data, void* self) noexcept;
  curl::ShareHandle share_;
  std::mutex locks_[8];  // one per curl_lock_data value
};

// The settings every request shares (design.md's safety defaults): no signals, only http and https
// (redirects too), the timeouts, TLS verification against the process's one trust store
// (crawler/tls.hpp), the User-Agent, every content encoding, the proxy. Callers add their own
// redirect limit and callbacks.
void apply_safety_defaults(CURL* easy, const FetchOptions& options);

// Told when the first request of a task that asks for it (UrlTask::report_start) is about to go out,
// after its connection is made: --delay between two fetches to a host runs from that moment, not
// from when the frontier handed the task out, so a task that waited for a thread cannot bring the
// next one closer. Called on the fetching thread, possibly inside libcurl: it must not block.
class StartListener {
 public:
  virtual void started(int64_t seq, std::chrono::steady_clock::time_point at) noexcept = 0;

 protected:
  ~StartListener() = default;
};

// Told when a transfer's first request is about to go out: its connection is made (or reused).
// Called on the fetching thread inside libcurl: it must not block or call libcurl.
class ConnectListener {
 public:
  virtual void connected(CURL* easy) noexcept = 0;

 protected:
  ~ConnectListener() = default;
};

// Whether memory could be had when libcurl said it had none (see transfer_failure).
enum class Memory { kAvailable, kShort };

// Why a transfer failed, as rows store it.
struct TransferFailure {
  ErrorCategory category = ErrorCategory::other;
  std::string message;
};

// The category and message of a transfer that libcurl ended with `curl_code` (not CURLE_OK), given
// the text libcurl left in its error buffer. libcurl 7.88 reports some failures of the response
// itself under codes that also mean something else: a malformed chunked body and response headers
// over its 300 KB total as CURLE_RECV_ERROR (a reset connection too), and a header line over its
// 100 KB limit as CURLE_OUT_OF_MEMORY with no text; the error text, and for the latter `memory`,
// tell them apart.
TransferFailure transfer_failure(int curl_code, std::string_view error_text, Memory memory);

class Transfer : private ContentDecoder::Output {
 public:
  // `stop` (may be null) aborts the transfer in progress when it becomes true. `starts` (may be
  // null) hears of the tasks that ask for it.
  Transfer(const FetchOptions& options, CURLSH* share, const std::atomic<bool>* stop,
           StartListener* starts = nullptr);
  // The options are read for as long as the transfer lives: a temporary would be gone.
  Transfer(FetchOptions&&, CURLSH*, const std::atomic<bool>*, StartListener* = nullptr) = delete;
  ~Transfer();
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  CURL* easy() const { return easy_.get(); }
  // Points the handle at `task` and resets per-transfer state; the connection is kept. The task is
  // moved in and its strings moved on into the page: a page costs no copies of them.
  void begin(UrlTask&& task, std::string_view worker);
  const UrlTask& task() const { return task_; }
  // Builds the page from the result of the transfer begun last, and takes the task's strings.
  Page finish(int curl_code);
  // finish() appended to `out`, in a frame of its own: see fetch_task (crawler/producers.hpp).
  [[gnu::noinline]] void finish_into(std::vector<Page>& out, int curl_code);
  // Runs the begun transfer to completion on this thread (thread and process modes); returns
  // libcurl's code for finish().
  int perform();
  // Hears of every transfer's connection from now on (fiber mode's scheduler).
  void listen_for_connections(ConnectListener* listener) { connects_ = listener; }

 private:
  // Sets the request's headers: with If-None-Match / If-Modified-Since when --since knows the URL.
  void ask_conditionally();
  static size_t on_body(char* data, size_t size, size_t count, void* self) noexcept;
  // Takes decoded body bytes: counts, hashes and keeps them within --max-size. False: no more wanted.
  bool write(const char* data, size_t size) override;
  static int on_progress(void* self, int64_t, int64_t, int64_t, int64_t) noexcept;
  static int on_request(void* self, char*, char*, int, int) noexcept;

  const FetchOptions& options_;
  const std::atomic<bool>* stop_;
  StartListener* starts_;
  ConnectListener* connects_ = nullptr;
  bool start_told_ = false;
  curl::EasyHandle easy_;
  UrlTask task_;
  std::string worker_;
  std::string body_;
  int64_t body_bytes_ = 0;
  bool too_large_ = false;
  bool cut_ = false;  // cut_at_max_body: the body was cut at the limit
  bool out_of_memory_ = false;
  bool coding_known_ = false;  // the response's Content-Encoding has been read (at its first body bytes)
  std::unique_ptr<ContentDecoder> decoder_;  // null: the body is not coded
  double started_unix_ = 0;
  HandshakeCount handshakes_;  // made by the transfer begun last
  TlsHook tls_hook_;
  // The body's hash as it streams through (Page's record.body_hash): kept bodies or not, and
  // without a second pass over them. One state per transfer, reset by begin().
  BodyHash hash_;
  char error_buffer_[256] = {};
  curl::HeaderList headers_;  // FetchOptions::headers and the fixed lines; read by libcurl at each request
  std::vector<std::string> header_lines_;  // what headers_ holds, for the conditional list below
  // --since: the earlier page the current request names back (null: an unconditional request), and
  // the header list that does it, set in place of headers_ for that request only.
  const storage::EarlierPage* earlier_ = nullptr;
  curl::HeaderList conditional_headers_;
};

}  // namespace crawl
