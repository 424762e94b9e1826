#include "tests/support/nginx.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace crawl::test {
namespace {

constexpr const char* kNginx = "/usr/sbin/nginx";
constexpr const char* kEchoModule = "/usr/lib/nginx/modules/ngx_http_echo_module.so";

bool accepts_connections(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::unique_ptr<Nginx> Nginx::start(const std::string& dir, const Options& options) {
  if (!std::filesystem::exists(kNginx) || !std::filesystem::exists(kEchoModule)) return nullptr;
  std::unique_ptr<Nginx> nginx(new Nginx);
  nginx->dir_ = dir + "/nginx";
  std::filesystem::create_directories(nginx->dir_);
  nginx->port_ = free_loopback_port();
  const std::string& d = nginx->dir_;
  const std::string conf = d + "/nginx.conf";
  {
    std::ofstream out(conf);
    // Every path inside the test's directory: nothing of the system's nginx is used or touched.
    out << "load_module " << kEchoModule << ";\n"
        << "daemon off;\nworker_processes 1;\npid " << d << "/nginx.pid;\nerror_log " << d
        << "/error.log warn;\n"
        << "events { worker_connections 1024; }\n"
        << "http {\n"
        << "  client_body_temp_path " << d << "/body;\n  proxy_temp_path " << d << "/proxy;\n"
        << "  fastcgi_temp_path " << d << "/fastcgi;\n  uwsgi_temp_path " << d << "/uwsgi;\n"
        << "  scgi_temp_path " << d << "/scgi;\n"
        << "  log_format connections '$connection $server_protocol';\n"
        << "  access_log " << d << "/access.log connections;\n"
        << "  keepalive_requests 100000;\n"
        << "  http2_max_concurrent_streams " << options.max_streams << ";\n"
        << "  server {\n"
        << "    listen 127.0.0.1:" << nginx->port_ << " ssl http2;\n"
        << "    ssl_certificate " << options.cert_file << ";\n    ssl_certificate_key " << options.key_file
        << ";\n"
        << "    default_type text/html;\n"
        << "    location /delay/ { echo_sleep 0.2; echo '<!DOCTYPE html><title>Slow</title>'; }\n"
        << "    location / { return 200 '<!DOCTYPE html><title>Fast</title>'; }\n"
        << "  }\n"
        << "}\n";
  }
  nginx->child_ =
      std::make_unique<Child>(std::vector<std::string>{kNginx, "-c", conf, "-p", d, "-e", d + "/error.log"});
  for (int i = 0; i < 200; ++i) {
    if (accepts_connections(nginx->port_)) return nginx;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  std::ifstream log(d + "/error.log");
  std::stringstream text;
  text << log.rdbuf();
  throw std::runtime_error("nginx did not start within 5 s: " + text.str());
}

Nginx::~Nginx() {
  if (child_) child_->stop(SIGTERM);
}

std::string Nginx::url(const std::string& path, const std::string& host) const {
  return "https://" + host + ":" + std::to_string(port_) + path;
}

Nginx::Seen Nginx::seen() const {
  Seen s;
  std::ifstream log(dir_ + "/access.log");
  std::set<std::string> connections;
  std::string connection, protocol;
  while (log >> connection >> protocol) {
    ++s.requests;
    connections.insert(connection);
    if (protocol == "HTTP/2.0") ++s.http2_requests;
  }
  s.connections = static_cast<int>(connections.size());
  return s;
}

}  // namespace crawl::test
