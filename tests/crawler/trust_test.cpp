// The trust store loaded ahead of the first verified connection, and the guess that decides it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>

#include "common/unique_fd.hpp"
#include "crawler/sources.hpp"
#include "crawler/tls.hpp"
#include "tests/support/certs.hpp"
#include "tests/support/process.hpp"

namespace crawl {
namespace {

std::string write_list(const test::TempDir& dir, const std::string& name, const std::string& text) {
  test::write_file(dir.file(name), text);
  return dir.file(name);
}

TEST(ListsNameHttps, AnHttpsUrlInAListOrGivenWithUrlCounts) {
  test::TempDir dir;
  const std::string plain = write_list(dir, "plain.txt", "http://a.localhost/\nhttp://b.localhost/x\n");
  const std::string mixed =
      write_list(dir, "mixed.txt", "# a list\nhttp://a.localhost/\nHTTPS://b.localhost/\n");
  EXPECT_FALSE(lists_name_https({.files = {plain}}));
  EXPECT_TRUE(lists_name_https({.files = {plain, mixed}}));
  EXPECT_TRUE(lists_name_https({.files = {plain}, .urls = {"https://c.localhost/"}}));
  EXPECT_FALSE(lists_name_https({.urls = {"http://c.localhost/", "c.localhost"}}));
  // A list opened where it now is (a resumed run) is peeked there, not at the name it was given.
  EXPECT_TRUE(lists_name_https({.files = {"lists/gone.txt"}, .paths = {mixed}}));
  EXPECT_FALSE(lists_name_https({.files = {dir.file("missing.txt")}}));
}

TEST(ListsNameHttps, OnlyTheHeadOfAListIsRead) {
  test::TempDir dir;
  std::string text;
  while (text.size() < 100 * 1024) text += "http://a.localhost/page/" + std::to_string(text.size()) + "\n";
  text += "https://a.localhost/late\n";
  const std::string path = write_list(dir, "late.txt", text);
  EXPECT_FALSE(lists_name_https({.files = {path}}, 64 * 1024));
  EXPECT_TRUE(lists_name_https({.files = {path}}, 200 * 1024));
}

// A pipe's bytes belong to the reader: peeking would lose them. The FIFO holds an https line, and
// this test keeps a writer open so that opening it does not block; a peek that read it would wait
// for the pipe's end, so after a while the writer closes, and such a peek would answer yes.
TEST(ListsNameHttps, APipeIsNeverOpened) {
  test::TempDir dir;
  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  UniqueFd writer(::open(fifo.c_str(), O_RDWR | O_NONBLOCK));  // Linux: a FIFO opens O_RDWR at once
  ASSERT_TRUE(writer);
  const std::string line = "https://a.localhost/\n";
  ASSERT_EQ(::write(writer.get(), line.data(), line.size()), static_cast<ssize_t>(line.size()));
  auto peek = std::async(std::launch::async, [&] { return lists_name_https({.files = {fifo, "-"}}); });
  if (peek.wait_for(std::chrono::seconds(5)) != std::future_status::ready) writer.reset();
  EXPECT_FALSE(peek.get());
}

TEST(TrustStore, IsLoadedInTheBackgroundBeforeAnyConnectionAsksForIt) {
  test::TempDir dir;
  test::TestCa ca(dir.path(), "preload");
  const TrustOptions trust{.ca_file = ca.ca_file()};
  EXPECT_FALSE(trust_loaded(trust));
  std::jthread loading = load_trust_in_background(trust);
  loading.join();
  EXPECT_TRUE(trust_loaded(trust));
  // Another store is another load.
  EXPECT_FALSE(trust_loaded(TrustOptions{.ca_path = dir.path()}));
}

}  // namespace
}  // namespace crawl
