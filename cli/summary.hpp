// What `crawl run` and `crawl resume` print when a run ends, and the exit status they return.
#pragma once

#include <iosfwd>

#include "crawler/run.hpp"

namespace crawl::cli {

// The end-of-run report printed on stdout.
void print_summary(const RunSummary& summary, std::ostream& out);

// 0 completed, 1 failed, 130 interrupted, 141 stopped by a closed standard output (the status a
// shell shows for a process that SIGPIPE killed, so pipelines read the same as before). With
// `fail_on_failed_urls` (--fail), a completed run in which some URLs failed: kSomeUrlsFailed.
constexpr int kSomeUrlsFailed = 22;  // curl --fail's status for an HTTP error
int exit_code(const RunSummary& summary, bool fail_on_failed_urls = false);

}  // namespace crawl::cli
