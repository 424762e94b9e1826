// placeholder until the command lands
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

namespace crawl::cli {
void add_testbed_command(CLI::App& app, Runner& runner) {
  app.add_subcommand("testbed", "not yet")->callback([&runner] { runner = [] { return 1; }; });
}
}  // namespace crawl::cli
