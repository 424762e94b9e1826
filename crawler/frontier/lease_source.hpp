// A shared run's work as the frontier's thread sees it (storage/leases.hpp): hosts claimed from the
// run's database with a batch of their URLs each, the leases renewed while the worker holds them,
// and whether the run is over. Every call is a round trip on the frontier's own connection, never
// on a fetching thread. Internal to crawler/.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "storage/database.hpp"
#include "storage/leases.hpp"

namespace crawl {

class LeaseSource {
 public:
  struct Options {
    std::string db_path;
    int64_t run_id = 0;
    std::string worker;  // "host/pid", as the writer has it
    double ttl_s = 30;
  };
  // Throws StorageError when the database cannot be opened.
  explicit LeaseSource(const Options& options);

  // Up to `hosts` hosts, with up to `per_host` due URLs each. Empty after a failure.
  std::vector<storage::HostLease> claim(int hosts, int per_host);
  // More URLs of hosts this worker holds (storage::HostLeases::take_more). Empty after a failure.
  std::vector<storage::HostLease> take_more(const std::vector<storage::HostLeases::TakenUpTo>& hosts,
                                            int per_host);
  // Whether another worker of the run is alive (storage::live_sessions), as seen at most a second
  // ago. True after a failure.
  bool others_live();
  // Renews this worker's leases once a third of their time has gone by since the last renewal, and
  // then returns the hosts it still holds: one missing was lost (the worker was too slow to renew
  // it, and another claimed it).
  std::optional<std::vector<std::string>> renew_if_due();
  // When renew_if_due() renews next.
  std::chrono::steady_clock::time_point next_renewal() const;

  enum class RunState {
    working,      // URLs are left, or the lists are still being read
    done,         // every URL of the run has its row and the lists are read to their end
    reader_gone,  // no URL is left, but the worker reading the lists stopped before their end
    failed,       // the database failed: failure() says how
  };
  RunState run_state();

  double ttl_s() const { return options_.ttl_s; }
  // Why the database stopped answering, if it did: the worker then stops taking work.
  const std::optional<std::string>& failure() const { return failure_; }

 private:
  template <class F>
  auto guarded(F f, decltype(f()) otherwise);
  void fail(const storage::StorageError& e);

  Options options_;
  storage::Database database_;
  storage::HostLeases leases_;
  std::chrono::steady_clock::time_point renewed_;
  std::chrono::steady_clock::time_point others_seen_{};
  bool others_live_ = true;
  std::optional<std::string> failure_;
};

}  // namespace crawl
