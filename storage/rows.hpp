// Moving a row's values in and out of a Statement: binding them left to right, and reading a
// frontier entry back. Internal to storage/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/connection.hpp"
#include "storage/database.hpp"
#include "storage/records.hpp"

namespace crawl::storage {

// Binds parameters left to right, so a column list and its values cannot drift apart by index.
// Text is bound without a copy: the caller keeps the strings alive until the statement has run.
class Binder {
 public:
  explicit Binder(Statement& statement) : statement_(statement) {}

  Binder& integer(int64_t value) {
    statement_.bind(++index_, value);
    return *this;
  }
  Binder& real(double value) {
    statement_.bind(++index_, value);
    return *this;
  }
  Binder& null() {
    statement_.bind_null(++index_);
    return *this;
  }
  Binder& text(std::string_view value) {
    statement_.bind(++index_, value);
    return *this;
  }
  // For columns where "nothing" reads better as NULL than as "" or 0.
  Binder& text_or_null(std::string_view value) { return value.empty() ? null() : text(value); }
  Binder& integer_or_null(int64_t value) { return value == 0 ? null() : integer(value); }
  Binder& real_or_null(double value, bool known) { return known ? real(value) : null(); }
  Binder& integer_or_null(const std::optional<int64_t>& value) { return value ? integer(*value) : null(); }
  Binder& time_or_null(double unix_seconds, std::string& storage) {
    if (unix_seconds == 0) return null();
    storage = iso8601_utc(unix_seconds);
    return text(storage);
  }

 private:
  Statement& statement_;
  int index_ = 0;
};

// A frontier entry from the columns seq, source, line, input, url, depth, parent_url (NULL as ""),
// seed_host, attempts, not_before (NULL as 0) of the current row, the first at `first`.
inline PendingUrl read_pending_url(const Statement& row, int first) {
  return {.seq = row.integer(first),
          .source = row.text(first + 1),
          .line = row.integer(first + 2),
          .input = row.text(first + 3),
          .url = row.text(first + 4),
          .depth = static_cast<int>(row.integer(first + 5)),
          .parent_url = row.text(first + 6),
          .seed_host = row.text(first + 7),
          .attempts = static_cast<int>(row.integer(first + 8)),
          .not_before = row.real(first + 9)};
}

}  // namespace crawl::storage
