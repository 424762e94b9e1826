#include "urls/robots.hpp"

#include <gtest/gtest.h>
#include <time.h>

#include <cctype>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

// Expected values come from RFC 9309 and Google's robots.txt documentation, worked out by hand.

namespace crawl::urls {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kOurAgent = "crawl/0.1.0";

// GoogleTest names may hold only letters, digits and '_'.
std::string test_name(size_t index, std::string_view text) {
  std::string name = std::to_string(index) + "_";
  for (char c : text) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

// ---- Whole files: robots text, crawler User-Agent, path, expected answer ----

struct FileCase {
  std::string_view name;
  std::string_view robots;
  std::string_view user_agent;
  std::string_view path;
  bool allowed;
};

std::ostream& operator<<(std::ostream& out, const FileCase& c) {
  return out << c.name << ": " << c.user_agent << " " << c.path;
}

// RFC 9309 5.1, with the figure's closing "EOF" line (no ':', so ignored).
constexpr std::string_view kRfcSimple =
    "User-Agent: *\n"
    "Disallow: *.gif$\n"
    "Disallow: /example/\n"
    "Allow: /publications/\n"
    "\n"
    "User-Agent: foobot\n"
    "Disallow:/\n"
    "Allow:/example/page.html\n"
    "Allow:/example/allowed.gif\n"
    "\n"
    "User-Agent: barbot\n"
    "User-Agent: bazbot\n"
    "Disallow: /example/page.html\n"
    "\n"
    "User-Agent: quxbot\n"
    "\n"
    "EOF\n";

// RFC 9309 5.2: the longest match wins.
constexpr std::string_view kRfcLongestMatch =
    "User-Agent: foobot\n"
    "Allow: /example/page/\n"
    "Disallow: /example/page/disallowed.gif\n";

// RFC 9309 2.2.1: two groups for one product are merged.
constexpr std::string_view kRfcMerged =
    "user-agent: ExampleBot\n"
    "disallow: /foo\n"
    "disallow: /bar\n"
    "\n"
    "user-agent: ExampleBot\n"
    "disallow: /baz\n";

const FileCase kFileCases[] = {
    // RFC 9309 5.1
    {"rfc_foobot_allowed_page", kRfcSimple, "foobot", "/example/page.html", true},
    {"rfc_foobot_allowed_gif", kRfcSimple, "foobot", "/example/allowed.gif", true},
    {"rfc_foobot_other_page", kRfcSimple, "foobot", "/example/other.html", false},
    {"rfc_foobot_root", kRfcSimple, "foobot", "/", false},
    {"rfc_foobot_ignores_star_group", kRfcSimple, "foobot", "/publications/", false},
    {"rfc_foobot_token_with_version_any_case", kRfcSimple, "FooBot/2.1", "/example/other.html", false},
    {"rfc_barbot_page", kRfcSimple, "barbot", "/example/page.html", false},
    {"rfc_barbot_other", kRfcSimple, "barbot", "/example/other.html", true},
    {"rfc_bazbot_page", kRfcSimple, "bazbot/1.0", "/example/page.html", false},
    {"rfc_bazbot_gif_not_star_rules", kRfcSimple, "bazbot", "/image.gif", true},
    {"rfc_quxbot_empty_group_allows_page", kRfcSimple, "quxbot", "/example/page.html", true},
    {"rfc_quxbot_empty_group_allows_gif", kRfcSimple, "quxbot", "/image.gif", true},
    {"rfc_star_gif", kRfcSimple, kOurAgent, "/image.gif", false},
    {"rfc_star_gif_with_query_not_at_end", kRfcSimple, kOurAgent, "/image.gif?size=2", true},
    {"rfc_star_example_dir", kRfcSimple, kOurAgent, "/example/", false},
    {"rfc_star_example_page", kRfcSimple, kOurAgent, "/example/page.html", false},
    {"rfc_star_publications", kRfcSimple, kOurAgent, "/publications/", true},
    {"rfc_star_publications_gif_longer_allow", kRfcSimple, kOurAgent, "/publications/cover.gif", true},
    {"rfc_star_other", kRfcSimple, kOurAgent, "/index.html", true},
    // RFC 9309 5.2
    {"rfc_longest_allow_dir", kRfcLongestMatch, "foobot", "/example/page/", true},
    {"rfc_longest_disallowed_gif", kRfcLongestMatch, "foobot", "/example/page/disallowed.gif", false},
    {"rfc_longest_other_gif", kRfcLongestMatch, "foobot", "/example/page/allowed.gif", true},
    {"rfc_longest_no_rule", kRfcLongestMatch, "foobot", "/example/", true},
    // RFC 9309 2.2.1 merging
    {"rfc_merged_first_group", kRfcMerged, "examplebot", "/foo", false},
    {"rfc_merged_first_group_2", kRfcMerged, "examplebot", "/bar/x", false},
    {"rfc_merged_second_group", kRfcMerged, "examplebot", "/baz", false},
    {"rfc_merged_other", kRfcMerged, "examplebot", "/qux", true},

    // Precedence (RFC 9309 2.2.2; Google's documented examples)
    {"longer_allow_wins", "user-agent: *\nallow: /p\ndisallow: /\n", kOurAgent, "/page", true},
    {"tie_allow_wins", "user-agent: *\nallow: /folder\ndisallow: /folder\n", kOurAgent, "/folder/page", true},
    {"tie_allow_wins_either_order", "user-agent: *\ndisallow: /folder\nallow: /folder\n", kOurAgent,
     "/folder/page", true},
    {"longer_wildcard_disallow_wins", "user-agent: *\nallow: /page\ndisallow: /*.htm\n", kOurAgent,
     "/page.htm", false},
    {"wildcard_tie_allow_wins", "user-agent: *\nallow: /page\ndisallow: /*.ph\n", kOurAgent, "/page.php5",
     true},
    {"anchored_root_allowed", "user-agent: *\nallow: /$\ndisallow: /\n", kOurAgent, "/", true},
    {"anchored_root_other_page", "user-agent: *\nallow: /$\ndisallow: /\n", kOurAgent, "/page.htm", false},
    {"longer_disallow_wins", "user-agent: *\nallow: /a\ndisallow: /a/b\n", kOurAgent, "/a/b/c", false},

    // Groups
    {"agent_case_insensitive", "User-agent: CRAWL\nDisallow: /x\n", kOurAgent, "/x", false},
    {"agent_line_with_version", "User-agent: crawl/2.0\nDisallow: /x\n", kOurAgent, "/x", false},
    {"agent_without_version", "User-agent: crawl\nDisallow: /x\n", "crawl", "/x", false},
    {"agent_with_comment_after_space", "User-agent: crawl\nDisallow: /x\n",
     "crawl (+https://e.example.test/bot)", "/x", false},
    {"longer_product_not_ours", "User-agent: crawler\nDisallow: /\n", kOurAgent, "/x", true},
    {"shorter_product_not_ours", "User-agent: craw\nDisallow: /\n", kOurAgent, "/x", true},
    {"specific_over_star_after", "User-agent: *\nDisallow: /\n\nUser-agent: crawl\nDisallow: /private\n",
     kOurAgent, "/public", true},
    {"specific_over_star_after_rule", "User-agent: *\nDisallow: /\n\nUser-agent: crawl\nDisallow: /private\n",
     kOurAgent, "/private", false},
    {"specific_over_star_before", "User-agent: crawl\nDisallow: /private\n\nUser-agent: *\nDisallow: /\n",
     kOurAgent, "/public", true},
    {"fallback_to_star", "User-agent: otherbot\nAllow: /\n\nUser-agent: *\nDisallow: /\n", kOurAgent, "/x",
     false},
    {"no_group_allows_all", "User-agent: otherbot\nDisallow: /\n", kOurAgent, "/x", true},
    {"empty_file_allows_all", "", kOurAgent, "/x", true},
    {"rules_before_any_agent_ignored", "Disallow: /\nUser-agent: *\nDisallow: /private\n", kOurAgent,
     "/public", true},
    {"merged_first",
     "User-agent: crawl\nDisallow: /a\n\nUser-agent: *\nDisallow: /b\n\nUser-agent: crawl\n"
     "Disallow: /c\n",
     kOurAgent, "/a", false},
    {"merged_last",
     "User-agent: crawl\nDisallow: /a\n\nUser-agent: *\nDisallow: /b\n\nUser-agent: crawl\n"
     "Disallow: /c\n",
     kOurAgent, "/c", false},
    {"merged_not_star",
     "User-agent: crawl\nDisallow: /a\n\nUser-agent: *\nDisallow: /b\n\nUser-agent: crawl\n"
     "Disallow: /c\n",
     kOurAgent, "/b", true},
    {"shared_group", "User-agent: otherbot\nUser-agent: crawl\nDisallow: /x\n", kOurAgent, "/x", false},
    {"blank_line_does_not_split_agents", "User-agent: otherbot\n\nUser-agent: crawl\nDisallow: /x\n",
     kOurAgent, "/x", false},
    {"rule_ends_agent_lines", "User-agent: crawl\nDisallow: /a\nUser-agent: otherbot\nDisallow: /b\n",
     kOurAgent, "/b", true},
    {"empty_disallow_ends_agent_lines", "User-agent: crawl\nDisallow:\nUser-agent: otherbot\nDisallow: /\n",
     kOurAgent, "/x", true},
    {"crawl_delay_does_not_end_agent_lines",
     "User-agent: otherbot\nCrawl-delay: 7\nUser-agent: crawl\n"
     "Disallow: /x\n",
     kOurAgent, "/x", false},
    {"unknown_key_does_not_end_agent_lines",
     "User-agent: crawl\nNoindex: /x\nUser-agent: otherbot\n"
     "Disallow: /y\n",
     kOurAgent, "/y", false},
    // The RFC grammar (and Google's parser) read this as one group {*, badbot} disallowing all; a
    // later `*` group with an empty disallow merges in but allows nothing more.
    {"crawl_delay_only_group_joins_next",
     "User-agent: *\nCrawl-delay: 10\n\nUser-agent: badbot\nDisallow: /\n\n"
     "User-agent: *\nDisallow:\n",
     kOurAgent, "/x", false},
    {"sitemap_does_not_end_agent_lines",
     "User-agent: crawl\nSitemap: https://e.example.test/s.xml\n"
     "User-agent: otherbot\nDisallow: /y\n",
     kOurAgent, "/y", false},
    {"sitemap_does_not_end_group",
     "User-agent: *\nDisallow: /a\nSitemap: https://e.example.test/s.xml\n"
     "Disallow: /b\n",
     kOurAgent, "/b", false},

    // Lines
    {"keys_case_insensitive", "USER-AGENT: *\nDISALLOW: /x\n", kOurAgent, "/x", false},
    {"keys_mixed_case", "uSeR-aGeNt: crawl\ndIsAlLoW: /x\n", kOurAgent, "/x", false},
    {"whitespace_trimmed", "  User-agent  :   crawl  \n\t Disallow \t:\t/x\t\n", kOurAgent, "/x", false},
    {"empty_disallow_matches_nothing", "User-agent: *\nDisallow:\n", kOurAgent, "/x", true},
    {"empty_disallow_with_spaces", "User-agent: *\nDisallow:   \n", kOurAgent, "/", true},
    {"empty_disallow_beside_rule", "User-agent: *\nDisallow:\nDisallow: /y\n", kOurAgent, "/y", false},
    {"comment_after_value", "User-agent: * # everyone\nDisallow: /x # not x\n", kOurAgent, "/x", false},
    {"commented_rule_ignored", "User-agent: *\n# Disallow: /y\nDisallow: /x\n", kOurAgent, "/y", true},
    {"comment_cuts_pattern", "User-agent: *\nDisallow: /x#y\n", kOurAgent, "/xz", false},
    {"line_without_colon_ignored", "User-agent: *\nDisallow /x\nDisallow: /y\n", kOurAgent, "/x", true},
    {"line_without_colon_keeps_group", "User-agent: *\nDisallow /x\nDisallow: /y\n", kOurAgent, "/y", false},
    {"colon_in_value", "User-agent: *\nDisallow: /a:b\n", kOurAgent, "/a:b", false},
    {"crlf", "User-agent: *\r\nDisallow: /x\r\n", kOurAgent, "/x", false},
    {"crlf_other_path", "User-agent: *\r\nDisallow: /x\r\n", kOurAgent, "/y", true},
    {"cr_only", "User-agent: *\rDisallow: /x\rDisallow: /y", kOurAgent, "/y", false},
    {"mixed_endings_no_final_newline", "User-agent: *\r\nAllow: /x/y\rDisallow: /x", kOurAgent, "/x/z",
     false},
    {"bom", "\xEF\xBB\xBFUser-agent: *\nDisallow: /x\n", kOurAgent, "/x", false},

    // /robots.txt (RFC 9309 2.2.2: implicitly allowed)
    {"robots_txt_allowed", "User-agent: *\nDisallow: /\n", kOurAgent, "/robots.txt", true},
    {"robots_txt_explicitly_disallowed", "User-agent: *\nDisallow: /robots.txt\n", kOurAgent, "/robots.txt",
     true},
    {"robots_txt_longer_path_not_special", "User-agent: *\nDisallow: /\n", kOurAgent, "/robots.txt.bak",
     false},
    {"robots_txt_in_folder_not_special", "User-agent: *\nDisallow: /\n", kOurAgent, "/a/robots.txt", false},

    // Paths given oddly
    {"empty_path_is_root", "User-agent: *\nDisallow: /$\n", kOurAgent, "", false},
    {"query_only_path", "User-agent: *\nDisallow: /?\n", kOurAgent, "?q=1", false},
    {"paths_case_sensitive", "User-agent: *\nDisallow: /Private\n", kOurAgent, "/private", true},
};

class RobotsFile : public testing::TestWithParam<FileCase> {};

TEST_P(RobotsFile, Decides) {
  const FileCase& c = GetParam();
  EXPECT_EQ(Robots::parse(c.robots, c.user_agent).allowed(c.path), c.allowed);
}

INSTANTIATE_TEST_SUITE_P(Cases, RobotsFile, testing::ValuesIn(kFileCases),
                         [](const auto& info) { return test_name(info.index, info.param.name); });

// ---- Patterns: does a `Disallow: <pattern>` rule match the path ----

struct PatternCase {
  std::string_view pattern;
  std::string_view path;
  bool matches;
};

std::ostream& operator<<(std::ostream& out, const PatternCase& c) {
  return out << "Disallow: " << c.pattern << " vs " << c.path;
}

const PatternCase kPatternCases[] = {
    // Google's documented examples
    {"/fish", "/fish", true},
    {"/fish", "/fish.html", true},
    {"/fish", "/fish/salmon.html", true},
    {"/fish", "/fishheads", true},
    {"/fish", "/fishheads/yummy.html", true},
    {"/fish", "/fish.php?id=anything", true},
    {"/fish", "/Fish.asp", false},
    {"/fish", "/catfish", false},
    {"/fish", "/?id=fish", false},
    {"/fish", "/desert/fish", false},
    {"/fish*", "/fish", true},
    {"/fish*", "/fish.html", true},
    {"/fish*", "/fishheads/yummy.html", true},
    {"/fish*", "/fish.php?id=anything", true},
    {"/fish*", "/Fish.asp", false},
    {"/fish*", "/catfish", false},
    {"/fish*", "/?id=fish", false},
    {"/fish/", "/fish/", true},
    {"/fish/", "/fish/?id=anything", true},
    {"/fish/", "/fish/salmon.htm", true},
    {"/fish/", "/fish", false},
    {"/fish/", "/fish.html", false},
    {"/fish/", "/animals/fish/", false},
    {"/fish/", "/Fish/Salmon.asp", false},
    {"/*.php", "/index.php", true},
    {"/*.php", "/filename.php", true},
    {"/*.php", "/folder/filename.php", true},
    {"/*.php", "/folder/filename.php?parameters", true},
    {"/*.php", "/folder/any.php.file.html", true},
    {"/*.php", "/filename.php/", true},
    {"/*.php", "/", false},
    {"/*.php", "/windows.PHP", false},
    {"/*.php$", "/filename.php", true},
    {"/*.php$", "/folder/filename.php", true},
    {"/*.php$", "/filename.php?parameters", false},
    {"/*.php$", "/filename.php/", false},
    {"/*.php$", "/filename.php5", false},
    {"/*.php$", "/windows.PHP", false},
    {"/fish*.php", "/fish.php", true},
    {"/fish*.php", "/fishheads/catfish.php?parameters", true},
    {"/fish*.php", "/Fish.PHP", false},
    {"/", "/", true},
    {"/", "/anything/at/all", true},
    {"/*", "/", true},
    {"/*", "/x?y", true},
    // More '*' and '$'
    {"*.gif$", "/a/b.gif", true},
    {"*.gif$", "/a/b.gif.html", false},
    {"/a*b*c", "/axxbyyc", true},
    {"/a*b*c", "/axxcyyb", false},
    {"/a*b*c$", "/abcabc", true},
    {"/a*bc$", "/abcbc", true},
    {"/a*b$", "/ab/", false},
    {"/a**b", "/axb", true},
    {"/a*", "/a", true},
    {"/$", "/", true},
    {"/$", "/a", false},
    {"/fish$", "/fish", true},
    {"/fish$", "/fish?x=1", false},
    {"/*?", "/page?x=1", true},
    {"/*?", "/page", false},
    {"/foo$bar", "/foo$bar", true},  // '$' not at the end is an ordinary character
    {"/foo$bar", "/foo", false},
    // RFC 9309 2.2.3: a literal '*' or '$' is written percent-encoded in a pattern
    {"/path/file-with-a-%2A.html", "/path/file-with-a-*.html", true},
    {"/path/file-with-a-%2A.html", "/path/file-with-a-x.html", false},
    {"/path/foo-%24", "/path/foo-$", true},
    {"/path/foo-%24", "/path/foo-", false},
    // Percent-encoding (RFC 9309 2.2.2)
    {"/%7Efoo", "/~foo", true},
    {"/~foo", "/%7Efoo", true},
    {"/%7efoo", "/%7Efoo", true},
    {"/%62%61%7A", "/baz", true},
    {"/a%2fb", "/a/b", false},
    {"/a/b", "/a%2Fb", false},
    {"/a%2fb", "/a%2Fb", true},
    {"/foo/bar/\xE3\x83\x84", "/foo/bar/%E3%83%84", true},
    {"/foo/bar/%e3%83%84", "/foo/bar/%E3%83%84", true},
    {"/foo/bar/%E3%83%84", "/foo/bar/\xE3\x83\x84", true},
    {"/foo/bar/\xE3\x83\x84", "/foo/bar/%E3%83%85", false},
    {"/a b", "/a%20b", true},
    {"/100%", "/100%25", true},
    {"/100%", "/1000", false},
    {"/q?a=%41", "/q?a=A", true},
};

class RobotsPattern : public testing::TestWithParam<PatternCase> {};

TEST_P(RobotsPattern, Matches) {
  const PatternCase& c = GetParam();
  const Robots robots = Robots::parse("User-agent: *\nDisallow: " + std::string(c.pattern) + "\n", kOurAgent);
  EXPECT_EQ(robots.allowed(c.path), !c.matches);
  EXPECT_EQ(robots.matching_rule(c.path), c.matches ? "Disallow: " + std::string(c.pattern) : "");
}

INSTANTIATE_TEST_SUITE_P(Cases, RobotsPattern, testing::ValuesIn(kPatternCases), [](const auto& info) {
  return test_name(info.index, std::string(info.param.pattern) + "_" + std::string(info.param.path));
});

// ---- Crawl-delay ----

struct DelayCase {
  std::string_view name;
  std::string_view robots;
  std::optional<milliseconds> delay;
};

std::ostream& operator<<(std::ostream& out, const DelayCase& c) {
  return out << c.name;
}

const DelayCase kDelayCases[] = {
    {"integer", "User-agent: *\nCrawl-delay: 5\n", milliseconds(5000)},
    {"fraction", "User-agent: *\nCrawl-delay: 0.5\n", milliseconds(500)},
    {"fraction_without_integer", "User-agent: *\nCrawl-delay: .25\n", milliseconds(250)},
    {"sub_millisecond_truncated", "User-agent: *\nCrawl-delay: 1.2345\n", milliseconds(1234)},
    {"zero", "User-agent: *\nCrawl-delay: 0\n", milliseconds(0)},
    {"key_case_and_comment", "User-agent: *\nCRAWL-DELAY:  4  # be nice\n", milliseconds(4000)},
    {"capped", "User-agent: *\nCrawl-delay: 3600\n", milliseconds(60'000)},
    {"huge_capped", "User-agent: *\nCrawl-delay: 99999999999999999999999999\n", milliseconds(60'000)},
    {"letters_invalid", "User-agent: *\nCrawl-delay: abc\n", std::nullopt},
    {"negative_invalid", "User-agent: *\nCrawl-delay: -1\n", std::nullopt},
    {"unit_invalid", "User-agent: *\nCrawl-delay: 5s\n", std::nullopt},
    {"exponent_invalid", "User-agent: *\nCrawl-delay: 1e3\n", std::nullopt},
    {"dot_invalid", "User-agent: *\nCrawl-delay: .\n", std::nullopt},
    {"empty_invalid", "User-agent: *\nCrawl-delay:\n", std::nullopt},
    {"first_valid_kept", "User-agent: *\nCrawl-delay: x\nCrawl-delay: 3\nCrawl-delay: 9\n",
     milliseconds(3000)},
    {"none", "User-agent: *\nDisallow: /x\n", std::nullopt},
    {"before_any_agent_ignored", "Crawl-delay: 5\nUser-agent: *\nDisallow: /x\n", std::nullopt},
    {"from_our_group", "User-agent: *\nCrawl-delay: 10\n\nUser-agent: crawl\nCrawl-delay: 2\nDisallow:\n",
     milliseconds(2000)},
    {"our_group_without_delay", "User-agent: *\nCrawl-delay: 10\n\nUser-agent: crawl\nDisallow: /x\n",
     std::nullopt},
    {"from_star_when_no_group_is_ours",
     "User-agent: *\nCrawl-delay: 10\n\nUser-agent: otherbot\nCrawl-delay: 1\n", milliseconds(10'000)},
    {"from_merged_second_group", "User-agent: crawl\nDisallow: /a\n\nUser-agent: crawl\nCrawl-delay: 6\n",
     milliseconds(6000)},
    // Crawl-delay does not end the user-agent lines (see kFileCases) but applies to those above it.
    {"applies_to_agents_named_above_it",
     "User-agent: otherbot\nCrawl-delay: 7\nUser-agent: crawl\nDisallow: /x\n", std::nullopt},
    {"applies_to_agents_named_above_it_2",
     "User-agent: crawl\nCrawl-delay: 7\nUser-agent: otherbot\nDisallow: /x\n", milliseconds(7000)},
};

class RobotsCrawlDelay : public testing::TestWithParam<DelayCase> {};

TEST_P(RobotsCrawlDelay, Parses) {
  const DelayCase& c = GetParam();
  EXPECT_EQ(Robots::parse(c.robots, kOurAgent).crawl_delay(), c.delay);
}

INSTANTIATE_TEST_SUITE_P(Cases, RobotsCrawlDelay, testing::ValuesIn(kDelayCases),
                         [](const auto& info) { return test_name(info.index, info.param.name); });

// ---- The rest ----

TEST(Robots, AllowAllAndDisallowAll) {
  const Robots open = Robots::allow_all();
  EXPECT_TRUE(open.allowed("/"));
  EXPECT_TRUE(open.allowed("/private/x?y=1"));
  EXPECT_EQ(open.matching_rule("/private/x"), "");
  EXPECT_EQ(open.crawl_delay(), std::nullopt);

  const Robots closed = Robots::disallow_all();
  EXPECT_FALSE(closed.allowed("/"));
  EXPECT_FALSE(closed.allowed("/private/x?y=1"));
  EXPECT_FALSE(closed.allowed(""));
  EXPECT_TRUE(closed.allowed("/robots.txt"));
  EXPECT_EQ(closed.matching_rule("/x"), "Disallow: / (robots.txt unavailable)");
  EXPECT_EQ(closed.matching_rule("/robots.txt"), "");
  EXPECT_EQ(Robots::disallow_all("HTTP 503").matching_rule("/x"),
            "Disallow: / (robots.txt unavailable: HTTP 503)");
  EXPECT_EQ(closed.crawl_delay(), std::nullopt);
}

TEST(Robots, MatchingRuleNamesTheDecidingRuleAsWritten) {
  const Robots robots = Robots::parse(
      "User-agent: *\n"
      "disallow:   /private/   # keep out\n"
      "ALLOW: /private/open\n"
      "Disallow: /%7Euser\n",
      kOurAgent);
  EXPECT_EQ(robots.matching_rule("/private/x"), "Disallow: /private/");
  EXPECT_EQ(robots.matching_rule("/private/open/1"), "Allow: /private/open");
  EXPECT_EQ(robots.matching_rule("/~user/home"), "Disallow: /%7Euser");
  EXPECT_EQ(robots.matching_rule("/public"), "");
  EXPECT_EQ(robots.matching_rule("/robots.txt"), "");
}

TEST(Robots, CopiesShareTheRules) {
  const Robots original = Robots::parse("User-agent: *\nDisallow: /x\nCrawl-delay: 1\n", kOurAgent);
  const Robots copy = original;
  EXPECT_FALSE(copy.allowed("/x"));
  EXPECT_TRUE(copy.allowed("/y"));
  EXPECT_EQ(copy.crawl_delay(), milliseconds(1000));
}

// The bounds of the two tests below only catch work that grows faster than the input: they are many
// times what matching takes. They count this thread's CPU time, which other work on the machine
// does not stretch as it stretches the wall clock, and a sanitizer's instrumentation makes every
// match several times slower.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double kSlowdown = 5;
#else
constexpr double kSlowdown = 1;
#endif

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Backtracking matchers take exponential time on many '*'; ours must stay linear.
TEST(Robots, ManyStarsAgainstALongPathAreFast) {
  std::string stars_then_letters = "/";
  for (int i = 0; i < 5000; ++i) stars_then_letters += "*a";
  const std::string path = "/" + std::string(10'000, 'a');
  const std::string only_stars = "/" + std::string(5000, '*') + "b";

  const double start = thread_cpu_seconds();
  EXPECT_FALSE(
      Robots::parse("User-agent: *\nDisallow: " + stars_then_letters + "\n", kOurAgent).allowed(path));
  EXPECT_TRUE(
      Robots::parse("User-agent: *\nDisallow: " + stars_then_letters + "*b\n", kOurAgent).allowed(path));
  EXPECT_TRUE(Robots::parse("User-agent: *\nDisallow: " + only_stars + "\n", kOurAgent).allowed(path));
  EXPECT_FALSE(Robots::parse("User-agent: *\nDisallow: " + only_stars + "\n", kOurAgent).allowed(path + "b"));
  EXPECT_LT(thread_cpu_seconds() - start, 2 * kSlowdown);
}

// A literal piece such as "aaa...ab" searched for in "aaa...a" costs length x length with a naive
// search; a hostile site writes both (its robots.txt and the links that become paths).
TEST(Robots, LongNearMissPiecesAreFast) {
  std::string robots = "User-agent: *\n";
  const std::string near_miss = std::string(400, 'a') + "b";
  for (int i = 0; i < 1000; ++i) robots += "Disallow: /*" + near_miss + std::to_string(i) + "\n";
  const Robots parsed = Robots::parse(robots, kOurAgent);
  const std::string path = "/" + std::string(8000, 'a');

  const double start = thread_cpu_seconds();
  EXPECT_TRUE(parsed.allowed(path));
  EXPECT_FALSE(parsed.allowed(path + "b999"));
  EXPECT_LT(thread_cpu_seconds() - start, 2 * kSlowdown);
}

TEST(Robots, KeepsAtMostMaxRules) {
  std::string robots = "User-agent: *\n";
  for (size_t i = 0; i < 2 * Robots::kMaxRules; ++i) robots += "Disallow: /r" + std::to_string(i) + "/\n";
  ASSERT_LT(robots.size(), Robots::kMaxParsedBytes);
  const Robots parsed = Robots::parse(robots, kOurAgent);
  EXPECT_FALSE(parsed.allowed("/r0/"));
  EXPECT_FALSE(parsed.allowed("/r" + std::to_string(Robots::kMaxRules - 1) + "/"));
  EXPECT_TRUE(parsed.allowed("/r" + std::to_string(Robots::kMaxRules) + "/"));
}

TEST(Robots, ParsesTheFirst500KiBOfAHugeFileAndNoLineCutByTheLimit) {
  const std::string head = "User-agent: *\nDisallow: /\n";
  const std::string kept = "Allow: /kept\n";
  // Without dropping the line the limit cuts, it would read "Allow: /pr" and allow /private/...
  const std::string cut = "Allow: /private/open\n";
  const size_t cut_starts_at = Robots::kMaxParsedBytes - 10;
  const size_t filler = cut_starts_at - head.size() - kept.size();
  std::string robots = head + "#" + std::string(filler - 2, 'x') + "\n" + kept;
  ASSERT_EQ(robots.size(), cut_starts_at);
  robots += cut;
  robots += "Allow: /late\n";
  for (int i = 0; i < 10'000; ++i) robots += "# more comments after the limit\n";
  ASSERT_GT(robots.size(), 600u * 1024);

  const Robots parsed = Robots::parse(robots, kOurAgent);
  EXPECT_TRUE(parsed.allowed("/kept"));
  EXPECT_FALSE(parsed.allowed("/private/secret"));
  EXPECT_FALSE(parsed.allowed("/private/open"));
  EXPECT_FALSE(parsed.allowed("/late"));
  EXPECT_FALSE(parsed.allowed("/other"));
}

TEST(Robots, OneParsedFileAnswersManyThreadsAtOnce) {
  const Robots robots = Robots::parse(
      "User-agent: *\nDisallow: /private/\nAllow: /private/open\nDisallow: /*.php$\n", kOurAgent);
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (size_t t = 0; t < wrong.size(); ++t) {
    threads.emplace_back([&robots, &wrong, t] {
      for (int i = 0; i < 2000; ++i) {
        wrong[t] += robots.allowed("/private/x") ? 1 : 0;
        wrong[t] += robots.allowed("/private/open/" + std::to_string(i)) ? 0 : 1;
        wrong[t] += robots.allowed("/a/b.php") ? 1 : 0;
        wrong[t] += robots.allowed("/a/b.php?x") ? 0 : 1;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int count : wrong) EXPECT_EQ(count, 0);
}

}  // namespace
}  // namespace crawl::urls
