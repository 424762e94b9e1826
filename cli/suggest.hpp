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

// The error for a first argument that is no command: "no command 'rn' (the commands: run, resume,
// ...); did you mean run?" when one is close.
std::string unknown_command(const CLI::App& app, std::string_view given);

// Every numeric option of `app` and its subcommands takes plain decimal numbers only: "" (which
// CLI11 would read as the default or 0), " 5", "0x10", "1e3" and "inf" are refused with a line
// that says what to write.
void require_plain_numbers(CLI::App& app);

// CLI11's "Could not convert: --concurrency = 99999999999" (a number outside the option's range)
// as "--concurrency: '99999999999' is out of range"; other text is returned as it is.
std::string conversion_error(std::string_view what);

}  // namespace crawl::cli
