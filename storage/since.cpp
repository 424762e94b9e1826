#include "storage/since.hpp"

#include "common/usage_error.hpp"
#include "storage/database.hpp"

namespace crawl::storage {

EarlierPages load_earlier_pages(const std::string& where, int64_t run) {
  Database db = Database::open(where, {.access = Access::read_only});
  Statement exists = db.prepare("SELECT count(*) FROM runs WHERE id = ?1");
  exists.bind(1, run);
  if (!exists.step() || exists.integer(0) == 0)
    throw UsageError("there is no run " + std::to_string(run) + " in " + where + " (crawl runs --db " +
                     where + " lists them)");
  // Rows before version 11 kept no validators: nothing to ask about.
  if (db.schema_version() < 11) return {};
  // A 304 can only stand for a page the earlier run had whole: a failed fetch is asked for again.
  Statement rows = db.prepare(R"sql(
SELECT url, etag, last_modified, status, content_type, charset, wire_bytes, body_bytes, text_bytes, title,
       link_count, body_hash
FROM pages
WHERE run_id = ?1 AND url IS NOT NULL AND error IS NULL AND (etag IS NOT NULL OR last_modified IS NOT NULL)
)sql");
  rows.bind(1, run);
  EarlierPages pages;
  auto text = [&](int column) { return rows.is_null(column) ? std::string() : rows.text(column); };
  auto count = [&](int column) {
    return rows.is_null(column) ? std::optional<int64_t>() : std::optional<int64_t>(rows.integer(column));
  };
  while (rows.step()) {
    pages[rows.text(0)] = {.etag = text(1),
                           .last_modified = text(2),
                           .status = static_cast<long>(rows.integer(3)),
                           .content_type = text(4),
                           .charset = text(5),
                           .wire_bytes = rows.integer(6),
                           .body_bytes = rows.integer(7),
                           .text_bytes = count(8),
                           .title = rows.is_null(9) ? std::nullopt : std::optional<std::string>(rows.text(9)),
                           .link_count = count(10),
                           .body_hash = text(11)};
  }
  return pages;
}

}  // namespace crawl::storage
