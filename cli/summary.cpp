#include "cli/summary.hpp"

#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error_category.hpp"
#include "common/units.hpp"
#include "parsers/html.hpp"

namespace crawl::cli {

void print_summary(const RunSummary& s, std::ostream& out) {
  const auto& t = s.tally;
  const auto& st = s.stats;
  const auto& c = s.config;
  out << "run " << s.run_id << " " << st.status << ": " << t.urls << " URLs in " << std::fixed
      << std::setprecision(2) << st.wall_s << " s (" << c.mode << ", " << c.processes << "×" << c.threads
      << "×" << c.fibers << ", " << c.concurrency << " in flight, ";
  // The layout is what was asked for; dead workers are not replaced, so say what was left of it.
  if (s.workers_lost > 0 && c.processes > 0)
    out << std::max(0, c.processes - s.workers_lost) * (c.concurrency / c.processes) << " after "
        << s.workers_lost << " worker" << (s.workers_lost > 1 ? "s" : "") << " died, ";
  out << c.consumers << " consumers";
  if (c.parse)
    out << ", " << parsers::parser_name(s.parser);
  else
    out << ", no parsing";
  out << ")\n";
  // A resumed run's figures cover all its sessions; this one's share is said apart.
  if (s.session > 1)
    out << "  session   " << s.session << " (resumed): " << s.session_urls << " URLs in "
        << std::setprecision(2) << s.session_wall_s << " s\n";
  out << "  ok        " << t.ok << "\n";
  auto list = [&](bool failures) {
    std::vector<std::pair<std::string_view, int64_t>> counts;
    for (size_t i = 0; i < kErrorCategories; ++i) {
      const auto category = static_cast<ErrorCategory>(i);
      if (t.by_category[i] > 0 && is_failure(category) == failures)
        counts.emplace_back(name_of(category), t.by_category[i]);
    }
    std::sort(counts.begin(), counts.end());  // by name, as users look them up
    std::string items;
    for (const auto& [name, n] : counts)
      items += (items.empty() ? "" : ", ") + std::string(name) + " " + std::to_string(n);
    return items;
  };
  out << "  failed    " << t.failed << (t.failed ? "  (" + list(true) + ")" : "") << "\n";
  if (t.skipped) out << "  skipped   " << t.skipped << "  (" << list(false) << ")\n";
  out << "  bytes     " << format_bytes(t.bytes_wire) << " received, " << format_bytes(t.bytes_body)
      << " decoded\n";
  out << std::setprecision(1) << "  rate      " << st.pages_per_s << " pages/s over " << std::setprecision(2)
      << st.crawl_s << " s of crawling\n";
  // A few slow or retried URLs can hold a run long after the rest were done (a timeout, three
  // attempts); the mean rate above then says nothing of how fast the others went.
  const auto& tail = s.tail;
  const int64_t others = t.fetched - tail.late;
  if (tail.late > 0 && tail.late * 10 <= t.fetched && st.crawl_s - tail.bulk_s >= 1.0 && tail.bulk_s > 0)
    out << std::setprecision(2) << "  tail      " << others << " pages took " << tail.bulk_s << " s ("
        << std::setprecision(1) << static_cast<double>(others) / tail.bulk_s << " pages/s); the last "
        << tail.late << " kept the run going " << std::setprecision(2) << st.crawl_s - tail.bulk_s
        << " s more (slow or retried)\n";
  out << std::setprecision(1) << "  latency   p50 " << st.p50_ms << " ms, p90 " << st.p90_ms << " ms, p99 "
      << st.p99_ms << " ms\n";
  if (st.connections > 0) {
    out << std::setprecision(1) << "  connect   " << st.connections << " connection"
        << (st.connections == 1 ? "" : "s") << " to " << st.connected_hosts << " host"
        << (st.connected_hosts == 1 ? "" : "s") << " ("
        << static_cast<double>(st.connections) / static_cast<double>(std::max<int64_t>(st.connected_hosts, 1))
        << " per host, at most " << st.max_host_connections << ")";
    if (st.tls_full + st.tls_resumed > 0)
      out << "; TLS handshakes " << st.tls_full << " full, " << st.tls_resumed << " resumed";
    out << "\n";
  }
  out << std::setprecision(2) << "  cpu       " << st.user_s << " s user, " << st.sys_s << " s sys; peak RSS "
      << st.peak_rss_kb / 1024 << " MB\n";
  const auto& f = s.frontier;
  if (f.discovered || f.retries || f.robots_denied)
    out << "  crawl     " << f.discovered << " links followed, " << f.retries << " retries, "
        << f.robots_denied << " URLs disallowed by robots.txt, " << f.hosts << " hosts\n";
  if (f.host_claims > 0)
    out << "  leases    " << f.host_claims << " host" << (f.host_claims == 1 ? "" : "s") << " claimed with "
        << f.claimed_urls << " URLs, " << f.taken_while_held << " more URLs taken from hosts held\n";
  if (f.per_host > 0 && f.held_by_hosts_s >= 0.05)
    out << std::setprecision(2) << "  politeness the per-host limit (" << f.per_host
        << ") held the run below -c " << c.concurrency << " for " << f.held_by_hosts_s << " of " << st.crawl_s
        << " s\n";
  if (s.workers_lost) {
    out << "  workers   " << s.workers_lost << " worker process" << (s.workers_lost > 1 ? "es" : "")
        << " died during the run";
    if (s.workers_unresponsive) out << " (" << s.workers_unresponsive << " killed for being unresponsive)";
    out << "; the URLs they held were tried once more elsewhere\n";
  }
  if (s.callback_failures)
    out << "  callbacks " << s.callback_failures << " failed, first: " << s.first_callback_failure << "\n";
  if (!s.failure.empty()) out << "  failure   " << s.failure << "\n";
  if (s.output_closed && s.interrupted) out << "  stopped   standard output was closed\n";
  out << "  stored in " << s.db_path << " as run " << s.run_id << ": crawl query --db " << s.db_path
      << " --run " << s.run_id << "\n";
}

int exit_code(const RunSummary& s, bool fail_on_failed_urls) {
  if (!s.failure.empty()) return 1;
  if (s.interrupted && s.output_closed) return 141;
  if (s.interrupted) return 130;
  if (fail_on_failed_urls && s.tally.failed > 0) return kSomeUrlsFailed;
  return 0;
}

}  // namespace crawl::cli
