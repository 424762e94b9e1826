// The rows crawl stores: plain data shared by the pipeline (which fills them) and the storage
// module (which writes them). No SQLite types leak out of storage/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error_category.hpp"

namespace crawl::storage {

// Per-page timings in milliseconds, as libcurl measured them (each one the duration of that phase,
// not libcurl's cumulative "since start" values), plus the time the page waited in the queue.
struct Timings {
  double dns_ms = 0;
  double connect_ms = 0;
  double tls_ms = 0;
  double ttfb_ms = 0;  // from the start of the request to the first response byte
  double total_ms = 0;
  double queue_ms = 0;  // from being pushed into the bounded queue to a consumer taking it
};

// The connections a fetch opened. Not columns of `pages`: they are summed into the run's row.
struct ConnectionUse {
  int opened = 0;       // new connections (libcurl's CURLINFO_NUM_CONNECTS); 0: an open one was reused
  int tls_full = 0;     // TLS handshakes on them made in full (certificate chain sent and verified)
  int tls_resumed = 0;  // TLS handshakes that resumed an earlier session (no certificate exchanged)
};

// One row of `pages`: one URL handed in (or discovered), fetched or not.
struct PageRecord {
  int64_t seq = 0;                            // order in which the URL was read, unique within a run
  std::string source;                         // the list it came from: a file name, "-" for stdin, "--url"
  int64_t line = 0;                           // 1-based line in `source`; 0 when not from a file
  std::string input;                          // the line as given, trimmed
  std::string url;                            // normalised URL; empty when the line was not a usable URL
  std::string final_url;                      // after redirects
  long status = 0;                            // last HTTP status; 0 when there was no response
  ErrorCategory error = ErrorCategory::none;  // stored by its name; NULL when the fetch succeeded
  std::string error_message;
  std::string content_type;
  std::string charset;
  int64_t wire_bytes = 0;             // body bytes as received (before content decoding)
  int64_t body_bytes = 0;             // body bytes after decoding
  std::optional<int64_t> text_bytes;  // visible text; unset when not parsed (non-HTML, --no-parse)
  std::optional<std::string> title;
  std::optional<int64_t> link_count;
  int depth = 0;
  std::string parent_url;
  int attempts = 0;
  int redirects = 0;
  Timings timings;
  std::string worker;  // which producer fetched it, e.g. "t12" or "p1.t0.f37"
  // Unix time (seconds) the first request went out, its connection made (--delay counts from this
  // moment); when no request went out (DNS, connect), when the fetch began. 0 if never fetched.
  double fetched_at = 0;
  // Empty for each of these is NULL in the table.
  std::string http_version;   // of the last response: "1.0", "1.1", "2", "3"
  std::string server_ip;      // the address the last response came from
  std::string etag;           // the last response's ETag header, as sent
  std::string last_modified;  // its Last-Modified header, as sent
  // XXH3-128 of the body after content decoding, in hex as xxh128sum prints it: what tells two
  // fetches of a URL apart without keeping bodies. Empty when no whole body arrived.
  std::string body_hash;
  // --since: the server answered 304 Not Modified; status, sizes, title and hash are the earlier
  // run's.
  bool not_modified = false;
  std::vector<std::string> links;  // written to `links` (--store-links); not a column of pages
  // The page's links the crawl is to follow (depth `depth + 1`), kept in `frontier_links` with the
  // row until the frontier has taken them in (see LinksTaken); not a column of pages.
  std::vector<std::string> follow;
  std::string seed_host;  // with `follow`: the host the links were checked against (--scope)
  ConnectionUse connections;
};

// A URL taken into the crawl that has no row yet, kept in `frontier` so that a resumed run fetches
// it: a discovered link, a URL to retry, a line read from a list that cannot be read again (stdin),
// and what an interrupted run left. Its final row removes it in the same transaction.
struct PendingUrl {
  int64_t seq = 0;
  std::string source;
  int64_t line = 0;
  std::string input;
  std::string url;
  int depth = 0;
  std::string parent_url;
  std::string seed_host;
  int attempts = 0;       // fetches already made
  double not_before = 0;  // unix time before which it is not tried again; 0: at once
};

// The links of the page `parent_seq` were all taken in or turned down (seen before, --max-pages):
// its `frontier_links` entry goes.
struct LinksTaken {
  int64_t parent_seq = 0;
};

// Shared runs (several workers on one database, storage/leases.hpp) only:
// A line of a list, read by the run's one reader: admitted into the shared frontier unless the run
// took its URL in before (it then gets a `duplicate` row). `url.seq` is the reader's own numbering
// (SourceLedger's); the writer gives it the run's seq.
struct ListedUrl {
  PendingUrl url;
};
// A line of a list that is not taken in (not a URL, left out by --include/--exclude): its row, as
// the reader made it, stored at once and numbered as the run's. (Rows of fetched URLs may have the
// same categories: a redirect to a malformed URL is `bad_url`; those are fenced like every other.)
struct ListedRow {
  PageRecord row;
};
// The worker is done with a host it leased: its URLs have their rows (in this transaction or
// before), and others may claim it from `next_fetch_at` (unix time) on.
struct HostDone {
  std::string host;
  double next_fetch_at = 0;
};
// The reader has read every list to its end: the run may end once its frontier is empty.
struct ListsRead {};

// How far one list was read (a row of run_sources).
struct SourceRecord {
  std::string source;
  int64_t lines_read = 0;
  int64_t bytes_read = 0;
  int64_t size = -1;  // -1: not a regular file
  int64_t mtime_ns = 0;
  bool finished = false;
};

// What is known about a run when it starts (the `runs` row is inserted with these).
struct RunConfig {
  std::string mode;  // fiber | thread | process | hybrid
  int processes = 1;
  int threads = 1;
  int fibers = 1;
  int concurrency = 1;
  int queue_capacity = 0;
  int consumers = 0;
  int callback_threads = 0;
  bool parse = true;
  std::string parser;  // gumbo | libxml2; empty with --no-parse
  std::string version;
  std::string command_line;
  std::string bench_id;   // empty unless the run is part of `crawl bench`
  double started_at = 0;  // unix time
  // The process that runs it (see common/process_identity.hpp).
  std::string host;
  int64_t pid = 0;
  std::string process_start;
  // What the run crawls (its lists and the flags that decide which URLs it fetches), as JSON: what
  // `crawl resume` continues it with.
  std::string settings;
  // The run's lists, in order; their run_sources rows are written when the run starts, and their
  // marks (SourceMark) move as their lines are done.
  std::vector<SourceRecord> sources;
};

// How far a list is done: every URL line up to `lines_done` (ending at byte `bytes_done`) has its
// row or a frontier entry, so a resumed run reads on from there.
struct SourceMark {
  int position = 0;  // the source's place in the run's inputs
  int64_t lines_done = 0;
  int64_t bytes_done = 0;
};

// What a resumed run starts from, as the database holds it (ResultWriter::open with a run to resume).
struct ResumeState {
  int64_t run_id = 0;
  int session = 0;  // this session's number (2 for the first resume)
  // The earlier sessions' totals, which the run's figures add to this one's.
  double wall_s = 0, user_s = 0, sys_s = 0, crawl_s = 0;
  struct Source {
    std::string source;
    int64_t lines_done = 0;  // read on from the line after this one
    int64_t bytes_done = 0;
    int64_t size = -1;  // when the run first read it; -1: not a regular file
    int64_t mtime_ns = 0;
  };
  std::vector<Source> sources;      // by position
  std::vector<PendingUrl> pending;  // seqs rising
  struct Waiting {
    int64_t parent_seq = 0;
    int depth = 0;
    std::string parent_url;
    std::string source;
    int64_t line = 0;
    std::string seed_host;
    std::vector<std::string> links;
  };
  std::vector<Waiting> waiting;  // parents' seqs rising
  // Every URL the run took in: rows of URLs fetched or turned down by robots.txt, and frontier
  // entries. (Rows of duplicates, bad lines and URLs left out by the rules took nothing in.)
  std::vector<std::string> seen;
  // Lines of the lists past their mark that are done already (a row or an entry at depth 0): a
  // resumed run reads them again and passes over them.
  struct DoneLine {
    std::string source;
    int64_t line = 0;
    std::string input;
  };
  std::vector<DoneLine> done_lines;
  int64_t next_seq = 0;  // above every seq the run has used
  // A shared run (runs.next_seq is set): its frontier is leased per host, not loaded here (pending,
  // waiting, seen and done_lines stay empty).
  bool shared = false;
  // Of a shared run: this worker reads the lists (from their marks); false when another does, or
  // did to the end.
  bool reads_lists = true;
};

// How long politeness (--delay, Crawl-delay, --per-host, a retry's back-off, robots.txt) held back
// the URLs of one host in a session: the time it had URLs waiting that its rules did not let start.
struct HostWait {
  std::string host;  // as pages.host
  double held_s = 0;
};

// What is known when it ends (the same row is updated with these).
struct RunStats {
  std::string status = "completed";  // running | completed | interrupted | failed (crashed: see runs)
  double ended_at = 0;
  double wall_s = 0;   // start to end, callbacks included
  double crawl_s = 0;  // start to the last page stored
  double user_s = 0;
  double sys_s = 0;
  double parse_cpu_s = 0;  // CPU seconds consumers spent parsing (per-thread clocks)
  int64_t peak_rss_kb = 0;
  int64_t voluntary_ctx = 0;
  int64_t involuntary_ctx = 0;
  int64_t urls = 0;
  int64_t pages_ok = 0;
  int64_t pages_failed = 0;
  int64_t bytes_wire = 0;
  int64_t bytes_body = 0;
  double pages_per_s = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  // Connections the page fetches opened (robots.txt fetches not counted), and their TLS handshakes.
  int64_t connections = 0;
  int64_t tls_full = 0;
  int64_t tls_resumed = 0;
  int64_t connected_hosts = 0;             // hosts those connections went to
  int64_t max_host_connections = 0;        // the most opened to one host
  std::vector<SourceRecord> sources;       // in the order they were given
  std::vector<HostWait> politeness_waits;  // this session's; stored added to earlier sessions' and workers'
  // This session's own (the figures above cover every session of the run).
  double session_wall_s = 0;
  double session_user_s = 0;
  double session_sys_s = 0;
};

}  // namespace crawl::storage
