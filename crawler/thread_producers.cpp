#include <pthread.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/allocation_cache.hpp"
#include "common/thread_name.hpp"
#include "crawler/consumer.hpp"
#include "crawler/errors.hpp"
#include "crawler/producers.hpp"

namespace crawl {
namespace {

// A blocking curl_easy_perform with OpenSSL underneath fits easily in 256 KiB; sanitizers pad every
// frame, so they get more.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr size_t kProducerStack = 4 * 1024 * 1024;
#else
constexpr size_t kProducerStack = 256 * 1024;
#endif

void* thread_entry(void* arg) {
  std::unique_ptr<std::function<void()>> fn(static_cast<std::function<void()>*>(arg));
  (*fn)();
  return nullptr;
}

}  // namespace

SmallStackThread::SmallStackThread(size_t stack_bytes, std::function<void()> fn) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stack_bytes);
  auto* heap_fn = new std::function<void()>(std::move(fn));
  pthread_t t;
  int rc = pthread_create(&t, &attr, &thread_entry, heap_fn);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete heap_fn;
    throw std::runtime_error(std::string("cannot start a thread: ") + std::strerror(rc) +
                             " (lower -c or raise the process limit: ulimit -u)");
  }
  handle_ = t;
  joinable_ = true;
}

SmallStackThread::SmallStackThread(SmallStackThread&& other) noexcept
    : handle_(other.handle_), joinable_(other.joinable_) {
  other.joinable_ = false;
}

SmallStackThread::~SmallStackThread() {
  join();
}

void SmallStackThread::join() {
  if (!joinable_) return;
  pthread_join(static_cast<pthread_t>(handle_), nullptr);
  joinable_ = false;
}

void run_thread_producers(const ProducerContext& ctx, TaskRouter& router, int threads) {
  CurlShare share;
  std::vector<SmallStackThread> workers;
  workers.reserve(static_cast<size_t>(threads));
  auto body = [&ctx, &share, &router](int i) {
    return [&ctx, &share, &router, i] {
      name_this_thread("crawl-fetch" + std::to_string(i));
      drop_thread_allocation_cache();
      Transfer transfer(ctx.fetch, share.get(), &ctx.stop, ctx.starts);
      const std::string worker = ctx.worker_prefix + "t" + std::to_string(i);
      while (std::optional<UrlTask> task = router.take(i)) {
        PageBatch out;
        fetch_task(
            std::move(*task), transfer, worker, ctx.stop, &ctx.in_flight, [&] { return transfer.perform(); },
            out);
        out.back().lane = i;
        // Before the frontier hears of the page: the next task from this host is meant for us.
        router.returning(i);
        if (!ctx.keep(out.back())) continue;
        if (ctx.finish_unparsed_here) {
          finish_unparsed(std::move(out.back()), *ctx.rows);
          continue;
        }
        ctx.reserve(out.back());
        ctx.pages.push(std::move(out));
      }
    };
  };
  for (int i = 0; i < threads; ++i) {
    try {
      workers.emplace_back(kProducerStack, body(i));
    } catch (const std::runtime_error& e) {
      // The threads already running will still drain every task; with none, nothing would.
      if (workers.empty()) throw;
      std::fprintf(stderr, "crawl: started %zu of %d threads: %s\n", workers.size(), threads, e.what());
      break;
    }
  }
  for (auto& w : workers) w.join();
}

}  // namespace crawl
