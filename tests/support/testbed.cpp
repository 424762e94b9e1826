#include "tests/support/testbed.hpp"

#include <curl/curl.h>
#include <strings.h>

#include <csignal>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace crawl::test {
namespace {

void init_curl_once() {
  // curl_global_init is not thread-safe; every handle in the tests goes through here first.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t append_to_string(char* data, size_t size, size_t count, void* target) noexcept {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}

constexpr std::string_view kListeningPrefix = "listening on http://127.0.0.1:";
constexpr std::string_view kListeningHttpsPrefix = "listening on https://127.0.0.1:";

}  // namespace

std::string HttpResult::header(std::string_view name) const {
  std::string value;
  size_t start = 0;
  while (start < headers.size()) {
    size_t end = headers.find("\r\n", start);
    if (end == std::string::npos) end = headers.size();
    std::string_view line(headers.data() + start, end - start);
    const size_t colon = line.find(':');
    if (colon == name.size() && strncasecmp(line.data(), name.data(), name.size()) == 0) {
      std::string_view v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      value = std::string(v);
    }
    start = end + 2;
  }
  return value;
}

struct HttpClient::Handle {
  CURL* curl = nullptr;
  ~Handle() {
    if (curl) curl_easy_cleanup(curl);
  }
};

HttpClient::HttpClient() : handle_(std::make_unique<Handle>()) {
  init_curl_once();
  handle_->curl = curl_easy_init();
  if (!handle_->curl) throw std::runtime_error("curl_easy_init failed");
}

HttpClient::~HttpClient() = default;

HttpResult HttpClient::get(const std::string& url, const HttpOptions& options) {
  CURL* curl = handle_->curl;
  // Reset forgets the options of the previous request but keeps its connection open.
  curl_easy_reset(curl);
  HttpResult result;
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_to_string);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, append_to_string);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  if (options.decode_gzip) curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "gzip");
  if (options.follow_redirects) {
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, options.max_redirects);
  }
  const CURLcode code = curl_easy_perform(curl);
  result.curl_code = static_cast<int>(code);
  if (code != CURLE_OK) result.error = error[0] ? error : curl_easy_strerror(code);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &result.new_connections);
  curl_easy_getinfo(curl, CURLINFO_REDIRECT_COUNT, &result.redirects);
  char* effective = nullptr;
  curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &effective);
  if (effective) result.effective_url = effective;
  // The error buffer lives on this stack frame: detach it before returning.
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  return result;
}

HttpResult http_get(const std::string& url, const HttpOptions& options) {
  HttpClient client;
  return client.get(url, options);
}

Testbed Testbed::start(std::vector<std::string> extra_args) {
  std::vector<std::string> argv = {crawl_binary(), "testbed", "--port", "0"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  auto child = std::make_unique<Child>(argv);
  std::string line;
  if (!child->read_line(line, std::chrono::seconds(10)) || !line.starts_with(kListeningPrefix))
    throw std::runtime_error("crawl testbed did not report 'listening on' within 10 s (got '" + line + "')");
  const int port = std::stoi(line.substr(kListeningPrefix.size()));
  return Testbed(std::move(child), static_cast<uint16_t>(port));
}

Testbed Testbed::start_https(const std::string& cert_file, const std::string& key_file,
                             std::vector<std::string> extra_args) {
  extra_args.insert(extra_args.end(), {"--tls-cert", cert_file, "--tls-key", key_file});
  Testbed testbed = start(std::move(extra_args));
  std::string line;
  if (!testbed.child_->read_line(line, std::chrono::seconds(10)) || !line.starts_with(kListeningHttpsPrefix))
    throw std::runtime_error("crawl testbed did not report 'listening on https' within 10 s (got '" + line +
                             "')");
  testbed.https_port_ = static_cast<uint16_t>(std::stoi(line.substr(kListeningHttpsPrefix.size())));
  return testbed;
}

std::string Testbed::https_url(std::string_view path, std::string_view host) const {
  return "https://" + std::string(host) + ":" + std::to_string(https_port_) + std::string(path);
}

Testbed::~Testbed() {
  if (child_) child_->stop(SIGTERM);
}

std::string Testbed::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::string Testbed::host_url(std::string_view host, std::string_view path) const {
  return "http://" + std::string(host) + ":" + std::to_string(port_) + std::string(path);
}

nlohmann::json Testbed::hosts() const {
  HttpResult r = http_get(url("/__hosts"));
  if (!r.ok() || r.status != 200) throw std::runtime_error("GET /__hosts failed: " + r.error);
  return nlohmann::json::parse(r.body);
}

nlohmann::json Testbed::stats() const {
  HttpResult r = http_get(url("/__stats"));
  if (!r.ok() || r.status != 200) throw std::runtime_error("GET /__stats failed: " + r.error);
  return nlohmann::json::parse(r.body);
}

void Testbed::reset_stats() const {
  HttpResult r = http_get(url("/__reset-stats"));
  if (!r.ok() || r.status != 200) throw std::runtime_error("GET /__reset-stats failed: " + r.error);
}

int Testbed::stop() {
  return child_->stop(SIGTERM);
}

std::string delayed_list(const std::string& base, int count, int delay_ms) {
  std::string list;
  for (int i = 0; i < count; ++i)
    list += base + "/delay/" + std::to_string(delay_ms) + "/page/" + std::to_string(i) + "\n";
  return list;
}

bool wait_for_requests(const Testbed& testbed, int64_t count, std::chrono::seconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (testbed.stats()["requests"].get<int64_t>() < count) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace crawl::test
