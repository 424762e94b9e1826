#include "crawler/tls.hpp"

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <list>
#include <mutex>

#include "common/thread_name.hpp"

namespace crawl {
namespace {

// One per TrustOptions a process uses (in practice one). The store is loaded on first use, which in
// process mode happens in each worker after the fork: workers are forked before OpenSSL or libcurl
// are set up (design.md), so each loads its own copy, once. (Loading it before the fork, for the
// workers to inherit, was measured: it saves each worker ~15 ms of CPU, but the workers' signal
// tests failed under load with it, for reasons not found; it stays out.)
class SharedStore {
 public:
  explicit SharedStore(TrustOptions options) : options_(std::move(options)) {}

  const TrustOptions& options() const { return options_; }

  // The loaded store, or null when its certificates could not be read.
  X509_STORE* get() {
    if (X509_STORE* s = loaded_.load(std::memory_order_acquire)) return s;
    std::lock_guard lock(mutex_);
    if (X509_STORE* s = loaded_.load(std::memory_order_relaxed)) return s;
    if (failed_) return nullptr;
    X509_STORE* store = load();
    if (!store) {
      failed_ = true;
      return nullptr;
    }
    loaded_.store(store, std::memory_order_release);
    return store;
  }

  bool loaded() const { return loaded_.load(std::memory_order_acquire) != nullptr; }

 private:
  X509_STORE* load() const {
    X509_STORE* store = X509_STORE_new();
    if (!store) return nullptr;
    std::string file = options_.ca_file, path = options_.ca_path;
    if (file.empty() && path.empty()) {
      const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
      if (v->age >= CURLVERSION_SEVENTH) {
        if (v->cainfo) file = v->cainfo;
        if (v->capath) path = v->capath;
      }
      if (file.empty() && path.empty()) {
        X509_STORE_set_default_paths(store);
        return store;
      }
    }
    bool any = false;
    if (!file.empty()) any |= X509_STORE_load_file(store, file.c_str()) == 1;
    // A directory is looked up by subject hash as issuers are needed; what it finds stays in the
    // store for the next connection.
    if (!path.empty()) any |= X509_STORE_load_path(store, path.c_str()) == 1;
    if (!any) {
      X509_STORE_free(store);
      return nullptr;
    }
    return store;
  }

  const TrustOptions options_;
  std::atomic<X509_STORE*> loaded_{nullptr};  // never freed: connections may use it until exit
  std::mutex mutex_;
  bool failed_ = false;
};

// The process's stores. A process-wide registry is the point: every handle of every producer finds
// the same store, whichever module made the handle. Never destroyed (connections closed during exit
// may still hold a store).
SharedStore& store_for(const TrustOptions& options) {
  static std::mutex* mutex = new std::mutex;
  static std::list<SharedStore>* stores = new std::list<SharedStore>;
  std::lock_guard lock(*mutex);
  for (SharedStore& s : *stores)
    if (s.options() == options) return s;
  return stores->emplace_back(options);
}

int count_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// libcurl 7.88 makes a new SSL_CTX for every connection, so the context's slot names the transfer
// that opened this connection. It is cleared at the first completed handshake: TLS 1.3 session
// tickets that arrive later (possibly during another transfer on the same connection, after the
// first one's counter is gone) must not count, nor reach a stale pointer.
void on_tls_info(const SSL* ssl, int where, int) noexcept {
  if (!(where & SSL_CB_HANDSHAKE_DONE)) return;
  SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  auto* count = static_cast<HandshakeCount*>(SSL_CTX_get_ex_data(ctx, count_index()));
  if (!count) return;
  SSL_CTX_set_ex_data(ctx, count_index(), nullptr);
  if (SSL_session_reused(const_cast<SSL*>(ssl)))
    ++count->resumed;
  else
    ++count->full;
}

CURLcode on_ssl_ctx(CURL*, void* ssl_ctx, void* data) noexcept {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  const auto* hook = static_cast<const TlsHook*>(data);
  if (!hook) return CURLE_OK;
  if (hook->store()) {
    X509_STORE* store = static_cast<SharedStore*>(hook->store())->get();
    if (!store || X509_STORE_up_ref(store) != 1) return CURLE_SSL_CACERT_BADFILE;
    SSL_CTX_set_cert_store(ctx, store);  // takes the reference; frees the empty store it replaces
  }
  if (hook->count()) {
    SSL_CTX_set_ex_data(ctx, count_index(), hook->count());
    SSL_CTX_set_info_callback(ctx, &on_tls_info);
  }
  return CURLE_OK;
}

}  // namespace

TlsHook::TlsHook(const TrustOptions& trust, bool verify, HandshakeCount* count)
    : store_(verify ? &store_for(trust) : nullptr), count_(count) {}

void TlsHook::apply(CURL* easy) const {
  // libcurl must not load any certificates itself: the hook hands every connection the shared store.
  curl_easy_setopt(easy, CURLOPT_CAINFO, nullptr);
  curl_easy_setopt(easy, CURLOPT_CAPATH, nullptr);
  curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, &on_ssl_ctx);
  curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, this);
}

const TlsHook& TlsHook::uncounted(const TrustOptions& trust, bool verify) {
  static std::mutex* mutex = new std::mutex;
  static std::list<TlsHook>* hooks = new std::list<TlsHook>;
  const TlsHook wanted(trust, verify, nullptr);
  std::lock_guard lock(*mutex);
  for (const TlsHook& h : *hooks)
    if (h.store() == wanted.store()) return h;
  return hooks->emplace_back(wanted);
}

std::jthread load_trust_in_background(const TrustOptions& trust) {
  SharedStore& store = store_for(trust);
  // The thread takes no signals: in a worker process, one meant to interrupt the fetching thread
  // (SIGUSR1 at a stop) must not land here instead. It inherits the mask it is started with.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  struct Restore {
    sigset_t mask;
    ~Restore() { pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
  } restore{previous};
  return std::jthread([&store] {
    name_this_thread("crawl-trust");
    store.get();
  });
}

bool trust_loaded(const TrustOptions& trust) {
  return store_for(trust).loaded();
}

std::string check_ca_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return "--cacert: cannot read '" + path + "': " + std::strerror(errno) +
           " (give a PEM file of CA certificates)";
  if (!S_ISREG(st.st_mode))
    return "--cacert: '" + path + "' is not a file (give a PEM file of CA certificates)";
  std::ifstream in(path, std::ios::binary);
  if (!in) return "--cacert: cannot read '" + path + "' (give a PEM file of CA certificates)";
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.find("-----BEGIN CERTIFICATE-----") == std::string::npos &&
      text.find("-----BEGIN TRUSTED CERTIFICATE-----") == std::string::npos)
    return "--cacert: '" + path + "' holds no PEM certificate (give a PEM file of CA certificates)";
  return {};
}

std::string check_ca_path(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return "--capath: cannot read '" + path + "': " + std::strerror(errno) +
           " (give a directory of CA certificates hashed with `openssl rehash`)";
  if (!S_ISDIR(st.st_mode) || ::access(path.c_str(), R_OK | X_OK) != 0)
    return "--capath: '" + path +
           "' is not a readable directory (give a directory of CA certificates hashed with `openssl rehash`)";
  return {};
}

std::string describe_trust(const TrustOptions& trust) {
  std::string out;
  if (!trust.ca_file.empty()) out = "--cacert " + trust.ca_file;
  if (!trust.ca_path.empty()) out += (out.empty() ? "--capath " : " and --capath ") + trust.ca_path;
  if (!out.empty()) return out;
  const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
  const char* file = v->age >= CURLVERSION_SEVENTH ? v->cainfo : nullptr;
  return std::string("the system's CA certificates") + (file ? std::string(" (") + file + ")" : "");
}

}  // namespace crawl
