// The one place failures get their category: statuses, and libcurl's codes read together with the
// text libcurl leaves in its error buffer (the texts are those libcurl 7.88 writes).
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <string>

#include "crawler/errors.hpp"
#include "crawler/fetch.hpp"

namespace crawl {
namespace {

TEST(CategoryForStatus, StatusesOutsideHttpsRangeAreNeitherClientNorServerErrors) {
  EXPECT_EQ(category_for_status(100), ErrorCategory::none);
  EXPECT_EQ(category_for_status(399), ErrorCategory::none);
  EXPECT_EQ(category_for_status(400), ErrorCategory::http_4xx);
  EXPECT_EQ(category_for_status(499), ErrorCategory::http_4xx);
  EXPECT_EQ(category_for_status(500), ErrorCategory::http_5xx);
  EXPECT_EQ(category_for_status(599), ErrorCategory::http_5xx);
  EXPECT_EQ(category_for_status(600), ErrorCategory::http_other);
  EXPECT_EQ(category_for_status(999), ErrorCategory::http_other);
  EXPECT_EQ(category_for_status(99), ErrorCategory::http_other);
  EXPECT_TRUE(is_failure(ErrorCategory::http_other));
}

TEST(TransferFailure, AMalformedChunkedBodyIsAProtocolErrorNotAReset) {
  for (const char* text :
       {"Illegal or missing hexadecimal sequence in chunked-encoding",
        "Malformed encoding found in chunked-encoding", "Too long hexadecimal number in chunked-encoding"}) {
    const auto f = transfer_failure(CURLE_RECV_ERROR, text, Memory::kAvailable);
    EXPECT_EQ(f.category, ErrorCategory::protocol) << text;
    EXPECT_EQ(f.message, std::string("malformed chunked body: ") + text);
  }
}

TEST(TransferFailure, AReceiveErrorOtherwiseIsAReset) {
  const auto f =
      transfer_failure(CURLE_RECV_ERROR, "Recv failure: Connection reset by peer", Memory::kAvailable);
  EXPECT_EQ(f.category, ErrorCategory::reset);
  EXPECT_EQ(f.message, "Failure when receiving data from the peer: Recv failure: Connection reset by peer");
}

TEST(TransferFailure, HeadersOverLibcurlsLimitsAreTooLarge) {
  const auto total =
      transfer_failure(CURLE_RECV_ERROR, "Too large response headers: 307280 > 307200", Memory::kAvailable);
  EXPECT_EQ(total.category, ErrorCategory::too_large);
  EXPECT_EQ(total.message,
            "response headers larger than libcurl accepts (300 KB in all): Too large response headers: "
            "307280 > 307200");
  const auto line = transfer_failure(CURLE_OUT_OF_MEMORY, "", Memory::kAvailable);
  EXPECT_EQ(line.category, ErrorCategory::too_large);
  EXPECT_EQ(line.message,
            "a response header line larger than libcurl accepts (100 KB; libcurl reports it as \"Out of "
            "memory\")");
}

TEST(TransferFailure, AGenuineShortageOfMemoryStaysOutOfMemory) {
  const auto short_of_memory = transfer_failure(CURLE_OUT_OF_MEMORY, "", Memory::kShort);
  EXPECT_EQ(short_of_memory.category, ErrorCategory::other);
  EXPECT_EQ(short_of_memory.message, "Out of memory");
  // libcurl's own allocation failure while unchunking is neither the server's fault nor a reset.
  EXPECT_EQ(
      transfer_failure(CURLE_RECV_ERROR, "Out of memory in chunked-encoding", Memory::kAvailable).category,
      ErrorCategory::other);
  // libcurl says what ran out when it knows; that is no header limit.
  const auto said =
      transfer_failure(CURLE_OUT_OF_MEMORY, "Failed to alloc memory for big header!", Memory::kAvailable);
  EXPECT_EQ(said.category, ErrorCategory::other);
  EXPECT_EQ(said.message, "Out of memory: Failed to alloc memory for big header!");
}

TEST(TransferFailure, OtherCodesKeepTheirCategories) {
  EXPECT_EQ(transfer_failure(CURLE_OPERATION_TIMEDOUT, "Operation timed out", Memory::kAvailable).category,
            ErrorCategory::timeout);
  EXPECT_EQ(transfer_failure(CURLE_COULDNT_CONNECT, "", Memory::kAvailable).category, ErrorCategory::connect);
  EXPECT_EQ(transfer_failure(CURLE_WEIRD_SERVER_REPLY, "", Memory::kAvailable).category,
            ErrorCategory::protocol);
  EXPECT_EQ(transfer_failure(CURLE_BAD_CONTENT_ENCODING, "", Memory::kAvailable).category,
            ErrorCategory::decode);
  const auto interrupted =
      transfer_failure(CURLE_ABORTED_BY_CALLBACK, "Callback aborted", Memory::kAvailable);
  EXPECT_EQ(interrupted.category, ErrorCategory::interrupted);
  EXPECT_EQ(interrupted.message, "the run was interrupted during the fetch");
}

}  // namespace
}  // namespace crawl
