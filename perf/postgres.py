#!/usr/bin/env python3
"""What storing a crawl in PostgreSQL costs beside an SQLite file, on the same lists, interleaved.

Starts its own PostgreSQL 15 (Debian's postgresql-15: initdb in a temporary directory, on a free
port of 127.0.0.1, as `nobody` when run as root, with the server's default settings) and the
project's testbed, then crawls each list into an SQLite file
and into a PostgreSQL database by turns, REPEAT times, and prints the medians and their ratio:

  W1  2,000 URLs x 100 ms latency at -c 200 on one host (latency-bound: the store must keep out of
      the way); with --workers also shared as W3 is
  W1n W1 with --no-parse. On a 2-core machine W1 is not latency-bound: its 2,000 testbed pages
      (21 KB each on average) take about 2 s of gumbo CPU, which with the testbed and the
      server beside it keeps both cores busy, so W1 also measures how much CPU the store takes
      from the parsers. W1n is the same list with the CPU left free: what waiting on the store costs
  W2  20,000 small pages, no latency, -c 50, --no-parse (store-bound: every row is written at the
      rate the fetchers produce it)

  W3  2,000 URLs over 100 hosts (h0..h99.localhost) x 100 ms latency at -c 200 per worker, with
      --workers: one worker with SQLite, one with PostgreSQL, then one run shared by 1, 2, 4
      workers (`crawl run --shared` and `crawl resume 1` beside it), timed from the first start to
      the last exit

  perf/postgres.py                       # fiber mode, 5 interleaved repeats
  perf/postgres.py --modes fiber,thread,process --repeat 7
  perf/postgres.py --leases              # also the host-lease microbenchmark on the same server
  perf/postgres.py --workloads W3 --workers 1,2,4

crawl's own connections run with synchronous_commit off unless --sync full (as SQLite runs with
synchronous=NORMAL): a commit does not wait for the server's disk.

Every run is checked: each URL has its row in the store it was written to. Times are the run's own
crawl_s (start to the last page stored) and the process's wall time (connecting and creating the
schema included).

Needs a release build in build/ (scripts/demo or cmake --build build).
"""
import argparse
import os
import pwd
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRAWL = os.path.join(ROOT, "build", "crawl")
PG_BIN = os.environ.get("CRAWL_PG_BIN", "/usr/lib/postgresql/15/bin")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A throw-away server: initdb, postgres in the foreground as a child, removed on close."""

    def __init__(self, settings):
        if not os.path.exists(os.path.join(PG_BIN, "initdb")):
            sys.exit(f"no PostgreSQL in {PG_BIN}: run scripts/setup")
        self.dir = tempfile.mkdtemp(prefix="crawl-bench-pg-")
        self.port = free_port()
        demote = None
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)

            def demote():
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
        data = os.path.join(self.dir, "data")
        subprocess.run([os.path.join(PG_BIN, "initdb"), "-D", data, "-A", "trust", "-U", "crawl", "-E", "UTF8",
                        "--locale=C"], check=True, capture_output=True, preexec_fn=demote, cwd=self.dir)
        args = [os.path.join(PG_BIN, "postgres"), "-D", data, "-p", str(self.port), "-k", self.dir, "-c",
                "listen_addresses=127.0.0.1"]
        for setting in settings:
            args += ["-c", setting]
        self.log = open(os.path.join(self.dir, "postgres.log"), "w")
        self.server = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=demote,
                                       cwd=self.dir)
        deadline = time.time() + 30
        while subprocess.run([os.path.join(PG_BIN, "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                             capture_output=True).returncode != 0:
            if time.time() > deadline or self.server.poll() is not None:
                sys.exit("PostgreSQL did not start: see " + self.log.name)
            time.sleep(0.1)
        self.databases = 0

    def fresh_database(self):
        self.databases += 1
        name = f"bench_{self.databases}"
        subprocess.run([os.path.join(PG_BIN, "psql"), f"postgresql://crawl@127.0.0.1:{self.port}/postgres", "-qc",
                        f"CREATE DATABASE {name}"], check=True, capture_output=True)
        return f"postgresql://crawl@127.0.0.1:{self.port}/{name}"

    def close(self):
        self.server.terminate()
        self.server.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def crawl_into(db, list_file, mode, c, extra):
    args = [CRAWL, "run", list_file, "--mode", mode, "--db", db, "--no-progress", *extra]
    args += ["--threads", "2", "--fibers", str(c // 2)] if mode == "hybrid" else ["-c", str(c)]
    start = time.monotonic()
    r = subprocess.run(args, capture_output=True, text=True)
    wall = time.monotonic() - start
    if r.returncode != 0:
        sys.exit(f"crawl failed ({db}): {r.stderr}{r.stdout}")
    q = subprocess.run([CRAWL, "query", "--db", db, "--format", "csv",
                        "select crawl_s, pages_ok, (select count(*) from pages where run_id = runs.id) as rows "
                        "from runs order by id desc limit 1"], capture_output=True, text=True, check=True)
    crawl_s, ok, rows = q.stdout.splitlines()[1].split(",")
    return wall, float(crawl_s), int(ok), int(rows)


def shared_run(pg_uri, list_file, mode, c, extra, workers, crawl=CRAWL):
    """One run shared by `workers` processes of `crawl`: the first makes it, the others join once it
    exists. Returns the wall time from the first start to the last exit, and the run's rows and ok
    pages."""
    def args(cmd):
        a = [crawl, *cmd, "--mode", mode, "--db", pg_uri, "--no-progress"]
        return a + (["--threads", "2", "--fibers", str(c // 2)] if mode == "hybrid" else ["-c", str(c)])
    start = time.monotonic()
    procs = [subprocess.Popen(args(["run", list_file, "--shared", *extra]), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)]
    while workers > 1:
        q = subprocess.run(["psql", "-Atc", "select count(*) from runs", pg_uri], capture_output=True, text=True)
        if q.returncode == 0 and q.stdout.strip() == "1":
            break
        time.sleep(0.005)
    for _ in range(workers - 1):
        procs.append(subprocess.Popen(args(["resume", "1"]), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True))
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            sys.exit(f"a worker failed ({pg_uri}): {err}")
    wall = time.monotonic() - start
    q = subprocess.run([CRAWL, "query", "--db", pg_uri, "--format", "csv",
                        "select (select count(*) from pages) as rows, (select count(*) from pages where error is null) "
                        "as ok, (select count(distinct url) from pages) as urls"], capture_output=True, text=True,
                       check=True)
    rows, ok, urls = (int(x) for x in q.stdout.splitlines()[1].split(","))
    if urls != rows:
        sys.exit(f"{rows} rows for {urls} URLs in a shared run")
    return wall, ok, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modes", default="fiber")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workloads", default="W1,W2")
    ap.add_argument("--leases", action="store_true", help="also run crawl_microbench's host-lease benchmark")
    ap.add_argument("--workers", default="1,2,4", help="W3: the numbers of workers sharing one run")
    a = ap.parse_args()
    if not os.path.exists(CRAWL):
        sys.exit(f"{CRAWL} is missing: build first")
    tmp = tempfile.mkdtemp(prefix="crawl-bench-store-")
    pg = Postgres([])
    testbed = subprocess.Popen([CRAWL, "testbed", "--port", "0", "--threads", "2"], stdout=subprocess.PIPE,
                               text=True)
    m = re.search(r"listening on http://127.0.0.1:(\d+)", testbed.stdout.readline())
    if not m:
        testbed.kill()
        sys.exit("testbed did not start")
    port = m.group(1)
    hosts = None
    if "W3" in a.workloads.split(","):
        hosts = subprocess.Popen([CRAWL, "testbed", "--port", "0", "--threads", "2", "--latency", "100ms",
                                  "--hosts", "100", "--host-pages", "20"], stdout=subprocess.PIPE, text=True)
        m3 = re.search(r"listening on http://127.0.0.1:(\d+)", hosts.stdout.readline())
        if not m3:
            hosts.kill()
            sys.exit("the multi-host testbed did not start")
        hosts_port = m3.group(1)
    workloads = {
        "W1": (2000, "/delay/100/page/{}", 200, []),
        "W1n": (2000, "/delay/100/page/{}", 200, ["--no-parse"]),
        "W2": (20000, "/page/{}", 50, ["--no-parse"]),
    }
    if hosts:
        workloads["W3"] = (2000, None, 200, [])
    lists = {}
    for name in a.workloads.split(","):
        n, path, _, _ = workloads[name]
        lists[name] = os.path.join(tmp, f"{name}.txt")
        with open(lists[name], "w") as f:
            if name == "W3":
                f.write("".join(f"http://h{i % 100}.localhost:{hosts_port}/page/{i // 100}\n" for i in range(n)))
            else:
                f.write("".join(f"http://127.0.0.1:{port}{path.format(i)}\n" for i in range(n)))
    stores = {w: ["sqlite", "postgres"] + ([f"shared{k}" for k in a.workers.split(",")] if w in ("W1", "W1n", "W3") else [])
              for w in lists}
    variants = [(w, mode, store) for w in lists for mode in a.modes.split(",") for store in stores[w]]
    results = {v: [] for v in variants}
    try:
        for rep in range(a.repeat):
            for w, mode, store in variants:
                n, _, c, extra = workloads[w]
                if store.startswith("shared"):
                    wall, ok, rows = shared_run(pg.fresh_database(), lists[w], mode, c, extra, int(store[6:]))
                    crawl_s = wall
                else:
                    db = pg.fresh_database() if store == "postgres" else os.path.join(tmp, f"{w}-{mode}-{rep}.db")
                    wall, crawl_s, ok, rows = crawl_into(db, lists[w], mode, c, extra)
                if rows != n or ok != n:
                    sys.exit(f"{w} {mode} {store}: {rows} rows, {ok} ok of {n}")
                results[(w, mode, store)].append((wall, crawl_s))
                print(f"  rep {rep + 1} {w} {mode:7s} {store:8s}: crawl {crawl_s:6.3f} s, process {wall:6.3f} s",
                      file=sys.stderr)
        leases = None
        if a.leases:
            micro = os.path.join(ROOT, "build", "crawl_microbench")
            leases = subprocess.run([micro, "--benchmark_filter=Leases"], capture_output=True, text=True,
                                    env=dict(os.environ, CRAWL_BENCH_PG=pg.fresh_database())).stdout
    finally:
        testbed.terminate()
        testbed.wait()
        if hosts:
            hosts.terminate()
            hosts.wait()
        pg.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if leases:
        print(leases)
    print(f"\nSQLite file vs PostgreSQL 15, {a.repeat} interleaved repeats, medians, {time.strftime('%Y-%m-%d')}")
    print("(sharedN: one run shared by N workers on PostgreSQL; its crawl_s is the wall time from the first "
          "start to the last exit)")
    print(f"{'list':4s} {'mode':7s} {'store':8s} {'crawl_s':>8s} {'min-max':>13s} {'process_s':>9s} "
          f"{'crawl /sqlite':>13s} {'process /sqlite':>15s}")
    for (w, mode, store), runs in results.items():
        crawl = statistics.median(c for _, c in runs)
        wall = statistics.median(p for p, _ in runs)
        lo, hi = min(c for _, c in runs), max(c for _, c in runs)
        base = results[(w, mode, "sqlite")]
        ratio = crawl / statistics.median(c for _, c in base)
        ratio_wall = wall / statistics.median(p for p, _ in base)
        print(f"{w:4s} {mode:7s} {store:8s} {crawl:8.3f} {lo:6.3f}-{hi:<6.3f} {wall:9.3f} {ratio:13.3f} "
              f"{ratio_wall:15.3f}")


if __name__ == "__main__":
    main()
