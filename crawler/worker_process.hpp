// The code a forked worker process runs (process mode, hybrid with --processes): it reads URLs from
// its socket, fetches them and writes the pages back (crawler/ipc.hpp), until the parent closes the
// socket. The parent's side is crawler/worker_pool.cpp.
#pragma once

#include <sys/types.h>

#include "crawler/fetch.hpp"
#include "crawler/producers.hpp"

namespace crawl {

// Runs in the child right after fork(), on its end `sock` of the socket pair; never returns.
// `parent` is the parent's pid (the worker dies with it); `index` names the worker ("p3").
[[noreturn]] void run_worker_process(int sock, pid_t parent, int index, const WorkerSpec& spec,
                                     const FetchOptions& fetch);

}  // namespace crawl
