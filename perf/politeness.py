#!/usr/bin/env python3
"""Per-host politeness without head-of-line blocking, against the local testbed.

A shuffled list of HOSTS hosts x PAGES pages (h0.localhost ... on one testbed port), every request
held LATENCY by the testbed, crawled with --per-host 4. With 4 fetches per host at a time, the
fastest any crawler can go is pages / (hosts x 4) rounds of LATENCY: 10,000 / 400 x 50 ms = 1.25 s
at -c 400, and twice that at -c 200 (where -c, not the hosts, is the limit: 10,000 / 200 x 50 ms).
A slow or busy host must never hold the others back, so the ratio to that ideal should stay near 1.

Each crawl is checked against the testbed's own counters: no host ever had more than 4 requests in
progress at once, and every URL has its row.

  perf/politeness.py                     # both concurrencies, 3 interleaved repeats, fiber mode
  perf/politeness.py --modes fiber,thread,process --repeat 5
  perf/politeness.py --control           # also each mode on the same number of URLs of one host
  perf/politeness.py --crawl OLD/build/crawl   # the same with another build (e.g. an older commit)
  perf/politeness.py --baseline OLD/build/crawl --repeat 7
                                          # this build and OLD's interleaved, with their ratio
  perf/politeness.py --workers 1,2       # also one run shared by 1 and by 2 worker processes
                                          # through PostgreSQL (crawl run --shared, crawl resume)

--control adds two crawls beside each: the same shuffled list with no per-host rule ("no cap": a
plain list over many hosts), and the same number of URLs all on one host with no per-host rule
("one host": what the mode itself costs at that rate). Where a mode misses the ideal by as much on
one host as with politeness, the gap is the concurrency model's own cost, not head-of-line
blocking. The "conns" column is how many connections the testbed accepted (its /__stats, whose own
request counts as one): each thread and each worker process has its own connection pool, so it
shows whether URLs reached a producer already connected to their host.

--workers N,... adds "shared N" rows: the same polite list as one run crawled by N worker processes
of one build together (`crawl run --shared` and N - 1 `crawl resume 1`, each at -c C) through a
PostgreSQL 15 the script starts (see perf/postgres.py), for --crawl and for --baseline alike; its
time is from the first start to the last exit, so it includes each worker's start and end. The per-host cap is checked on the testbed's
counters, which see every worker's requests together: workers share the hosts' leases, so N
workers never send a host more than --per-host at once.

Needs a release build in build/ (scripts/demo or cmake --build build).
"""
import argparse
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRAWL = os.path.join(ROOT, "build", "crawl")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postgres  # noqa: E402  (its throw-away server and shared runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--per-host", type=int, default=4)
    ap.add_argument("-c", default="400,200", help="comma-separated concurrencies")
    ap.add_argument("--modes", default="fiber")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--control", action="store_true", help="also crawl one host without politeness")
    ap.add_argument("--crawl", default=CRAWL, help="the crawl binary whose runs are measured (default: "
                    "build/crawl; the testbed is always build/crawl's), e.g. an older commit's build")
    ap.add_argument("--workers", default="", help="comma-separated numbers of workers sharing one run through "
                    "PostgreSQL, e.g. 1,2 (default: none)")
    ap.add_argument("--baseline", help="another crawl binary run beside --crawl, interleaved, e.g. an older "
                    "commit's build; the table adds the ratio of the two medians")
    a = ap.parse_args()
    builds = [("this", a.crawl)] + ([("baseline", a.baseline)] if a.baseline else [])
    for exe in [CRAWL] + [b for _, b in builds]:
        if not os.path.exists(exe):
            sys.exit(f"{exe} is missing: build first")
    tmp = tempfile.mkdtemp(prefix="crawl-politeness-")
    testbed = subprocess.Popen(
        [CRAWL, "testbed", "--port", "0", "--hosts", str(a.hosts), "--host-pages", str(a.pages), "--latency",
         f"{a.latency_ms}ms"], stdout=subprocess.PIPE, text=True)
    m = re.search(r"listening on http://127.0.0.1:(\d+)", testbed.stdout.readline())
    if not m:
        testbed.kill()
        sys.exit("testbed did not start")
    port = m.group(1)
    urls = [f"http://h{h}.localhost:{port}/page/{p}" for h in range(a.hosts) for p in range(a.pages)]
    random.Random(42).shuffle(urls)
    list_file = os.path.join(tmp, "urls.txt")
    with open(list_file, "w") as f:
        f.write("\n".join(urls) + "\n")
    total = len(urls)
    one_host_file = os.path.join(tmp, "one-host.txt")
    with open(one_host_file, "w") as f:
        f.write("".join(f"http://127.0.0.1:{port}/page/{n}\n" for n in range(total)))
    variants = [(mode, int(c), kind, build) for c in a.c.split(",") for mode in a.modes.split(",")
                for kind in (["polite", "no cap", "one host"] if a.control else ["polite"])
                for build, _ in builds]
    shared = [int(n) for n in a.workers.split(",") if n]
    variants += [(mode, int(c), f"shared {n}", build) for c in a.c.split(",") for mode in a.modes.split(",")
                 for n in shared for build, _ in builds]
    pg = postgres.Postgres([]) if shared else None
    binary = dict(builds)
    results = {v: [] for v in variants}
    try:
        for rep in range(a.repeat):
            for mode, c, kind, build in variants:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/__reset-stats").read()
                db = os.path.join(tmp, f"{mode}-{c}-{kind.replace(' ', '-')}-{build}.db")
                if kind.startswith("shared"):
                    wall, ok, _ = postgres.shared_run(pg.fresh_database(), list_file, mode, c,
                                                      ["--per-host", str(a.per_host), "--no-parse"],
                                                      int(kind.split()[1]), binary[build])
                    args = None
                elif kind == "polite":
                    args = [binary[build], "run", list_file, "--mode", mode, "--per-host", str(a.per_host)]
                elif kind == "no cap":
                    args = [binary[build], "run", list_file, "--mode", mode]
                else:
                    args = [binary[build], "run", one_host_file, "--mode", mode]
                if args:
                    args += ["--no-parse", "--db", db, "--no-progress"]
                    if mode == "hybrid":
                        args += ["--threads", "2", "--fibers", str(c // 2)]
                    else:
                        args += ["-c", str(c)]
                    r = subprocess.run(args, capture_output=True, text=True)
                    if r.returncode != 0:
                        sys.exit(f"crawl failed: {r.stderr}")
                    con = sqlite3.connect(db)
                    wall, ok = con.execute("select crawl_s, pages_ok from runs order by id desc limit 1").fetchone()
                    con.close()
                hosts = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/__hosts").read())
                peak = max(h["peak_concurrent"] for h in hosts.values())
                stats = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/__stats").read())
                capped = kind == "polite" or kind.startswith("shared")
                if ok != total or (capped and peak > a.per_host):
                    sys.exit(f"{mode} -c {c}: {ok} of {total} ok, peak per host {peak} > {a.per_host}")
                results[(mode, c, kind, build)].append((wall, peak, stats["connections_total"]))
                print(f"  rep {rep + 1} {build:8s} {mode:8s} -c {c:4d} {kind:8s}: {wall:6.3f} s, peak per host {peak}",
                      file=sys.stderr)
    finally:
        testbed.terminate()
        testbed.wait()
        if pg:
            pg.close()
    print(f"\n{total} URLs ({a.hosts} hosts x {a.pages} pages, shuffled), {a.latency_ms} ms latency, "
          f"--per-host {a.per_host}, {a.repeat} interleaved repeats, {time.strftime('%Y-%m-%d')}")
    print(f"{'build':8s} {'mode':8s} {'-c':>5s} {'list':8s} {'ideal s':>8s} {'median s':>9s} {'min-max':>13s} "
          f"{'ratio':>6s} {'peak/host':>9s} {'conns':>6s} {'/base':>6s}")
    for (mode, c, kind, build), runs in results.items():
        walls = [w for w, _, _ in runs]
        workers = int(kind.split()[1]) if kind.startswith("shared") else 1
        capped = kind == "polite" or kind.startswith("shared")
        in_flight = min(workers * c, a.hosts * a.per_host) if capped else c
        ideal = total / in_flight * a.latency_ms / 1000
        med = statistics.median(walls)
        peak = max(p for _, p, _ in runs)
        conns = statistics.median(n for _, _, n in runs)
        vs_base = "-"
        if a.baseline:
            base = statistics.median(w for w, _, _ in results[(mode, c, kind, "baseline")])
            vs_base = f"{med / base:.3f}"
        print(f"{build:8s} {mode:8s} {c:5d} {kind:8s} {ideal:8.3f} {med:9.3f} {min(walls):6.3f}-{max(walls):<6.3f} "
              f"{med / ideal:6.3f} {peak if capped else '-':>9} {conns:6.0f} {vs_base:>6s}")


if __name__ == "__main__":
    main()
