#include "crawler/worker_process.hpp"

#include <curl/curl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>
#include "common/thread_name.hpp"
#include "crawler/errors.hpp"
#include "crawler/ipc.hpp"
#include "crawler/producers.hpp"
#include "crawler/signals.hpp"
#include "crawler/tls.hpp"

namespace crawl {
namespace {

// Set by SIGUSR1, which the parent sends to a blocking worker when the run is interrupted: that
// worker sits in curl_easy_perform and reads nothing else, and libcurl's progress callback (which
// Transfer polls) is the one place it looks. A signal handler can only reach a global.
std::atomic<bool> g_worker_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void on_stop_signal(int) {
  g_worker_stop.store(true, std::memory_order_relaxed);
}

// What every worker does first: die with the parent, leave Ctrl-C, SIGTERM and SIGHUP to the parent
// (a terminal, `timeout`, `kill -TERM -PGID` and systemd send them to the whole process group; the
// parent decides what is interrupted and tells the workers), close every descriptor but its own
// socket, and initialise libcurl for itself.
void prepare_worker(int sock, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);  // the parent died before prctl took effect
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  unblock_watched_signals();  // blocked by the parent's SignalWatcher before the fork; ignored here
  struct sigaction sa {};
  sa.sa_handler = &on_stop_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, nullptr);
  // The list files, the other workers' sockets and whatever the caller had open are not ours.
  if (sock > 3) close_range(3, static_cast<unsigned>(sock) - 1, 0);
  close_range(static_cast<unsigned>(sock) + 1, ~0U, 0);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) _exit(1);
}

// Reads from `sock` until one whole frame has arrived; nullopt at end of input.
// The frame's payload is valid until the next call.
std::optional<ipc::Frame> read_frame(int sock, ipc::FrameBuffer& in) {
  for (;;) {
    if (auto f = in.next()) return f;
    const std::span<char> room = in.room();
    const ssize_t n = ::read(sock, room.data(), room.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    in.commit(static_cast<size_t>(n));
  }
}

// A blocking worker tells the parent of a start at once, from inside libcurl, on the one thread it
// has: the frame goes out before the page's, as the parent expects.
class StartsToSocket final : public StartListener {
 public:
  explicit StartsToSocket(int sock) : sock_(sock) {}
  void started(int64_t seq, std::chrono::steady_clock::time_point at) noexcept override {
    try {
      ipc::Outgoing frame;
      frame.started(seq, at);
      if (!frame.write_to(sock_)) _exit(1);  // the parent is gone
    } catch (const std::bad_alloc&) {
      // Untold, the parent counts the delay from the fetch's end instead: later, never sooner.
    }
  }

 private:
  int sock_;
};

// A fiber worker's starts are heard on its fiber threads, often inside the scheduler, where
// nothing may block: they wait here for the thread that writes to the socket, which the page
// queue's wake_pop() wakes.
class StartsToWriter final : public StartListener {
 public:
  explicit StartsToWriter(PageChannel& pages) : pages_(pages) {}
  void started(int64_t seq, std::chrono::steady_clock::time_point at) noexcept override {
    try {
      {
        std::lock_guard lock(mutex_);
        starts_.emplace_back(seq, at);
      }
      pages_.wake_pop();
    } catch (const std::bad_alloc&) {
    }
  }
  // Adds the frames of the starts heard so far.
  void take(ipc::Outgoing& out) {
    std::vector<std::pair<int64_t, std::chrono::steady_clock::time_point>> starts;
    {
      std::lock_guard lock(mutex_);
      starts.swap(starts_);
    }
    for (const auto& [seq, at] : starts) out.started(seq, at);
  }

 private:
  PageChannel& pages_;
  std::mutex mutex_;
  std::vector<std::pair<int64_t, std::chrono::steady_clock::time_point>> starts_;
};

// Process mode: the classic pre-forked worker. One blocking transfer at a time, one URL in, one
// page out; no thread and no fiber.
[[noreturn]] void blocking_worker(int sock, int index, const FetchOptions& fetch) {
  const std::string worker = "p" + std::to_string(index);
  StartsToSocket starts(sock);
  Transfer transfer(fetch, nullptr, &g_worker_stop, &starts);
  ipc::FrameBuffer in;
  ipc::Outgoing out;
  std::vector<Page> pages;
  while (auto frame = read_frame(sock, in)) {
    if (frame->kind != ipc::FrameKind::task) continue;  // a stop frame: SIGUSR1 does the work
    fetch_task(
        ipc::decode_task(frame->payload), transfer, worker, g_worker_stop, nullptr,
        [&] { return transfer.perform(); }, pages);
    out.page(pages.back());
    if (!out.write_to(sock)) _exit(1);  // the parent is gone
    pages.clear();                      // the body is not held while the worker waits for its next URL
  }
  _exit(0);
}

// Hybrid: the same fiber producers as in-process, fed by a thread that reads tasks from the socket;
// this thread sends the pages back, several frames to a write.
[[noreturn]] void fiber_worker(int sock, int index, const WorkerSpec& spec, const FetchOptions& fetch) {
  const int fetches = spec.fetches_per_worker();
  // Pages reach this thread in batches, as in-process fibers hand them to the consumers: one
  // wake-up for several pages. A batch not yet full leaves the fiber thread before it sleeps
  // (crawler/fiber_producers.cpp), so no page waits there for URLs the parent sends only once it
  // has the pages.
  const size_t batch = batch_size_for(spec.fibers);
  // Room for every URL the parent lets this worker hold (its fetches and its reserve): the thread
  // that reads them never waits for room, so it always reads a stop.
  TaskChannel tasks(static_cast<size_t>(fetches + spec.reserve_per_worker()) + 1);
  // Room for every fetch's page (a start's wake-up takes none: StartsToWriter).
  PageChannel pages(static_cast<size_t>(fetches) + 1);
  StartsToWriter starts(pages);
  InFlight in_flight;
  Wakers wakers;
  // With one fiber thread, it takes what arrives whole.
  const size_t share = spec.threads > 1 ? batch : SIZE_MAX;
  std::thread control([&] {
    name_this_thread("crawl-control");
    ipc::FrameBuffer in;
    for (;;) {
      const std::span<char> room = in.room();
      const ssize_t n = ::read(sock, room.data(), room.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      in.commit(static_cast<size_t>(n));
      TaskBatch received;
      while (auto frame = in.next()) {
        if (frame->kind == ipc::FrameKind::task) {
          received.push_back(ipc::decode_task(frame->payload));
        } else if (frame->kind == ipc::FrameKind::stop) {
          g_worker_stop.store(true);
          wakers.wake_all();  // fiber schedulers sleeping in epoll_wait abandon their transfers now
        }
      }
      // One read may bring many URLs: the parent fills a worker up in one write. Cut into fiber
      // mode's batches, they go to every fiber thread that is waiting; whole, the first thread to
      // ask would take them all while the others' fibers sat idle.
      push_in_batches(tasks, received, share);
    }
    tasks.close();
  });
  std::thread producers([&] {
    ProducerContext ctx{tasks,     pages,  fetch, g_worker_stop,
                        in_flight, wakers, batch, "p" + std::to_string(index) + ".",
                        nullptr,   &starts};
    run_fiber_producers(ctx, spec.threads, spec.fibers);
    pages.close();
  });
  PageBatch done;
  ipc::Outgoing out;
  bool parent_gone = false;
  for (;;) {
    const auto popped = pages.pop(done);
    if (popped == PageChannel::Popped::closed) break;
    if (parent_gone) continue;
    starts.take(out);  // before the pages: a fetch's start always reaches the parent before its page
    if (popped == PageChannel::Popped::item)
      for (const Page& page : done) out.page(page);  // written from `done` itself, before it is reused
    if (!out.empty()) parent_gone = !out.write_to(sock);
  }
  producers.join();
  control.join();
  _exit(parent_gone ? 1 : 0);
}

}  // namespace

[[noreturn]] void run_worker_process(int sock, pid_t parent, int index, const WorkerSpec& spec,
                                     const FetchOptions& fetch) {
  prepare_worker(sock, parent);
  // Never joined: the worker ends with _exit, by when the load is long done, or is cut short with it.
  std::jthread trust_loading;
  if (spec.load_trust && fetch.verify_tls) trust_loading = load_trust_in_background(fetch.trust);
  if (spec.blocking) blocking_worker(sock, index, fetch);
  fiber_worker(sock, index, spec, fetch);
}

}  // namespace crawl
