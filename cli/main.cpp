// crawl: parses the command line and hands over to the subcommand's runner.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

#include "cli/commands.hpp"
#include "cli/suggest.hpp"
#include "common/usage_error.hpp"
#include "storage/connection.hpp"
#include "urls/url.hpp"

namespace {

// An error line quotes what the user typed or a file held: a newline or an escape sequence in it
// would break the one line or act on the terminal. Controls are written as \n, \t, \x1b, ...
std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (byte < 0x20 || byte == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "crawl: a concurrent web crawler that measures every page and stores it in SQLite or PostgreSQL"};
  app.set_version_flag("--version", std::string("crawl ") + CRAWL_VERSION);
  app.require_subcommand(1);
  std::string command_line;
  // Stored with each run and bench: the password of a database URI or a URL stays out of it.
  for (int i = 0; i < argc; ++i)
    command_line += (i ? " " : "") + crawl::urls::without_password(crawl::storage::redact_password(argv[i]));
  crawl::cli::Runner runner;
  crawl::cli::add_run_command(app, runner, command_line);
  crawl::cli::add_query_commands(app, runner);
  crawl::cli::add_testbed_command(app, runner);
  crawl::cli::add_bench_command(app, runner, command_line);
  crawl::cli::require_plain_numbers(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    // A flag that does not exist is most often a typo: name the one meant.
    std::cerr << "crawl: " << one_line(e.what()) << one_line(crawl::cli::did_you_mean(app, e.what())) << '\n';
    return 2;
  } catch (const CLI::RequiredError& e) {
    // "crawl frobnicate" or "crawl rn list": CLI11 says only that a subcommand is required.
    if (argc > 1 && argv[1][0] != '-') {
      std::cerr << "crawl: " << one_line(crawl::cli::unknown_command(app, argv[1])) << '\n';
      return 2;
    }
    std::cerr << "crawl: " << one_line(e.what()) << " (see 'crawl --help' or 'crawl SUBCOMMAND --help')\n";
    return 2;
  } catch (const CLI::ConversionError& e) {
    // CLI11 words a number outside a narrower option's range "Could not convert: --concurrency = 1e99".
    std::cerr << "crawl: " << one_line(crawl::cli::conversion_error(e.what()))
              << " (see 'crawl --help' or 'crawl SUBCOMMAND --help')\n";
    return 2;
  } catch (const CLI::ParseError& e) {
    // One line that says what was wrong and where to look, exit status 2 (design.md).
    std::cerr << "crawl: " << one_line(e.what()) << " (see 'crawl --help' or 'crawl SUBCOMMAND --help')\n";
    return 2;
  }
  try {
    return runner ? runner() : 2;
  } catch (const crawl::UsageError& e) {
    std::cerr << "crawl: " << one_line(e.what()) << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "crawl: " << one_line(e.what()) << '\n';
    return 1;
  }
}
