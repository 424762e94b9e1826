// Process mode and hybrid mode with --processes, the parent's side: forked workers (crawler/
// worker_process.cpp) fed over framed socket pairs.
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/thread_name.hpp"
#include "common/unique_fd.hpp"
#include "common/usage_error.hpp"
#include "crawler/errors.hpp"
#include "crawler/ipc.hpp"
#include "crawler/producers.hpp"
#include "crawler/worker_process.hpp"
#include "urls/url.hpp"

namespace crawl {
namespace {

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) +
           ")";
  return "ended";
}

// Resident memory from /proc/PID/statm, whole or only what is not backed by files. Summing whole
// RSS over 200 workers would count the same library pages 200 times (~7 MB each here); a worker's
// own cost is its resident memory that is not shared file pages. (PSS would be exact, but reading
// smaps_rollup for hundreds of processes four times a second costs a noticeable share of a core.)
int64_t resident_kb(pid_t pid, bool private_only) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  int64_t size = 0, resident = 0, shared = 0;
  if (!(statm >> size >> resident >> shared)) return 0;
  return (private_only ? resident - shared : resident) * (sysconf(_SC_PAGESIZE) / 1024);
}

}  // namespace

struct WorkerPool::State {
  using Clock = std::chrono::steady_clock;

  struct Held {
    UrlTask task;
    bool begun = false;  // counted in the in-flight table: taken as fetching, not waiting in the worker
  };
  struct Worker {
    pid_t pid = -1;
    UniqueFd fd;
    int index = 0;
    bool alive = true;
    bool stop_sent = false;
    std::map<int64_t, Held> held;  // sent, no page back yet; by seq
    // A worker fetches what it holds in the order it got it, as fast as its fetches end; the parent
    // hears of a start only where politeness asks for it. So the first `fetches` held are taken as
    // under way, and the next in line begins when a page comes back: the progress line counts
    // fetches, not URLs waiting in a worker.
    std::deque<int64_t> unbegun;
    bool topping_up = false;  // held fell to the low mark; gets URLs until it holds its limit
    ipc::Outgoing out;        // tasks for it, written once the frontier's batch is dealt out
    std::string origin;       // of the latest task sent to it
    ipc::FrameBuffer in;
    // The watchdog's clock: when the worker was last heard from (a byte received, or given its
    // first URL after holding none), and `paused` as it was then.
    Clock::time_point heard_at{};
    Clock::duration paused_when_heard{};
  };

  WorkerSpec spec;
  // A worker holding URLs that sends nothing for this long, while the parent is reading, is
  // stopped or stuck: every fetch ends within the transfer timeout, so the margin only covers
  // scheduling and the write of a finished page.
  Clock::duration silence_limit{};
  UniqueFd epoll_fd;
  UniqueFd wake_fd;                  // an eventfd: wakes the collector (closed, stopped)
  mutable std::mutex mutex;          // guards everything below
  std::condition_variable attached;  // run() has set `ctx`
  const ProducerContext* ctx = nullptr;
  std::vector<Worker> workers;
  std::deque<UrlTask> retries;  // held by a worker that died; waiting for room elsewhere
  WaitingTasks pending;         // from the frontier, waiting for a worker with room
  bool closed = false;          // the frontier hands out no more
  int64_t held_total = 0;
  int alive = 0;
  bool stopping = false;
  // How long the collector has spent not reading, all told (handing pages on to a full queue): a
  // worker blocked writing to it meanwhile is not silent, it is waiting for the parent.
  Clock::duration paused{};
  WorkerUsage usage;
  int64_t peak_rss_sum_kb = 0;

  // Also what a constructor that threw part way leaves: the workers started so far are ended and
  // reaped, and every descriptor is closed by its owner.
  ~State() {
    for (auto& w : workers)
      if (w.pid > 0) {
        kill(w.pid, SIGKILL);
        reap(w);
      }
  }

  // Under `mutex`. A worker holds up to its fetches and its reserve; once full, it gets more only
  // when it is down to its fetches and half its reserve, and then is filled up again: URLs cross
  // half a reserve to a write, and each write wakes the worker once.
  bool has_room(Worker& w) {
    if (!w.alive) return false;
    const size_t fetches = static_cast<size_t>(spec.fetches_per_worker());
    const size_t reserve = static_cast<size_t>(spec.reserve_per_worker());
    if (w.held.size() >= fetches + reserve) {
      w.topping_up = false;
      return false;
    }
    if (w.held.size() <= fetches + reserve / 2) w.topping_up = true;
    return w.topping_up;
  }
  // What a worker holds that is taken as under way (the rest waits in `unbegun`).
  size_t fetching(const Worker& w) const { return w.held.size() - w.unbegun.size(); }

  Worker* roomiest() {
    Worker* best = nullptr;
    for (auto& w : workers)
      if (has_room(w) && (!best || w.held.size() < best->held.size())) best = &w;
    return best;
  }

  // Under `mutex`: the task's frame waits in the worker's `out` until write_out().
  void send(Worker& w, UrlTask&& task, const ProducerContext& ctx) {
    w.out.task(task);
    w.origin.assign(urls::origin_of(task.url));
    if (w.held.empty()) heard(w);  // an idle worker owes nothing: its silence counts from now
    const int64_t seq = task.seq;
    w.held.emplace(seq, Held{.task = std::move(task)});
    ++held_total;
    w.unbegun.push_back(seq);
    begin_next(w, ctx);
  }
  // Under `mutex`: the next in line are taken as under way while the worker has fetches free.
  void begin_next(Worker& w, const ProducerContext& ctx) {
    while (!w.unbegun.empty() && fetching(w) < static_cast<size_t>(spec.fetches_per_worker())) {
      Held& h = w.held.at(w.unbegun.front());
      w.unbegun.pop_front();
      ctx.in_flight.begin(h.task.seq, h.task.url);
      h.begun = true;
    }
  }
  // Under `mutex`: the page of `it` came back.
  void release(Worker& w, std::map<int64_t, Held>::iterator it, const ProducerContext& ctx) {
    if (it->second.begun)
      ctx.in_flight.end(it->first);
    else
      w.unbegun.erase(std::find(w.unbegun.begin(), w.unbegun.end(), it->first));
    w.held.erase(it);
    --held_total;
    begin_next(w, ctx);
  }
  // Under `mutex`. A write to a dead worker fails quietly: the collector sees its socket close and
  // deals with what it held, these tasks included.
  void write_out() {
    for (auto& w : workers)
      if (!w.out.empty()) w.out.write_to(w.fd.get());
  }

  // Under `mutex`.
  void dispatch_waiting(const ProducerContext& ctx, PageBatch& rows) {
    deal_out(ctx, rows);
    write_out();
  }

  // Under `mutex`: retries go out before new tasks, to whoever has room; then what waits, each task
  // to the worker it names (the one holding a connection to its host) if that one has room, the
  // rest to the workers with room, the roomiest first and one task each in turn, so the last tasks
  // of a list spread out. Once stopped, or with no worker left, what waits becomes rows instead.
  void deal_out(const ProducerContext& ctx, PageBatch& rows) {
    if (stopping || ctx.stop.load() || alive == 0) {
      // Retries wait only for room, and a stopped run makes none (with no worker left, the
      // collector has recorded them already).
      for (auto& task : retries) {
        Page row = interrupted_page(task);
        row.record.attempts = task.attempt - 1;
        rows.push_back(std::move(row));
      }
      retries.clear();
      for (auto& task : pending.take_all())
        rows.push_back(
            alive == 0 && !stopping && !ctx.stop.load()
                ? unfetched_page(task, ErrorCategory::worker_crash, "no worker process is left to fetch it")
                : interrupted_page(task));
      return;
    }
    while (!retries.empty()) {
      Worker* w = roomiest();
      if (!w) return;
      send(*w, std::move(retries.front()), ctx);
      retries.pop_front();
    }
    if (pending.empty()) return;
    pending.give_named([&](UrlTask& task) {
      if (static_cast<size_t>(task.lane) >= workers.size()) return false;
      Worker& w = workers[static_cast<size_t>(task.lane)];
      if (!has_room(w)) return false;
      send(w, std::move(task), ctx);
      return true;
    });
    std::vector<Worker*> with_room;
    for (auto& w : workers)
      if (has_room(w)) with_room.push_back(&w);
    std::stable_sort(with_room.begin(), with_room.end(),
                     [](const Worker* a, const Worker* b) { return a->held.size() < b->held.size(); });
    while (!pending.empty() && !with_room.empty()) {
      for (size_t i = 0; i < with_room.size() && !pending.empty();) {
        Worker& w = *with_room[i];
        send(w, pending.take_for(w.index, w.origin), ctx);
        if (has_room(w))
          ++i;
        else
          with_room.erase(with_room.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
  }

  // Under `mutex`.
  void heard(Worker& w) {
    w.heard_at = Clock::now();
    w.paused_when_heard = paused;
  }
  // Under `mutex`: how long a worker has been silent while the collector was reading.
  Clock::duration silence(const Worker& w, Clock::time_point now) const {
    return (now - w.heard_at) - (paused - w.paused_when_heard);
  }

  void wake_collector() const {
    uint64_t one = 1;
    [[maybe_unused]] auto w = write(wake_fd.get(), &one, sizeof one);
  }

  // Waits for the worker to end; the caller may hold `mutex` or not (see account()).
  static std::pair<int, rusage> wait_for(pid_t pid) {
    int status = 0;
    rusage ru{};
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
    }
    return {status, ru};
  }
  // Under `mutex` (or with no other thread left): adds a reaped worker's usage; returns how it ended.
  std::string account(Worker& w, const std::pair<int, rusage>& ended) {
    const rusage& ru = ended.second;
    usage.user_s += static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6;
    usage.sys_s += static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
    usage.voluntary_ctx += ru.ru_nvcsw;
    usage.involuntary_ctx += ru.ru_nivcsw;
    w.pid = -1;
    return describe_exit(ended.first);
  }
  // The same without waiting: nullopt while the worker is still running.
  static std::optional<std::pair<int, rusage>> try_wait(pid_t pid) {
    int status = 0;
    rusage ru{};
    for (;;) {
      const pid_t r = wait4(pid, &status, WNOHANG, &ru);
      if (r == 0) return std::nullopt;
      if (r < 0 && errno == EINTR) continue;
      return std::pair{status, ru};  // ended, or not ours to wait for any more (ECHILD)
    }
  }
  void reap(Worker& w) { account(w, wait_for(w.pid)); }
};

WorkerPool::WorkerPool(const WorkerSpec& spec, const FetchOptions& fetch)
    : state_(std::make_unique<State>()) {
  state_->spec = spec;
  state_->silence_limit =
      fetch.timeout + std::max<State::Clock::duration>(std::chrono::seconds(5), fetch.timeout / 4);
  const pid_t parent = getpid();
  state_->workers.reserve(static_cast<size_t>(spec.processes));
  for (int i = 0; i < spec.processes; ++i) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      throw UsageError(std::string("cannot create a socket pair for worker ") + std::to_string(i) + ": " +
                       std::strerror(errno) + " (lower -c or --processes)");
    std::fflush(nullptr);  // or output buffered so far would be written by every child as well
    const pid_t pid = fork();
    if (pid < 0) {
      const int err = errno;
      ::close(sv[0]);
      ::close(sv[1]);
      throw UsageError("cannot start worker process " + std::to_string(i) + " of " +
                       std::to_string(spec.processes) + ": " + std::strerror(err) +
                       " (lower -c or --processes, or raise the process limit: ulimit -u)");
    }
    if (pid == 0) run_worker_process(sv[1], parent, i, spec, fetch);
    ::close(sv[1]);
    State::Worker w;
    w.pid = pid;
    w.fd.reset(sv[0]);
    w.index = i;
    state_->workers.push_back(std::move(w));
    ++state_->alive;
  }
  state_->epoll_fd.reset(epoll_create1(EPOLL_CLOEXEC));
  state_->wake_fd.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!state_->epoll_fd || !state_->wake_fd.get())
    throw UsageError(std::string("cannot create the workers' epoll set: ") + std::strerror(errno));
  for (size_t i = 0; i < state_->workers.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = i;
    epoll_ctl(state_->epoll_fd.get(), EPOLL_CTL_ADD, state_->workers[i].fd.get(), &ev);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = ~uint64_t{0};
  epoll_ctl(state_->epoll_fd.get(), EPOLL_CTL_ADD, state_->wake_fd.get(), &ev);
}

WorkerPool::~WorkerPool() = default;

std::vector<int> WorkerPool::pids() const {
  std::lock_guard lock(state_->mutex);
  std::vector<int> out;
  for (const auto& w : state_->workers)
    if (w.pid > 0) out.push_back(w.pid);
  return out;
}

WorkerUsage WorkerPool::usage() const {
  std::lock_guard lock(state_->mutex);
  WorkerUsage u = state_->usage;
  u.peak_rss_sum_kb = state_->peak_rss_sum_kb;
  return u;
}

void WorkerPool::sample_memory() {
  int64_t total = resident_kb(getpid(), false);
  for (int pid : pids()) total += resident_kb(pid, true);
  std::lock_guard lock(state_->mutex);
  state_->peak_rss_sum_kb = std::max(state_->peak_rss_sum_kb, total);
}

void WorkerPool::stop_workers() {
  std::lock_guard lock(state_->mutex);
  state_->stopping = true;
  for (auto& w : state_->workers) {
    if (!w.alive || w.stop_sent) continue;
    w.stop_sent = true;
    if (state_->spec.blocking) {
      kill(w.pid, SIGUSR1);
    } else {
      ipc::Outgoing frame;
      frame.stop();
      frame.write_to(w.fd.get());
    }
  }
  // URLs waiting for room become rows now.
  state_->wake_collector();
}

void WorkerPool::push(TaskBatch&& batch) {
  State& s = *state_;
  PageBatch rows;
  std::unique_lock lock(s.mutex);
  s.attached.wait(lock, [&] { return s.ctx != nullptr; });  // only at the very start of a run
  const ProducerContext& ctx = *s.ctx;
  for (UrlTask& task : batch) s.pending.push(std::move(task));
  s.dispatch_waiting(ctx, rows);
  lock.unlock();
  ctx.finish_unfetched(std::move(rows));
}

void WorkerPool::close() {
  std::lock_guard lock(state_->mutex);
  state_->closed = true;
  state_->wake_collector();
}

void WorkerPool::run(const ProducerContext& ctx) {
  name_this_thread("crawl-workers");  // the parent's end of every worker's socket
  using Clock = State::Clock;
  State& s = *state_;
  {
    std::lock_guard lock(s.mutex);
    s.ctx = &ctx;
  }
  s.attached.notify_all();

  // Under `lock`, which it lets go while waiting for the worker to end: reaps a worker that died or
  // was killed, and turns each URL it held into a retry on another worker or a row. `why` replaces
  // how the worker ended in the rows' message when set.
  auto bury = [&](State::Worker& w, std::unique_lock<std::mutex>& lock, const std::string& why,
                  PageBatch& rows) {
    epoll_ctl(s.epoll_fd.get(), EPOLL_CTL_DEL, w.fd.get(), nullptr);
    // No more URLs for it from here on (push() may run while this waits below).
    w.alive = false;
    --s.alive;
    lock.unlock();
    const auto ended = State::wait_for(w.pid);  // its socket closed, or it was killed
    lock.lock();
    std::string how = s.account(w, ended);
    if (!why.empty()) how = why;
    w.fd.reset();
    ++s.usage.workers_lost;
    const bool others = s.alive > 0;
    for (auto& [seq, held] : w.held) {
      UrlTask& task = held.task;
      --s.held_total;
      if (held.begun) ctx.in_flight.end(seq);
      if (s.stopping || ctx.stop.load()) {
        rows.push_back(unfetched_page(
            task, ErrorCategory::interrupted,
            "the run was interrupted while worker p" + std::to_string(w.index) + " held this URL"));
      } else if (task.attempt < 2 && others) {
        ++task.attempt;
        s.retries.push_back(std::move(task));
      } else {
        Page row = unfetched_page(task, ErrorCategory::worker_crash,
                                  "worker process p" + std::to_string(w.index) + " " + how +
                                      (held.begun ? " while fetching this URL" : " while it held this URL") +
                                      (task.attempt > 1 ? " (its second attempt)" : ""));
        row.record.attempts = task.attempt;
        rows.push_back(std::move(row));
      }
    }
    w.held.clear();
    w.unbegun.clear();
    if (!others) {
      // Nobody is left to fetch: what waited for a retry is recorded now.
      for (auto& task : s.retries) {
        Page row =
            unfetched_page(task, ErrorCategory::worker_crash, "no worker process is left to retry it on");
        row.record.attempts = task.attempt - 1;
        rows.push_back(std::move(row));
      }
      s.retries.clear();
    }
  };

  // This thread reads pages from every worker and hands them on; pushing into the bounded queue
  // blocks it when the consumers fall behind, so it stops reading and the workers stop at their
  // next write: memory stays flat. The frontier hands tasks straight to the workers (push()), so
  // a page's way back and its host's next URL's way out cost one thread hop each.
  std::vector<epoll_event> events(64);
  // The watchdog looks at the workers this often; epoll_wait never sleeps longer, so a worker that
  // stops while no other sends anything is still found.
  constexpr auto kWatchEvery = std::chrono::milliseconds(250);
  auto last_watch = Clock::now();
  auto next_watch = last_watch + kWatchEvery;
  Clock::duration paused_at_last_watch{};
  for (;;) {
    {
      std::lock_guard lock(s.mutex);
      if (s.closed && s.held_total == 0 && s.retries.empty() && s.pending.empty()) break;
    }
    const int n = epoll_wait(s.epoll_fd.get(), events.data(), static_cast<int>(events.size()),
                             static_cast<int>(kWatchEvery.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {  // only a broken invariant (a bad descriptor) gets here
      std::fprintf(stderr, "crawl: epoll_wait on the workers failed: %s\n", std::strerror(errno));
      std::abort();
    }
    PageBatch pages;  // fetched by the workers, for the consumers
    PageBatch rows;   // of URLs the workers never fetched: they need no parsing
    for (int e = 0; e < n; ++e) {
      if (events[static_cast<size_t>(e)].data.u64 == ~uint64_t{0}) {
        // Clear the eventfd, or epoll would report it again at once, forever.
        uint64_t value;
        [[maybe_unused]] auto r = read(s.wake_fd.get(), &value, sizeof value);
        continue;
      }
      State::Worker& w = s.workers[events[static_cast<size_t>(e)].data.u64];
      bool gone = false;
      bool heard = false;
      // At most a few reads per worker per round, so one sending big pages cannot starve the rest.
      for (int reads = 0; reads < 4; ++reads) {
        const std::span<char> room = w.in.room();
        const ssize_t got = recv(w.fd.get(), room.data(), room.size(), MSG_DONTWAIT);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (got <= 0) {
          gone = true;
          break;
        }
        heard = true;
        w.in.commit(static_cast<size_t>(got));
        if (static_cast<size_t>(got) < room.size()) break;
      }
      std::unique_lock lock(s.mutex);
      // Any byte counts, not only a whole frame: a big page on its way is a worker at work.
      if (heard) s.heard(w);
      try {
        while (auto frame = w.in.next()) {
          if (frame->kind == ipc::FrameKind::started) {
            const auto [seq, at] = ipc::decode_started(frame->payload);
            if (ctx.frontier) ctx.frontier->started(seq, at);
            continue;
          }
          if (frame->kind != ipc::FrameKind::page) continue;
          const auto held = w.held.find(ipc::page_seq(frame->payload));
          if (held == w.held.end()) continue;  // not ours to count (never happens)
          // The task's strings move into the page instead of coming back over the socket.
          Page page = ipc::decode_page(frame->payload, std::move(held->second.task));
          s.release(w, held, ctx);
          page.lane = w.index;
          pages.push_back(std::move(page));
        }
      } catch (const std::exception& ex) {
        // A worker that sends garbage is as good as dead: stop it and treat it so.
        std::fprintf(stderr, "crawl: worker p%d sent a malformed frame (%s); stopping it\n", w.index,
                     ex.what());
        kill(w.pid, SIGKILL);
        gone = true;
      }
      if (gone) bury(w, lock, "", rows);
    }
    if (const auto now = Clock::now(); now >= next_watch) {
      // A worker that holds URLs and has said nothing for longer than any fetch may last, while
      // this thread was reading, is stopped (SIGSTOP, a debugger) or stuck: it is killed and what
      // it held goes elsewhere, as if it had died.
      std::unique_lock lock(s.mutex);
      // A gap much longer than kWatchEvery that was not spent handing pages on means this process
      // did not run (stopped with its process group by Ctrl-Z, or starved): nobody read meanwhile.
      const auto unaccounted = (now - last_watch) - (s.paused - paused_at_last_watch);
      if (unaccounted > kWatchEvery + std::chrono::seconds(1)) s.paused += unaccounted - kWatchEvery;
      last_watch = now;
      paused_at_last_watch = s.paused;
      next_watch = now + kWatchEvery;
      for (auto& w : s.workers) {
        if (!w.alive || w.held.empty()) continue;
        const auto quiet = s.silence(w, now);
        if (quiet <= s.silence_limit) continue;
        // Bytes (or the end) waiting unread: it has spoken, this thread has not listened yet.
        char byte;
        if (recv(w.fd.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) >= 0) continue;
        kill(w.pid, SIGKILL);
        ++s.usage.workers_unresponsive;
        bury(w, lock,
             "was killed for being unresponsive for " +
                 std::to_string(std::chrono::duration_cast<std::chrono::seconds>(quiet).count()) + " s",
             rows);
      }
    }
    {
      // Pages back and workers gone make room; a wake-up may mean stopped or closed.
      std::lock_guard lock(s.mutex);
      s.dispatch_waiting(ctx, rows);
    }
    ctx.finish_unfetched(std::move(rows));
    // The frontier hears of each page before it goes on, so it may hand out the host's next URL.
    std::erase_if(pages, [&](const Page& p) { return !ctx.keep(p); });
    if (pages.empty()) continue;
    const auto before = Clock::now();
    for (Page& p : pages) ctx.reserve(p);  // the workers wait on their next write meanwhile
    ctx.pages.push(std::move(pages));
    // Time spent here is time nobody read the workers' sockets: not silence on their part.
    const auto spent = Clock::now() - before;
    std::lock_guard lock(s.mutex);
    s.paused += spent;
  }

  sample_memory();
  // Every URL has its row: the workers see their sockets close, exit, and are reaped here. One
  // that does not end within a few seconds (stopped, stuck) holds nothing, and is killed.
  for (auto& w : s.workers) {
    if (w.fd.get()) shutdown(w.fd.get(), SHUT_WR);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  for (auto& w : s.workers) {
    if (w.pid > 0) {
      auto ended = State::try_wait(w.pid);
      while (!ended && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        ended = State::try_wait(w.pid);
      }
      if (!ended) {
        kill(w.pid, SIGKILL);
        ended = State::wait_for(w.pid);
      }
      std::lock_guard lock(s.mutex);  // pids() may be reading from the progress thread
      s.account(w, *ended);
    }
    w.fd.reset();
    w.alive = false;
  }
}

}  // namespace crawl
