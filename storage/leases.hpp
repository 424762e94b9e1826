// A run's frontier shared by several workers (processes, on one machine or many) through one
// database: work is leased per host, not per URL. A worker claims hosts that no live lease holds,
// gets a batch of each one's due URLs, fetches them under that host's limit and delay, renews its
// leases while it works, and gives each host back with the time its next fetch may start. A worker
// that dies stops renewing; its leases expire and other workers claim its hosts, URLs and all.
// Every URL is admitted into the run once, whoever finds it (a unique key), and a URL's entry goes
// only once (complete() tells the worker whose lease had expired that another finished it first).
//
// The SQL is the same on both engines; on PostgreSQL claims skip the hosts other workers are
// claiming at that moment (FOR UPDATE SKIP LOCKED) instead of waiting for them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "storage/database.hpp"
#include "storage/records.hpp"

namespace crawl::storage {

struct LeaseOptions {
  int64_t run_id = 0;
  std::string worker;  // unique among the run's workers, e.g. "hostname/pid"
  double ttl_s = 30;   // a lease not renewed for this long may be claimed by another worker
};

struct HostLease {
  std::string host;
  double next_fetch_at = 0;  // unix time: the host's first fetch under this lease may not start before
  std::vector<PendingUrl> urls;
};

// How far a shared run is, for a worker with nothing left to do.
struct SharedRunProgress {
  int64_t entries = 0;             // URLs taken in that have no row yet
  bool lists_unread = false;       // the lists are not read to their end
  bool lists_reader_live = false;  // and a worker holds the lease on reading them
};

// The lists of a shared run are read by one worker at a time: the one holding the lease on the host
// '' (no URL has it), until it has read them to their end and lists_read() deletes it. Takes that
// lease for `worker` when nobody holds it (the reader is gone, or no session read them to their end:
// the lease is then made again, and reading goes on from the lists' marks). In the caller's
// transaction.
bool take_lists_lease(const Database& database, int64_t run_id, const std::string& worker, double ttl_s,
                      double now);
// Gives back every lease `worker` holds, the lists' included: its URLs are for others now.
void release_leases_of(const Database& database, int64_t run_id, const std::string& worker);
// The leases of workers of this machine (`host`) whose process is gone, given back at once: their
// hosts need not wait for the leases to expire. (A worker's name is "host/pid"; those of other
// machines expire.)
void release_leases_of_gone_workers(const Database& database, int64_t run_id, const std::string& host);

// One worker's handle on a shared run; used by one thread at a time. Throws StorageError.
class HostLeases {
 public:
  HostLeases(Database& database, LeaseOptions options);

  // `count` seqs no other worker of the run is handed: the first of them.
  int64_t reserve_seqs(int64_t count);
  // Takes URLs into the shared frontier, each under its politeness key hosts[i]; a URL the run has
  // taken in before, by any worker, is not. Returns which ones were admitted.
  std::vector<bool> admit(const std::vector<PendingUrl>& urls, const std::vector<std::string>& hosts);
  // Claims up to `hosts` hosts whose lease is free, with URLs due at `now` and the host's own next
  // fetch due, the lowest depth first (breadth-first across workers, as far as the hosts' depths
  // say), and up to `per_host` of each one's due URLs, the lowest depth and seq first.
  std::vector<HostLease> claim(int hosts, int per_host, double now);
  // A held host and the highest seq of its URLs this worker has taken.
  struct TakenUpTo {
    std::string host;
    int64_t after = -1;
  };
  // More due URLs of hosts this worker holds, up to `per_host` each, the lowest depth and seq first,
  // among those with a seq above the host's `after`: the URLs admitted since (list lines read on,
  // links found) go to the worker holding the host without it being given back and claimed again.
  // Only hosts whose lease is still this worker's; hosts with nothing more are left out.
  std::vector<HostLease> take_more(const std::vector<TakenUpTo>& hosts, int per_host, double now);
  // Renews every lease this worker holds; returns their hosts. A host missing from them was lost (its
  // lease expired and another worker claimed it): stop taking its URLs.
  std::vector<std::string> renew(double now);
  // Gives a host back: others may claim it, from `next_fetch_at` on. Queued (see Statement::queue):
  // it goes to the server with the next round trip, e.g. the commit of the rows that finish the host.
  void release(const std::string& host, double next_fetch_at);
  // Ends URLs fetched under a lease: returns, for each seq, whether its entry was still there and is
  // now gone. False: another worker finished it first (this worker's lease had expired), and its
  // row must not be stored again.
  std::vector<bool> complete(const std::vector<int64_t>& seqs);
  // A URL fetched under a lease is to be tried again: its entry keeps the attempts made and the time
  // before which it is not (unix time; 0: at once). Queued, as release() is.
  void postpone(int64_t seq, int attempts, double not_before);
  // This worker has read the lists to their end (see take_lists_lease). Queued.
  void lists_read();
  // Gives back every lease this worker holds.
  void release_all();
  SharedRunProgress progress(double now);

 private:
  Statement& statement_for(std::vector<Statement>& cache, size_t rows, const std::string& head,
                           const std::string& row, const std::string& tail, int first_parameter,
                           int parameters_per_row);

  void analyze_if_never_analyzed();

  Database& database_;
  const LeaseOptions options_;
  int64_t claims_ = 0;
  bool statistics_known_ = false;
  Statement reserve_, claim_, renew_, release_, postpone_, lists_read_, progress_;
  // Multi-row statements, one per batch size used (rows - 1 is the index).
  std::vector<Statement> seen_, entries_, hosts_, completed_, take_, take_more_;
};

}  // namespace crawl::storage
