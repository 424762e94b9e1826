#include "cli/suggest.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

namespace crawl::cli {
namespace {

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// neighbours, one each.
size_t edits_between(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t change = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + change});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

}  // namespace

std::string closest_flag(std::string_view given, const std::vector<std::string>& known) {
  // "--timeout=5s": the name alone.
  given = given.substr(0, given.find('='));
  // "--conc" for "--concurrency": a start long enough to mean something, and of one flag only.
  std::string best;
  if (given.size() >= 5) {
    int starts = 0;
    for (const std::string& flag : known)
      if (flag.starts_with(given)) {
        ++starts;
        best = flag;
      }
    if (starts == 1) return best;
    best.clear();
  }
  // "-Q" for "-q": the case.
  for (const std::string& flag : known)
    if (flag.size() == given.size() &&
        std::equal(flag.begin(), flag.end(), given.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return flag;
  // Any one letter is one edit from any other: short flags are not guessed at.
  const std::string_view letters = given.substr(std::min(given.find_first_not_of('-'), given.size()));
  if (letters.size() < 3) return "";
  size_t best_edits = std::max<size_t>(1, letters.size() / 4) + 1;
  for (const std::string& flag : known) {
    const size_t edits = edits_between(given, flag);
    if (edits < best_edits) {
      best_edits = edits;
      best = flag;
    }
  }
  return best;
}

std::string did_you_mean(const CLI::App& app, std::string_view what) {
  const CLI::App* command = &app;
  for (const CLI::App* sub : app.get_subcommands()) command = sub;
  std::vector<std::string> known;
  for (const CLI::App* scope : {&app, command})
    for (const CLI::Option* option : scope->get_options()) {
      if (option->get_group().empty()) continue;  // hidden
      for (const auto& name : option->get_lnames()) known.push_back("--" + name);
      for (const auto& name : option->get_snames()) known.push_back("-" + name);
    }
  std::string hint;
  const size_t colon = what.find(": ");
  std::string_view args = colon == std::string_view::npos ? std::string_view() : what.substr(colon + 2);
  while (!args.empty() && hint.empty()) {
    const size_t space = args.find(' ');
    const std::string_view arg = args.substr(0, space);
    args = space == std::string_view::npos ? std::string_view() : args.substr(space + 1);
    if (arg.starts_with("-")) {
      const std::string flag = closest_flag(arg, known);
      if (!flag.empty()) hint = "; did you mean " + flag + "?";
    }
  }
  const std::string help = command == &app ? "crawl --help" : "crawl " + command->get_name() + " --help";
  return hint + " (see '" + help + "')";
}

namespace {

// A whole number, or for `decimals` one with a fraction: digits, an optional leading '-' (so the
// option's own range check can say what the least value is), and nothing else.
bool is_plain_number(std::string_view text, bool decimals) {
  if (text.starts_with('-')) text.remove_prefix(1);
  if (text.empty()) return false;
  bool digits = false, point = false;
  for (const char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits = true;
    } else if (c == '.' && decimals && !point) {
      point = true;
    } else {
      return false;
    }
  }
  return digits;
}

// Whether a plain whole number (see is_plain_number) fits in 64 bits, signed or not.
bool fits_64_bits(std::string_view text, bool is_unsigned) {
  auto fits = [&](auto value) {
    return std::from_chars(text.data(), text.data() + text.size(), value).ec == std::errc();
  };
  return is_unsigned && !text.starts_with('-') ? fits(uint64_t{}) : fits(int64_t{});
}

void require_plain_numbers_in(CLI::App& command) {
  for (CLI::Option* option : command.get_options()) {
    const std::string type = option->get_type_name();
    const bool is_unsigned = type.starts_with("UINT");
    const bool whole = type.starts_with("INT") || is_unsigned;
    if (!whole && !type.starts_with("FLOAT")) continue;
    option->check(CLI::Validator(
        [whole, is_unsigned](std::string& value) {
          if (!is_plain_number(value, !whole))
            return "'" + value + "' is not a " +
                   (whole ? "whole number (write e.g. 10)" : "number (write e.g. 2.5)");
          // CLI11 reads a 64-bit option's value past its range as the largest value, which would
          // then be taken for the one given (a run id, a count). Narrower options it refuses itself.
          if (whole && !fits_64_bits(value, is_unsigned)) return "'" + value + "' is out of range";
          return std::string();
        },
        ""));
  }
  for (CLI::App* sub : command.get_subcommands([](CLI::App*) { return true; }))
    require_plain_numbers_in(*sub);
}

}  // namespace

std::string unknown_command(const CLI::App& app, std::string_view given) {
  std::vector<std::string> names;
  std::string listed;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
    listed += (listed.empty() ? "" : ", ") + sub->get_name();
  }
  std::string message = "no command '" + std::string(given) + "' (the commands: " + listed + ")";
  // Two letters are one edit from too many words to guess from; "rn" is most likely "run".
  std::string meant = closest_flag(given, names);
  if (meant.empty() && given.size() == 2)
    for (const std::string& name : names)
      if (name.size() == 3 && name.front() == given.front() && name.back() == given.back()) meant = name;
  if (!meant.empty()) message += "; did you mean " + meant + "?";
  return message;
}

std::string conversion_error(std::string_view what) {
  constexpr std::string_view kPrefix = "Could not convert: ";
  const size_t equals = what.find(" = ");
  if (!what.starts_with(kPrefix) || equals == std::string_view::npos) return std::string(what);
  const std::string_view name = what.substr(kPrefix.size(), equals - kPrefix.size());
  return std::string(name) + ": '" + std::string(what.substr(equals + 3)) + "' is out of range";
}

void require_plain_numbers(CLI::App& app) {
  require_plain_numbers_in(app);
}

}  // namespace crawl::cli
