// The flag a user most likely meant, for a one-line error about one that does not exist.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace crawl::cli {

// Of `known` (e.g. "--concurrency", "-c"), the one `given` is the start of (five characters at
// least, and of one flag only), or else the closest: at most a quarter of its letters apart (one at
// least; a letter typed, left out, changed or two swapped count one each); "" when none is.
std::string closest_flag(std::string_view given, const std::vector<std::string>& known);

// The end of the error line for arguments CLI11 did not expect (`what`: its message, the
// arguments after its colon): "; did you mean --concurrency? (see 'crawl run --help')", naming
// the subcommand given.
std::string did_you_mean(const CLI::App& app, std::string_view what);

}  // namespace crawl::cli
