#include "common/error_category.hpp"

#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

namespace crawl {
namespace {

TEST(ErrorCategory, EveryCategoryHasItsOwnStoredNameThatReadsBack) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < kErrorCategories; ++i) {
    const auto category = static_cast<ErrorCategory>(i);
    const std::string_view name = name_of(category);
    EXPECT_EQ(name.empty(), category == ErrorCategory::none) << i;
    EXPECT_TRUE(names.insert(name).second) << "two categories are named " << name;
    EXPECT_EQ(category_named(name), category) << name;
  }
  EXPECT_EQ(names.size(), kErrorCategories);
}

TEST(ErrorCategory, NamesAreTheOnesRowsHaveAlwaysStored) {
  // Stored rows and users' queries use these names: they must never change.
  EXPECT_EQ(name_of(ErrorCategory::too_many_redirects), "too_many_redirects");
  EXPECT_EQ(name_of(ErrorCategory::http_4xx), "http_4xx");
  EXPECT_EQ(name_of(ErrorCategory::worker_crash), "worker_crash");
  EXPECT_EQ(name_of(ErrorCategory::other), "other");
  EXPECT_EQ(category_named("no_such_category"), std::nullopt);
  EXPECT_EQ(category_named(""), ErrorCategory::none);
  std::ostringstream out;
  out << ErrorCategory::timeout << ' ' << ErrorCategory::none;
  EXPECT_EQ(out.str(), "timeout none");
}

TEST(ErrorCategory, SkippedWorkIsNotAFailure) {
  for (auto c : {ErrorCategory::none, ErrorCategory::duplicate, ErrorCategory::interrupted,
                 ErrorCategory::robots, ErrorCategory::excluded, ErrorCategory::max_pages})
    EXPECT_FALSE(is_failure(c)) << c;
  for (auto c :
       {ErrorCategory::bad_url, ErrorCategory::dns, ErrorCategory::timeout, ErrorCategory::http_other,
        ErrorCategory::charset, ErrorCategory::worker_crash, ErrorCategory::other})
    EXPECT_TRUE(is_failure(c)) << c;
}

}  // namespace
}  // namespace crawl
