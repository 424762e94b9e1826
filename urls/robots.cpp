#include "urls/robots.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/text.hpp"

namespace crawl::urls {

struct RobotsRule {
  std::string pattern;  // normalised (see normalise()); runs of '*' collapsed; a final '$' anchors
  size_t octets = 0;    // length of the normalised pattern: the longest matching rule wins (2.2.2)
  bool allow = false;
  std::string text;  // "Disallow: /private/" as written, for matching_rule()
};

struct RobotsRules {
  std::vector<RobotsRule> rules;  // most specific first, allow before disallow at equal length
  std::optional<std::chrono::milliseconds> crawl_delay;
};

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr char kHexDigits[] = "0123456789ABCDEF";

// "crawl/0.1.0" and "crawl 0.1" both name the product "crawl" (RFC 9309 2.2.1).
std::string_view product_token(std::string_view user_agent) {
  user_agent = trim_blanks(user_agent);
  return user_agent.substr(0, user_agent.find_first_of("/ \t"));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = ascii_lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool is_unreserved(unsigned char c) {  // RFC 3986 2.3
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

void append_percent_encoded(std::string& out, unsigned char c) {
  out += '%';
  out += kHexDigits[c >> 4];
  out += kHexDigits[c & 0xF];
}

enum class Side { kPattern, kPath };

// One spelling for each octet, so that a pattern and a path naming the same URL compare equal
// (RFC 9309 2.2.2): %XX of an unreserved character becomes the character (%7E is ~), other %XX
// keep their meaning with upper-case hex (%2f is %2F, never '/': '/' is reserved and the two differ),
// and raw octets that cannot stand in a URL (non-ASCII, controls, space, a '%' starting no escape)
// are percent-encoded. '*' and '$' are the pattern's wildcards; a literal one (in a path, or '$'
// not at the end of a pattern) becomes %2A / %24, which is how a pattern matches them (2.2.3).
std::string normalise(std::string_view in, Side side) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
      const auto decoded = static_cast<unsigned char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
      if (is_unreserved(decoded)) {
        out += static_cast<char>(decoded);
      } else {
        append_percent_encoded(out, decoded);
      }
      i += 2;
    } else if (side == Side::kPattern && (c == '*' || (c == '$' && i + 1 == in.size()))) {
      out += static_cast<char>(c);
    } else if (c == '%' || c == '*' || c == '$' || c <= 0x20 || c >= 0x7F) {
      append_percent_encoded(out, c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string normalise_path(std::string_view path_and_query) {
  std::string path = normalise(path_and_query, Side::kPath);
  if (path.empty() || path.front() != '/') path.insert(0, 1, '/');
  return path;
}

// First occurrence of `needle` in `haystack` at or after `from` (npos if none), by Knuth-Morris-Pratt.
// string_view::find is O(n*m) on inputs such as "aaa...ab" in "aaa...a", and a hostile site writes
// both sides: its robots.txt and the links that become paths. `border` is scratch space.
size_t find_linear(std::string_view haystack, std::string_view needle, size_t from,
                   std::vector<size_t>& border) {
  if (needle.empty()) return from;
  if (haystack.size() - from < needle.size()) return std::string_view::npos;
  border.assign(needle.size(), 0);
  for (size_t i = 1, k = 0; i < needle.size(); ++i) {
    while (k > 0 && needle[i] != needle[k]) k = border[k - 1];
    if (needle[i] == needle[k]) ++k;
    border[i] = k;
  }
  for (size_t i = from, k = 0; i < haystack.size(); ++i) {
    while (k > 0 && haystack[i] != needle[k]) k = border[k - 1];
    if (haystack[i] == needle[k]) ++k;
    if (k == needle.size()) return i + 1 - k;
  }
  return std::string_view::npos;
}

// Whether normalised `pattern` matches normalised `path` from its start: '*' stands for any run of
// octets, a final '$' for the end of the path. Each literal piece between two '*' is taken at its
// first occurrence after the previous piece; with '*' the only wildcard that choice never loses a
// match (it leaves the most path for the rest), so there is no backtracking and the time is linear
// in the pattern and path lengths however many '*' there are.
bool matches(std::string_view pattern, std::string_view path, std::vector<size_t>& scratch) {
  const bool anchored = !pattern.empty() && pattern.back() == '$';
  if (anchored) pattern.remove_suffix(1);
  size_t star = pattern.find('*');
  if (star == std::string_view::npos) return anchored ? path == pattern : path.starts_with(pattern);
  if (!path.starts_with(pattern.substr(0, star))) return false;
  size_t position = star;
  pattern.remove_prefix(star + 1);
  while ((star = pattern.find('*')) != std::string_view::npos) {
    const std::string_view piece = pattern.substr(0, star);
    const size_t found = find_linear(path, piece, position, scratch);
    if (found == std::string_view::npos) return false;
    position = found + piece.size();
    pattern.remove_prefix(star + 1);
  }
  // `pattern` is now the piece after the last '*'.
  if (anchored) return path.size() - position >= pattern.size() && path.ends_with(pattern);
  return find_linear(path, pattern, position, scratch) != std::string_view::npos;
}

std::optional<RobotsRule> make_rule(bool allow, std::string_view value) {
  // An empty value matches nothing (2.2.2: "disallow:" forbids nothing).
  if (value.empty()) return std::nullopt;
  RobotsRule rule;
  rule.pattern = normalise(value, Side::kPattern);
  rule.octets = rule.pattern.size();
  // "/a***b" means "/a*b"; fewer pieces to match, and a file of stars costs no memory.
  rule.pattern.erase(std::unique(rule.pattern.begin(), rule.pattern.end(),
                                 [](char a, char b) { return a == '*' && b == '*'; }),
                     rule.pattern.end());
  rule.allow = allow;
  rule.text = std::string(allow ? "Allow: " : "Disallow: ") + std::string(value);
  return rule;
}

// Seconds as digits with an optional fraction ("5", "0.5", ".5"); nothing else, not negative.
std::optional<std::chrono::milliseconds> parse_crawl_delay(std::string_view value) {
  const int64_t cap = Robots::kMaxCrawlDelay.count();
  int64_t whole_seconds = 0;
  int64_t fraction_ms = 0;
  bool any_digit = false;
  size_t i = 0;
  for (; i < value.size() && value[i] >= '0' && value[i] <= '9'; ++i) {
    any_digit = true;
    whole_seconds = std::min<int64_t>(whole_seconds * 10 + (value[i] - '0'), cap);  // no overflow
  }
  if (i < value.size() && value[i] == '.') {
    int64_t place = 100;
    for (++i; i < value.size() && value[i] >= '0' && value[i] <= '9'; ++i) {
      any_digit = true;
      fraction_ms += (value[i] - '0') * place;
      place /= 10;
    }
  }
  if (!any_digit || i != value.size()) return std::nullopt;
  return std::chrono::milliseconds(std::min(whole_seconds * 1000 + fraction_ms, cap));
}

// What the groups of one kind (those naming our product, or `*`) say, merged.
struct MergedGroups {
  bool seen = false;
  std::vector<RobotsRule> rules;
  std::optional<std::chrono::milliseconds> crawl_delay;

  void add(std::optional<RobotsRule> rule) {
    if (rule && rules.size() < Robots::kMaxRules) rules.push_back(std::move(*rule));
  }
};

// Cuts `text` to what is parsed: no BOM, at most kMaxParsedBytes, and no line cut short by that.
std::string_view parsed_part(std::string_view text) {
  if (text.starts_with(kBom)) text.remove_prefix(kBom.size());
  if (text.size() > Robots::kMaxParsedBytes) {
    text = text.substr(0, Robots::kMaxParsedBytes);
    const size_t last_end = text.find_last_of("\r\n");
    text = text.substr(0, last_end == std::string_view::npos ? 0 : last_end);
  }
  return text;
}

}  // namespace

Robots Robots::parse(std::string_view text, std::string_view user_agent) {
  const std::string_view our_token = product_token(user_agent);
  MergedGroups specific, global;
  // The group being read: whether it names us and/or `*`. A user-agent line after a rule starts a
  // new group; consecutive user-agent lines share one (2.1, 2.2.1).
  bool group_is_ours = false, group_is_global = false, reading_agents = false;
  text = parsed_part(text);
  while (!text.empty()) {
    const size_t end = text.find_first_of("\r\n");
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);

    line = line.substr(0, line.find('#'));
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = trim_blanks(line.substr(0, colon));
    const std::string_view value = trim_blanks(line.substr(colon + 1));

    if (iequals(key, "user-agent")) {
      if (!reading_agents) group_is_ours = group_is_global = false;
      reading_agents = true;
      const std::string_view token = product_token(value);
      if (token == "*") {
        group_is_global = global.seen = true;
      } else if (!our_token.empty() && iequals(token, our_token)) {
        group_is_ours = specific.seen = true;
      }
    } else if (iequals(key, "allow") || iequals(key, "disallow")) {
      reading_agents = false;
      const bool allow = iequals(key, "allow");
      if (group_is_ours) specific.add(make_rule(allow, value));
      if (group_is_global) global.add(make_rule(allow, value));
    } else if (iequals(key, "crawl-delay")) {
      // Not in RFC 9309, whose other records "MUST NOT interfere" with parsing (2.2.4), so unlike a
      // rule it does not end the user-agent lines of a group (Google's reference parser agrees). It
      // applies to the agents named above it: "User-agent: a / Crawl-delay: 5 / User-agent: b"
      // slows a, not b, as its writer meant.
      const auto delay = parse_crawl_delay(value);
      if (group_is_ours && !specific.crawl_delay) specific.crawl_delay = delay;
      if (group_is_global && !global.crawl_delay) global.crawl_delay = delay;
    }
    // sitemap and unknown keys: not group members, ignored.
  }

  MergedGroups& chosen = specific.seen ? specific : global;
  auto rules = std::make_shared<RobotsRules>();
  rules->rules = std::move(chosen.rules);
  rules->crawl_delay = chosen.crawl_delay;
  std::stable_sort(rules->rules.begin(), rules->rules.end(), [](const RobotsRule& a, const RobotsRule& b) {
    return a.octets != b.octets ? a.octets > b.octets : a.allow && !b.allow;
  });
  return Robots(std::move(rules));
}

Robots Robots::allow_all() {
  return Robots(std::make_shared<RobotsRules>());
}

Robots Robots::disallow_all(std::string_view why) {
  auto rules = std::make_shared<RobotsRules>();
  std::string text = "Disallow: / (robots.txt unavailable";
  if (!why.empty()) text.append(": ").append(why);
  text += ')';
  rules->rules.push_back({.pattern = "/", .octets = 1, .allow = false, .text = std::move(text)});
  return Robots(std::move(rules));
}

namespace {

// The rule that decides `path_and_query`, or nullptr when none matches (so it is allowed).
const RobotsRule* deciding_rule(const RobotsRules& rules, std::string_view path_and_query) {
  const std::string path = normalise_path(path_and_query);
  // 2.2.2: "/robots.txt" is implicitly allowed, whatever the rules say.
  if (std::string_view(path).substr(0, path.find('?')) == "/robots.txt") return nullptr;
  std::vector<size_t> scratch;
  // Sorted most specific first with allow ahead on ties, so the first match is the answer.
  for (const RobotsRule& rule : rules.rules)
    if (matches(rule.pattern, path, scratch)) return &rule;
  return nullptr;
}

}  // namespace

bool Robots::allowed(std::string_view path_and_query) const {
  const RobotsRule* rule = deciding_rule(*rules_, path_and_query);
  return rule == nullptr || rule->allow;
}

std::optional<std::chrono::milliseconds> Robots::crawl_delay() const {
  return rules_->crawl_delay;
}

std::string Robots::matching_rule(std::string_view path_and_query) const {
  const RobotsRule* rule = deciding_rule(*rules_, path_and_query);
  return rule == nullptr ? std::string() : rule->text;
}

}  // namespace crawl::urls
