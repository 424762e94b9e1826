#include "crawler/frontier/lease_source.hpp"

#include "common/clock.hpp"

namespace crawl {
LeaseSource::LeaseSource(const Options& options)
    : options_(options),
      database_(storage::Database::open(options.db_path, {.access = storage::Access::read_write})),
      leases_(database_, {.run_id = options.run_id, .worker = options.worker, .ttl_s = options.ttl_s}),
      renewed_(std::chrono::steady_clock::now()) {}

void LeaseSource::fail(const storage::StorageError& e) {
  failure_ =
      "the shared run's frontier in " + storage::redact_password(options_.db_path) + " failed: " + e.what();
  database_.rollback_quietly();
}

template <class F>
auto LeaseSource::guarded(F f, decltype(f()) otherwise) {
  if (failure_) return otherwise;
  // A statement PostgreSQL ended to break a deadlock is run again, as its manual advises: each of
  // these is a transaction of its own, undone whole. (The statements lock rows in one order, see
  // HostLeases::admit, so this is a net under that order, not the order itself.)
  for (int attempt = 1;; ++attempt) {
    try {
      return f();
    } catch (const storage::StatementError& e) {
      if (attempt == 3 || (e.sqlstate != "40P01" && e.sqlstate != "40001")) {
        fail(e);
        return otherwise;
      }
      database_.rollback_quietly();
    } catch (const storage::StorageError& e) {
      fail(e);
      return otherwise;
    }
  }
}

std::vector<storage::HostLease> LeaseSource::claim(int hosts, int per_host) {
  return guarded([&] { return leases_.claim(hosts, per_host, unix_now()); }, {});
}

std::vector<storage::HostLease> LeaseSource::take_more(
    const std::vector<storage::HostLeases::TakenUpTo>& hosts, int per_host) {
  return guarded([&] { return leases_.take_more(hosts, per_host, unix_now()); }, {});
}

bool LeaseSource::others_live() {
  const auto now = std::chrono::steady_clock::now();
  if (now - others_seen_ < std::chrono::seconds(1)) return others_live_;
  others_seen_ = now;
  others_live_ = guarded(
      [&] {
        const auto live = storage::live_sessions(database_);
        const auto it = live.find(options_.run_id);
        return it != live.end() && it->second > 1;  // this worker's session is one of them
      },
      true);
  return others_live_;
}

std::optional<std::vector<std::string>> LeaseSource::renew_if_due() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_renewal()) return std::nullopt;
  renewed_ = now;
  if (failure_) return std::nullopt;
  return guarded([&] { return std::optional(leases_.renew(unix_now())); }, std::nullopt);
}

std::chrono::steady_clock::time_point LeaseSource::next_renewal() const {
  return renewed_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(options_.ttl_s / 3));
}

LeaseSource::RunState LeaseSource::run_state() {
  return guarded(
      [&] {
        const storage::SharedRunProgress p = leases_.progress(unix_now());
        if (p.entries > 0 || p.lists_reader_live) return RunState::working;
        return p.lists_unread ? RunState::reader_gone : RunState::done;
      },
      RunState::failed);
}

}  // namespace crawl
