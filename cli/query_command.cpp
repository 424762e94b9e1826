// placeholder until the command lands
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

namespace crawl::cli {
void add_query_commands(CLI::App& app, Runner& runner) {
  app.add_subcommand("query", "not yet")->callback([&runner] { runner = [] { return 1; }; });
}
}  // namespace crawl::cli
