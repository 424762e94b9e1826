// TLS for every transfer: the certificates a crawl trusts, loaded once per process and shared by
// every connection of every producer (fiber schedulers, threads, robots.txt fetches, each worker
// process), and the count of full and resumed handshakes. Internal to crawler/.
//
// Why not libcurl's own trust store: Debian's libcurl 7.88 is built with both a CA bundle and a CA
// path, and with the path set it reads the whole store again for every new connection (~30 ms of
// OpenSSL 3 PEM decoding each). Without the path its cache works, but it lives in a multi handle:
// once per fiber thread, once per thread in thread mode (100 loads at -c 100). A store loaded here
// and handed to each connection's SSL_CTX (CURLOPT_SSL_CTX_FUNCTION) is loaded once per process,
// whatever the mode, and a --capath directory's lookups are cached in it too.
#pragma once

#include <cstdint>
#include <string>
#include <thread>

#include "crawler/curl_handles.hpp"

namespace crawl {

// Where trusted CA certificates come from: --cacert and --capath as curl has them. Both empty: the
// ones this libcurl was built with (Debian: /etc/ssl/certs/ca-certificates.crt and /etc/ssl/certs).
// Given, they replace the defaults.
struct TrustOptions {
  std::string ca_file;  // PEM certificates (--cacert)
  std::string ca_path;  // a directory hashed with `openssl rehash` / c_rehash (--capath)
  bool operator==(const TrustOptions&) const = default;
};

// Handshakes a transfer made: full ones and resumed ones (a TLS session ticket or id the server took
// back). Written on the thread that drives the transfer.
struct HandshakeCount {
  int64_t full = 0;
  int64_t resumed = 0;
};

// What a handle's TLS setup needs: the process's trust store for its TrustOptions (none without
// verification) and where to count the handshakes of the connections it opens (may be null).
class TlsHook {
 public:
  TlsHook(const TrustOptions& trust, bool verify, HandshakeCount* count);
  // Points libcurl's TLS setup of `easy` at this hook, which must outlive the handle's transfers.
  void apply(CURL* easy) const;
  // For handles that count nothing: a hook that lives as long as the process.
  static const TlsHook& uncounted(const TrustOptions& trust, bool verify);

  void* store() const { return store_; }
  HandshakeCount* count() const { return count_; }

 private:
  void* store_ = nullptr;  // the shared store (internal type); null: no verification
  HandshakeCount* count_ = nullptr;
};

// Loads the process's store for `trust` on a thread of its own. Decoding a system store takes tens
// of milliseconds of CPU (Debian's, ~140 certificates: about 40 ms on OpenSSL 3), and the first
// verified connection would otherwise wait for it; started as a run starts, it overlaps the
// database's set-up. Connections that need the store before it is ready wait for it, as they would
// for a load of their own. The thread ends with the load: join it (a std::jthread does) before the
// process exits. Never in a process that forks afterwards: a child would inherit the load's lock.
std::jthread load_trust_in_background(const TrustOptions& trust);

// Whether this process has loaded the store for `trust` (tests).
bool trust_loaded(const TrustOptions& trust);

// Empty when the file or directory can be used; else a one-line message saying what is wrong, for a
// usage error (the flag's name first).
std::string check_ca_file(const std::string& path);
std::string check_ca_path(const std::string& path);

// Where certificates come from for `trust`, in words, for messages: "--cacert FILE",
// "the system store (FILE)".
std::string describe_trust(const TrustOptions& trust);

}  // namespace crawl
