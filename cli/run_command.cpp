// placeholder until the command lands
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

namespace crawl::cli {
void add_run_command(CLI::App& app, Runner& runner) {
  app.add_subcommand("run", "not yet")->callback([&runner] { runner = [] { return 1; }; });
}
}  // namespace crawl::cli
