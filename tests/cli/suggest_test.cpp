// The flag a user meant, named in the error for one that does not exist.
#include "cli/suggest.hpp"

#include <gtest/gtest.h>

namespace crawl::cli {
namespace {

const std::vector<std::string> kFlags = {"--concurrency", "-c",      "--timeout", "--connect-timeout",
                                         "--depth",       "--delay", "--header",  "-H",
                                         "--jsonl",       "-q",      "--quiet",   "--sync"};

TEST(ClosestFlag, NamesTheFlagATypoMeant) {
  EXPECT_EQ(closest_flag("--concurency", kFlags), "--concurrency");  // a letter left out
  EXPECT_EQ(closest_flag("--tiemout", kFlags), "--timeout");         // two swapped
  EXPECT_EQ(closest_flag("--tiemout=5s", kFlags), "--timeout");      // with its value
  EXPECT_EQ(closest_flag("--jsnol", kFlags), "--jsonl");
  EXPECT_EQ(closest_flag("--dept", kFlags), "--depth");
  EXPECT_EQ(closest_flag("--conc", kFlags), "--concurrency");  // the start of one flag only
  EXPECT_EQ(closest_flag("-Q", kFlags), "-q");                 // the case
}

TEST(ClosestFlag, GuessesNothingWhenNothingIsClose) {
  EXPECT_EQ(closest_flag("--zzz", kFlags), "");
  EXPECT_EQ(closest_flag("-z", kFlags), "");    // any letter is one edit from another
  EXPECT_EQ(closest_flag("--de", kFlags), "");  // the start of two flags, and too short anyway
  EXPECT_EQ(closest_flag("--frobnicate", kFlags), "");
}

TEST(DidYouMean, NamesTheSubcommandsHelpAndTheFlagMeant) {
  CLI::App app{"test"};
  CLI::App* run = app.add_subcommand("run", "");
  int concurrency = 0;
  run->add_option("-c,--concurrency", concurrency, "")->group("Concurrency");
  try {
    app.parse(std::vector<std::string>{"--concurency", "run"});  // CLI11 takes them in reverse
    FAIL() << "parsed";
  } catch (const CLI::ExtrasError& e) {
    EXPECT_EQ(did_you_mean(app, e.what()), "; did you mean --concurrency? (see 'crawl run --help')")
        << e.what();
  }
}

}  // namespace
}  // namespace crawl::cli
