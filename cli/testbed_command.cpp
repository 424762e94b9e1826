// `crawl testbed`: the project's HTTP server for tests and benchmarks (testbed/site.hpp describes
// what it serves).
#include <CLI/CLI.hpp>
#include <memory>

#include "cli/commands.hpp"
#include "common/usage_error.hpp"
#include "testbed/server.hpp"

namespace crawl::cli {
namespace {

struct TestbedFlags {
  int port = 8080;
  std::string bind = "127.0.0.1";
  int threads = 1;
  uint64_t pages = testbed::SiteOptions{}.pages;
  uint64_t hosts = testbed::SiteOptions{}.hosts;
  uint64_t host_pages = testbed::SiteOptions{}.host_pages;
  std::string latency = "0";
  std::string log;
  std::string tls_cert, tls_key;
  int tls_port = 0;
};

int run_testbed(const TestbedFlags& flags) {
  if (flags.port < 0 || flags.port > 65535)
    throw UsageError("--port must be between 0 and 65535 (0 lets the system pick a free port)");
  if (flags.threads < 1 || flags.threads > 256) throw UsageError("--threads must be between 1 and 256");
  if (flags.pages < 1 || flags.pages > testbed::kMaxPages)
    throw UsageError("--pages must be between 1 and " + std::to_string(testbed::kMaxPages));
  if (flags.hosts < 1 || flags.hosts > testbed::kMaxHosts)
    throw UsageError("--hosts must be between 1 and " + std::to_string(testbed::kMaxHosts));
  if (flags.host_pages < 1 || flags.host_pages > testbed::kMaxHostPages)
    throw UsageError("--host-pages must be between 1 and " + std::to_string(testbed::kMaxHostPages));
  testbed::ServerOptions options;
  options.bind = flags.bind;
  options.port = static_cast<uint16_t>(flags.port);
  options.threads = flags.threads;
  options.latency = testbed::parse_latency(flags.latency);
  options.log_path = flags.log;
  if (flags.tls_port < 0 || flags.tls_port > 65535)
    throw UsageError("--tls-port must be between 0 and 65535 (0 lets the system pick a free port)");
  options.tls_cert = flags.tls_cert;
  options.tls_key = flags.tls_key;
  options.tls_port = static_cast<uint16_t>(flags.tls_port);
  options.site.pages = flags.pages;
  options.site.hosts = flags.hosts;
  options.site.host_pages = flags.host_pages;
  return testbed::serve(options);
}

}  // namespace

void add_testbed_command(CLI::App& app, Runner& runner) {
  auto flags = std::make_shared<TestbedFlags>();
  CLI::App* command = app.add_subcommand(
      "testbed", "Serve the deterministic synthetic site that tests and benchmarks crawl (until Ctrl-C)");
  command->add_option("--port", flags->port, "TCP port; 0 picks a free one")->capture_default_str();
  command->add_option("--bind", flags->bind, "address to listen on")->capture_default_str();
  command->add_option("--threads", flags->threads, "server threads")->capture_default_str();
  command->add_option("--pages", flags->pages, "number of pages: /page/0 .. /page/N-1")
      ->capture_default_str();
  command
      ->add_option("--hosts", flags->hosts,
                   "named hosts h0.localhost .. hN-1.localhost on the same port, each a small site of "
                   "its own (with subdomains wJ.hK.localhost)")
      ->capture_default_str();
  command->add_option("--host-pages", flags->host_pages, "pages per named host: /page/0 .. /page/N-1")
      ->capture_default_str();
  command
      ->add_option("--latency", flags->latency,
                   "latency added to every request: 0, 100ms, 2s, or a range such as 50ms-150ms "
                   "(fixed per path)")
      ->capture_default_str();
  command->add_option("--log", flags->log, "write one JSON line per response to FILE");
  command->add_option("--tls-cert", flags->tls_cert,
                      "also serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key");
  command->add_option("--tls-key", flags->tls_key, "the PEM private key of --tls-cert");
  command->add_option("--tls-port", flags->tls_port, "HTTPS port; 0 picks a free one")->capture_default_str();
  command->callback([&runner, flags] { runner = [flags] { return run_testbed(*flags); }; });
}

}  // namespace crawl::cli
