// The subcommands of `crawl`. Each `add_*_command` declares its flags on `app` and, when that
// subcommand is the one given, sets `runner` to the function that carries it out; main() runs it
// after parsing. Runners return the process exit status (design.md: 0, 1, 2 or 130).
#pragma once

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace crawl::cli {

using Runner = std::function<int()>;

// `command_line` is the whole invocation, stored with each run.
void add_run_command(CLI::App& app, Runner& runner, const std::string& command_line);
void add_query_commands(CLI::App& app, Runner& runner);  // `query` and `runs`
void add_testbed_command(CLI::App& app, Runner& runner);
void add_bench_command(CLI::App& app, Runner& runner, const std::string& command_line);

}  // namespace crawl::cli
