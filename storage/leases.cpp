#include "storage/leases.hpp"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <map>
#include <numeric>
#include <span>
#include <unordered_map>

#include "common/clock.hpp"
#include "storage/rows.hpp"

namespace crawl::storage {
namespace {

// Rows per multi-row statement: large enough that a batch is a few round trips, small enough to
// stay far below both engines' limits on parameters (SQLite 32,766, PostgreSQL 65,535).
constexpr size_t kRowsPerStatement = 256;

// A host whose URLs are all done sorts after every host with work.
constexpr int64_t kNoWork = 1000000000;

// The hosts claimed are those no other worker is claiming at the same moment: on PostgreSQL the
// rows being claimed are locked and others skip them; SQLite has one writer at a time anyway.
// The candidates are picked once (MATERIALIZED: a locking subquery the planner re-ran per row would
// pick again), each host's due URL found through its own index entry rather than a join whose plan
// would rest on statistics taken before the frontier filled up.
std::string claim_sql(Engine engine) {
  return std::string(R"sql(
WITH picked AS MATERIALIZED (
  SELECT l.host FROM host_leases l
  WHERE l.run_id = ?1 AND l.expires_at <= ?4 AND l.next_fetch_at <= ?4
    AND (SELECT f.seq FROM frontier f
         WHERE f.run_id = ?1 AND f.host = l.host AND coalesce(f.not_before, 0) <= ?4
         ORDER BY f.host, f.depth, f.seq LIMIT 1) IS NOT NULL
  ORDER BY l.depth, l.host
  LIMIT ?6)sql") +
         (engine == Engine::postgres ? " FOR UPDATE SKIP LOCKED" : "") + R"sql()
UPDATE host_leases SET worker = ?2, claim = ?3, expires_at = ?5
WHERE run_id = ?1 AND host IN (SELECT host FROM picked)
RETURNING host, next_fetch_at
)sql";
}

// What a take returns of each frontier entry: its host, then the PendingUrl (read_pending_url).
constexpr std::string_view kColumns =
    "host, seq, source, line, input, url, depth, coalesce(parent_url, '') AS parent_url, "
    "seed_host, attempts, coalesce(not_before, 0) AS not_before";

// A claimed host's due URLs, the lowest depth and seq first: one range of frontier_by_host per host.
// A join of the claimed hosts with the frontier would be planned on statistics taken before the
// run's frontier filled up (a new run_id has none): PostgreSQL then walked the run's whole frontier
// once per claimed host, 0.3 s a claim at 20,000 URLs. SQLite has no LATERAL: its statement is one
// range per host joined by UNION ALL, prepared once per number of hosts. PostgreSQL plans such a
// statement anew at each run (62 ms for 100 hosts), so there the hosts are an array (?4), each
// host's range a LATERAL subquery: one plan, a millisecond.
std::string take_sql(Engine engine, size_t hosts) {
  if (engine == Engine::postgres)
    return "SELECT f.* FROM unnest(?4::text[]) AS h(name) CROSS JOIN LATERAL (SELECT " +
           std::string(kColumns) +
           " FROM frontier WHERE run_id = ?1 AND host = h.name AND coalesce(not_before, 0) <= ?2 ORDER BY "
           "depth, "
           "seq LIMIT ?3) AS f";
  std::string sql;
  for (size_t i = 0; i < hosts; ++i) {
    if (i > 0) sql += "\nUNION ALL\n";
    sql += "SELECT * FROM (SELECT " + std::string(kColumns) +
           " FROM frontier WHERE run_id = ?1 AND host = ?" + std::to_string(i + 4) +
           " AND coalesce(not_before, 0) <= ?2 ORDER BY depth, seq LIMIT ?3) AS h" + std::to_string(i);
  }
  return sql;
}

// More of held hosts' due URLs: those admitted after the ones taken (a seq above the host's `after`),
// while this worker's lease on the host (?4) is live. PostgreSQL: the hosts and their `after`s are
// two arrays (?5, ?6); SQLite: two parameters per host from ?5 on.
std::string take_more_sql(Engine engine, size_t hosts) {
  const auto range = [&](const std::string& host, const std::string& after) {
    return "SELECT " + std::string(kColumns) + " FROM frontier WHERE run_id = ?1 AND host = " + host +
           " AND seq > " + after +
           " AND coalesce(not_before, 0) <= ?2 AND EXISTS (SELECT 1 FROM host_leases l WHERE l.run_id = ?1 "
           "AND l.host = " +
           host + " AND l.worker = ?4 AND l.expires_at > ?2) ORDER BY depth, seq LIMIT ?3";
  };
  if (engine == Engine::postgres)
    return "SELECT f.* FROM unnest(?5::text[], ?6::bigint[]) AS h(name, after) CROSS JOIN LATERAL (" +
           range("h.name", "h.after") + ") AS f";
  std::string sql;
  for (size_t i = 0; i < hosts; ++i) {
    if (i > 0) sql += "\nUNION ALL\n";
    sql += "SELECT * FROM (" + range("?" + std::to_string(5 + 2 * i), "?" + std::to_string(6 + 2 * i)) +
           ") AS h" + std::to_string(i);
  }
  return sql;
}

// A PostgreSQL array of text, each element quoted.
template <class Items, class Text>
std::string text_array(const Items& items, Text text_of) {
  std::string array = "{";
  for (const auto& item : items) {
    if (array.size() > 1) array += ',';
    array += '"';
    for (char c : text_of(item)) {
      if (c == '"' || c == '\\') array += '\\';
      array += c;
    }
    array += '"';
  }
  return array + "}";
}

// The host of the lease on reading a run's lists.
constexpr std::string_view kListsHost = "";

// An update of every lease a worker holds (`set`), its rows locked in the hosts' order as admit()
// locks them: in the table's order, a renewal could lock a host a batch admitting links wants next
// while waiting for one that batch holds. (SQLite has one writer at a time and no FOR UPDATE.)
std::string update_held_sql(Engine engine, std::string_view set, std::string_view returning = "") {
  return "WITH held AS MATERIALIZED (SELECT host FROM host_leases WHERE run_id = ?1 AND worker = ?2 ORDER "
         "BY host" +
         std::string(engine == Engine::postgres ? " FOR UPDATE" : "") + ")\nUPDATE host_leases SET " +
         std::string(set) + " WHERE run_id = ?1 AND worker = ?2 AND host IN (SELECT host FROM held)" +
         std::string(returning);
}

constexpr std::string_view kReleaseWorker = "worker = NULL, claim = NULL, expires_at = 0";

}  // namespace

bool take_lists_lease(const Database& database, int64_t run_id, const std::string& worker, double ttl_s,
                      double now) {
  Statement take = database.prepare(R"sql(
INSERT INTO host_leases (run_id, host, depth, worker, claim, expires_at) VALUES (?1, ?2, ?3, ?4, 0, ?5)
ON CONFLICT (run_id, host) DO UPDATE SET worker = excluded.worker, claim = 0, expires_at = excluded.expires_at
WHERE host_leases.expires_at <= ?6
RETURNING host
)sql");
  Binder(take).integer(run_id).text(kListsHost).integer(kNoWork).text(worker).real(now + ttl_s).real(now);
  const bool taken = take.step();
  take.reset();
  return taken;
}

void release_leases_of(const Database& database, int64_t run_id, const std::string& worker) {
  Statement release = database.prepare(update_held_sql(database.engine(), kReleaseWorker));
  Binder(release).integer(run_id).text(worker);
  release.run();
}

void release_leases_of_gone_workers(const Database& database, int64_t run_id, const std::string& host) {
  if (host.empty()) return;
  Statement holders = database.prepare(
      "SELECT DISTINCT worker FROM host_leases WHERE run_id = ? AND worker IS NOT NULL AND expires_at > ?");
  Binder(holders).integer(run_id).real(unix_now());
  std::vector<std::string> gone;
  const std::string prefix = host + "/";
  while (holders.step()) {
    const std::string worker = holders.text(0);
    if (!worker.starts_with(prefix)) continue;
    char* end = nullptr;
    const long pid = std::strtol(worker.c_str() + prefix.size(), &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) gone.push_back(worker);
  }
  holders.reset();
  for (const auto& worker : gone) release_leases_of(database, run_id, worker);
}

HostLeases::HostLeases(Database& database, LeaseOptions options)
    : database_(database),
      options_(std::move(options)),
      reserve_(database_.prepare(
          "UPDATE runs SET next_seq = coalesce(next_seq, 0) + ?2 WHERE id = ?1 RETURNING next_seq")),
      claim_(database_.prepare(claim_sql(database_.engine()))),
      renew_(database_.prepare(update_held_sql(database_.engine(), "expires_at = ?3", " RETURNING host"))),
      release_(database_.prepare(R"sql(
UPDATE host_leases SET worker = NULL, claim = NULL, expires_at = 0, next_fetch_at = ?4,
  depth = coalesce((SELECT min(depth) FROM frontier WHERE run_id = ?1 AND host = ?3), ?5)
WHERE run_id = ?1 AND host = ?3 AND worker = ?2
)sql")),
      postpone_(
          database_.prepare("UPDATE frontier SET attempts = ?, not_before = ? WHERE run_id = ? AND seq = ?")),
      lists_read_(database_.prepare("DELETE FROM host_leases WHERE run_id = ? AND host = ? AND worker = ?")),
      progress_(database_.prepare(R"sql(
SELECT (SELECT count(*) FROM frontier WHERE run_id = ?1),
       (SELECT count(*) FROM host_leases WHERE run_id = ?1 AND host = ?2),
       (SELECT count(*) FROM host_leases WHERE run_id = ?1 AND host = ?2 AND expires_at > ?3)
)sql")) {}

Statement& HostLeases::statement_for(std::vector<Statement>& cache, size_t rows, const std::string& head,
                                     const std::string& row, const std::string& tail, int first_parameter,
                                     int parameters_per_row) {
  if (cache.size() < rows) cache.resize(rows);
  Statement& statement = cache[rows - 1];
  if (!statement) {
    std::string sql = head;
    int parameter = first_parameter;
    for (size_t r = 0; r < rows; ++r) {
      sql += r == 0 ? "(" : ", (";
      sql += row;
      for (int p = 0; p < parameters_per_row; ++p)
        sql += (p == 0 && row.empty() ? "?" : ", ?") + std::to_string(parameter++);
      sql += ")";
    }
    sql += tail;
    statement = database_.prepare(sql);
  }
  return statement;
}

int64_t HostLeases::reserve_seqs(int64_t count) {
  reserve_.bind(1, options_.run_id).bind(2, count);
  if (!reserve_.step())
    throw StorageError("run " + std::to_string(options_.run_id) + " is not in the database");
  const int64_t next = reserve_.integer(0);
  reserve_.reset();
  return next - count;
}

// Every row a batch locks in the shared tables it locks in one order, the same in every worker's batch:
// run_urls by URL, then host_leases by host (a multi-row statement takes its rows in the order of
// its VALUES). Two workers' batches that admit the same URLs, or links to the same hosts, then never
// each hold a row the other waits for, which PostgreSQL ends by failing one of the transactions
// (and with it that worker's run). The rows of each URL's own host go after the batch's commit
// (release(), see ResultWriter), in a transaction that locks nothing else.
std::vector<bool> HostLeases::admit(const std::vector<PendingUrl>& urls,
                                    const std::vector<std::string>& hosts) {
  std::vector<bool> admitted(urls.size(), false);
  std::vector<size_t> by_url(urls.size());
  std::iota(by_url.begin(), by_url.end(), size_t{0});
  std::stable_sort(by_url.begin(), by_url.end(),
                   [&](size_t a, size_t b) { return urls[a].url < urls[b].url; });
  std::map<std::string_view, int64_t> depth_of;  // each host once, at the lowest depth of its new URLs
  for (size_t start = 0; start < by_url.size(); start += kRowsPerStatement) {
    const auto chunk = std::span(by_url).subspan(start, std::min(kRowsPerStatement, by_url.size() - start));
    // The run's seen-set: the URLs this insert added are the ones admitted (a URL twice in the
    // batch is added once, and admitted at its first place: the sort kept the places' order).
    Statement& seen = statement_for(seen_, chunk.size(), "INSERT INTO run_urls (run_id, url) VALUES ", "?1",
                                    " ON CONFLICT DO NOTHING RETURNING url", 2, 1);
    seen.bind(1, options_.run_id);
    for (size_t r = 0; r < chunk.size(); ++r)
      seen.bind(static_cast<int>(r) + 2, std::string_view(urls[chunk[r]].url));
    std::unordered_map<std::string, int> added;
    while (seen.step()) ++added[seen.text(0)];
    seen.reset();
    std::vector<size_t> in;
    for (size_t i : chunk) {
      auto it = added.find(urls[i].url);
      if (it != added.end() && it->second > 0) {
        --it->second;
        admitted[i] = true;
        in.push_back(i);
      }
    }
    if (in.empty()) continue;

    Statement& entries = statement_for(entries_, in.size(),
                                       "INSERT INTO frontier (run_id, seq, source, line, input, url, depth, "
                                       "parent_url, seed_host, attempts, "
                                       "not_before, host) VALUES ",
                                       "?1", "", 2, 11);
    Binder row(entries);
    row.integer(options_.run_id);
    for (size_t i : in) {
      const PendingUrl& u = urls[i];
      row.integer(u.seq).text(u.source).integer(u.line).text(u.input).text(u.url).integer(u.depth);
      row.text_or_null(u.parent_url).text(u.seed_host).integer(u.attempts);
      if (u.not_before > 0)
        row.real(u.not_before);
      else
        row.null();
      row.text(hosts[i]);
      auto [it, fresh] = depth_of.emplace(hosts[i], u.depth);
      if (!fresh) it->second = std::min<int64_t>(it->second, u.depth);
    }
    entries.queue();
  }
  // The hosts, after every URL: each once per statement (PostgreSQL refuses to update one row twice
  // in one statement).
  for (auto it = depth_of.begin(); it != depth_of.end();) {
    const size_t rows =
        std::min<size_t>(kRowsPerStatement, static_cast<size_t>(std::distance(it, depth_of.end())));
    Statement& host_rows =
        statement_for(hosts_, rows, "INSERT INTO host_leases (run_id, host, depth) VALUES ", "?1",
                      " ON CONFLICT (run_id, host) DO UPDATE SET depth = excluded.depth WHERE excluded.depth "
                      "< host_leases.depth",
                      2, 2);
    Binder host_row(host_rows);
    host_row.integer(options_.run_id);
    for (size_t r = 0; r < rows; ++r, ++it) host_row.text(it->first).integer(it->second);
    host_rows.queue();
  }
  database_.flush();
  return admitted;
}

// PostgreSQL plans every statement by the tables' statistics, and a table never analyzed has none:
// the planner then takes one run's frontier for a few rows and completes URLs by walking all of it
// (40 ms for 256 URLs of a 20,000-URL frontier). Autovacuum analyzes it only a minute or more after
// the first rows, by which time a long list is in. So the first claim that gets URLs from a table
// without statistics analyzes it (a sample of at most 30,000 rows, tens of ms); the generic plans (see
// Database::open) then scale with the table's size as it grows. SQLite's planner needs none.
void HostLeases::analyze_if_never_analyzed() {
  if (statistics_known_ || database_.engine() != Engine::postgres) {
    statistics_known_ = true;
    return;
  }
  Statement known = database_.prepare(
      "SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'frontier' AND "
      "attname = 'run_id'");
  statistics_known_ = known.step() && known.integer(0) > 0;
  known.reset();
  if (statistics_known_) return;
  database_.exec("ANALYZE frontier, host_leases");
  statistics_known_ = true;
}

std::vector<HostLease> HostLeases::claim(int hosts, int per_host, double now) {
  const int64_t claim = ++claims_;
  claim_.bind(1, options_.run_id)
      .bind(2, std::string_view(options_.worker))
      .bind(3, claim)
      .bind(4, now)
      .bind(5, now + options_.ttl_s)
      .bind(6, static_cast<int64_t>(hosts));
  std::vector<HostLease> leases;
  std::unordered_map<std::string, size_t> index;
  while (claim_.step()) {
    index.emplace(claim_.text(0), leases.size());
    leases.push_back({.host = claim_.text(0), .next_fetch_at = claim_.real(1), .urls = {}});
  }
  claim_.reset();
  if (leases.empty()) return leases;
  analyze_if_never_analyzed();
  const bool one_statement = database_.engine() == Engine::postgres;
  const size_t variant = one_statement ? 0 : leases.size() - 1;
  if (take_.size() <= variant) take_.resize(variant + 1);
  Statement& take = take_[variant];
  if (!take) take = database_.prepare(take_sql(database_.engine(), leases.size()));
  take.bind(1, options_.run_id).bind(2, now).bind(3, static_cast<int64_t>(per_host));
  const std::string claimed_hosts =
      one_statement ? text_array(leases, [](const HostLease& l) -> const std::string& { return l.host; })
                    : std::string();
  if (one_statement)
    take.bind(4, std::string_view(claimed_hosts));
  else
    for (size_t i = 0; i < leases.size(); ++i)
      take.bind(static_cast<int>(i) + 4, std::string_view(leases[i].host));
  while (take.step()) {
    auto it = index.find(take.text(0));
    if (it == index.end()) continue;
    leases[it->second].urls.push_back(read_pending_url(take, 1));
  }
  take.reset();
  return leases;
}

std::vector<HostLease> HostLeases::take_more(const std::vector<TakenUpTo>& hosts, int per_host, double now) {
  // Hosts per statement on SQLite (two parameters each); PostgreSQL takes them all in one.
  constexpr size_t kHostsPerTake = 64;
  const bool one_statement = database_.engine() == Engine::postgres;
  std::vector<HostLease> leases;
  std::unordered_map<std::string, size_t> index;
  for (size_t start = 0; start < hosts.size();) {
    const size_t count = one_statement ? hosts.size() : std::min(kHostsPerTake, hosts.size() - start);
    const size_t variant = one_statement ? 0 : count - 1;
    if (take_more_.size() <= variant) take_more_.resize(variant + 1);
    Statement& take = take_more_[variant];
    if (!take) take = database_.prepare(take_more_sql(database_.engine(), count));
    take.bind(1, options_.run_id)
        .bind(2, now)
        .bind(3, static_cast<int64_t>(per_host))
        .bind(4, std::string_view(options_.worker));
    const auto these = std::span(hosts).subspan(start, count);
    std::string names, afters;
    if (one_statement) {
      names = text_array(these, [](const TakenUpTo& h) -> const std::string& { return h.host; });
      afters = "{";
      for (const TakenUpTo& h : these) afters += (afters.size() > 1 ? "," : "") + std::to_string(h.after);
      afters += "}";
      take.bind(5, std::string_view(names)).bind(6, std::string_view(afters));
    } else {
      for (size_t i = 0; i < count; ++i)
        take.bind(5 + 2 * static_cast<int>(i), std::string_view(these[i].host))
            .bind(6 + 2 * static_cast<int>(i), these[i].after);
    }
    while (take.step()) {
      auto [it, fresh] = index.emplace(take.text(0), leases.size());
      if (fresh) leases.push_back({.host = take.text(0), .next_fetch_at = 0, .urls = {}});
      leases[it->second].urls.push_back(read_pending_url(take, 1));
    }
    take.reset();
    start += count;
  }
  return leases;
}

std::vector<std::string> HostLeases::renew(double now) {
  renew_.bind(1, options_.run_id).bind(2, std::string_view(options_.worker)).bind(3, now + options_.ttl_s);
  std::vector<std::string> held;
  while (renew_.step()) held.push_back(renew_.text(0));
  renew_.reset();
  return held;
}

void HostLeases::release(const std::string& host, double next_fetch_at) {
  release_.bind(1, options_.run_id)
      .bind(2, std::string_view(options_.worker))
      .bind(3, std::string_view(host))
      .bind(4, next_fetch_at)
      .bind(5, kNoWork);
  release_.queue();
}

std::vector<bool> HostLeases::complete(const std::vector<int64_t>& seqs) {
  std::vector<bool> done(seqs.size(), false);
  for (size_t start = 0; start < seqs.size(); start += kRowsPerStatement) {
    const size_t rows = std::min(kRowsPerStatement, seqs.size() - start);
    if (completed_.size() < rows) completed_.resize(rows);
    Statement& gone = completed_[rows - 1];
    if (!gone) {
      std::string sql = "DELETE FROM frontier WHERE run_id = ?1 AND seq IN (";
      for (size_t r = 0; r < rows; ++r) sql += (r == 0 ? "?" : ", ?") + std::to_string(r + 2);
      gone = database_.prepare(sql + ") RETURNING seq");
    }
    gone.bind(1, options_.run_id);
    for (size_t r = 0; r < rows; ++r) gone.bind(static_cast<int>(r) + 2, seqs[start + r]);
    std::unordered_map<int64_t, size_t> position;
    for (size_t r = 0; r < rows; ++r) position.emplace(seqs[start + r], start + r);
    while (gone.step()) {
      auto it = position.find(gone.integer(0));
      if (it != position.end()) done[it->second] = true;
    }
    gone.reset();
  }
  return done;
}

void HostLeases::postpone(int64_t seq, int attempts, double not_before) {
  Binder b(postpone_);
  b.integer(attempts);
  if (not_before > 0)
    b.real(not_before);
  else
    b.null();
  b.integer(options_.run_id).integer(seq);
  postpone_.queue();
}

void HostLeases::lists_read() {
  Binder(lists_read_).integer(options_.run_id).text(kListsHost).text(options_.worker);
  lists_read_.queue();
}

void HostLeases::release_all() {
  release_leases_of(database_, options_.run_id, options_.worker);
}

SharedRunProgress HostLeases::progress(double now) {
  Binder(progress_).integer(options_.run_id).text(kListsHost).real(now);
  SharedRunProgress p;
  if (progress_.step())
    p = {.entries = progress_.integer(0),
         .lists_unread = progress_.integer(1) > 0,
         .lists_reader_live = progress_.integer(2) > 0};
  progress_.reset();
  return p;
}

}  // namespace crawl::storage
