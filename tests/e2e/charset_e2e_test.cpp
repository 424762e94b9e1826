// End-to-end: pages in legacy encodings, declared in Content-Type or only in a <meta>, are stored
// with their titles in UTF-8, their text counted in UTF-8 bytes and the encoding used named.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testbed/site.hpp"
#include "tests/support/db.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

namespace crawl {
namespace {

struct Expected {
  std::string url;
  const testbed::CharsetSample* sample;
};

TEST(CharsetE2e, TitlesOfEncodedPagesAreStoredInUtf8) {
  auto testbed = test::Testbed::start();
  test::TempDir dir;
  std::vector<Expected> expected;
  for (const auto& sample : testbed::charset_samples()) {
    expected.push_back({testbed.base_url() + "/charset/" + std::string(sample.label), &sample});
    if (sample.meta_variant)
      expected.push_back({testbed.base_url() + "/charset-meta/" + std::string(sample.label), &sample});
  }
  std::string list;
  for (const auto& e : expected) list += e.url + "\n";
  test::write_file(dir.file("urls.txt"), list);
  for (const char* mode : {"fiber", "process"}) {
    SCOPED_TRACE(mode);
    const std::string db = dir.file(std::string(mode) + ".db");
    const auto result =
        test::run_crawl({"run", dir.file("urls.txt"), "--db", db, "--mode", mode, "--no-progress"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    auto rows = test::query_rows(db, "select * from pages order by seq");
    ASSERT_EQ(rows.size(), expected.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      auto& r = rows[i];
      const auto& sample = *expected[i].sample;
      SCOPED_TRACE(expected[i].url);
      EXPECT_EQ(r["status"], "200");
      EXPECT_EQ(r["charset"], std::string(sample.encoding));
      if (sample.title.empty()) {  // an encoding that cannot be decoded: recorded, still measured
        EXPECT_EQ(r["error"], "charset");
        EXPECT_NE(r["error_message"].value_or("").find(std::string(sample.label)), std::string::npos)
            << r["error_message"].value_or("");
        EXPECT_FALSE(r["title"].has_value());
        continue;
      }
      EXPECT_FALSE(r["error"].has_value()) << r["error_message"].value_or("");
      EXPECT_EQ(r["title"], std::string(sample.title));
      EXPECT_EQ(r["text_bytes"], std::to_string(sample.title.size()));  // the <h1>, in UTF-8 bytes
    }
    EXPECT_EQ(test::query_int(db, "select pages_failed from runs"), 2);  // both iso-2022-kr pages
  }
}

}  // namespace
}  // namespace crawl
