#!/usr/bin/env python3
"""Side-by-side benchmark of crawl against the floor (shared/tools/curl_floor.c) and curl --parallel
on the same URL list, against the local testbed, in one run.

Variants are interleaved (A B C A B C ...) so drift of a shared machine spreads evenly; the table
gives medians with min-max and each variant's wall time as a ratio to curl_floor's median.

  perf/compare.py --workload w1                     # 2,000 URLs x 100 ms at -c 200
  perf/compare.py --workload w1proc                 # the same in process and hybrid 2x1x100 modes
  perf/compare.py --workload w2 --repeat 5          # 20,000 small pages, no latency, -c 50
  perf/compare.py --workload w2 --variants floor,fiber-noparse,baseline:fiber-noparse --baseline B
                                                     # this build beside B, e.g. an older commit's
  perf/compare.py --workload w3                     # 10,000 URLs x 1 s at -c 10000
  perf/compare.py --workload idle                   # 200 URLs x 2 s at -c 200: CPU while waiting

Needs a release build in build/ (scripts/demo or cmake --build build).
"""
import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
CRAWL = os.path.join(BUILD, "crawl")
FLOOR = os.path.join(BUILD, "curl_floor")

WORKLOADS = {
    # name: (count, path template, concurrency, default variants)
    "w1": (2000, "/delay/100/page/{n}", 200,
           "floor,curl,thread-noparse,fiber-noparse,thread-parse,fiber-parse"),
    # issue 4: the same work in worker processes (200 of them, or 2 x 1 thread x 100 fibers)
    "w1proc": (2000, "/delay/100/page/{n}", 200,
               "floor,fiber-noparse,thread-noparse,process-noparse,hybrid2x1-noparse,"
               "fiber-parse,thread-parse,process-parse,hybrid2x1-parse"),
    "w2": (20000, "/status/200?i={n}", 50, "floor,curl,fiber-noparse,thread-noparse"),
    "w3": (10000, "/delay/1000/page/{n}", 10000, "floor,fiber-noparse,fiber-parse"),
    "idle": (200, "/delay/2000/page/{n}", 200, "floor,fiber-noparse,thread-noparse"),
}


def start_testbed(threads):
    proc = subprocess.Popen([CRAWL, "testbed", "--port", "0", "--threads", str(threads)],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.search(r"listening on (http://\S+)", line)
    if not m:
        proc.kill()
        sys.exit(f"testbed did not start: {line!r}")
    return proc, m.group(1)


def run_floor(urls_file, conc):
    out = subprocess.run([FLOOR, urls_file, str(conc)], capture_output=True, text=True, check=True).stdout
    fields = dict(kv.split("=") for kv in out.split())
    return {"wall": float(fields["wall"]), "cpu": float(fields["user"]) + float(fields["sys"]),
            "rss_mb": float(fields["maxrss"].rstrip("MB")), "ok": int(fields["ok"])}


def run_curl_parallel(urls_file, conc, tmp):
    config = os.path.join(tmp, "curl.cfg")
    with open(urls_file) as src, open(config, "w") as cfg:
        for line in src:
            line = line.strip()
            if line and not line.startswith("#"):
                cfg.write(f'url = "{line}"\noutput = "/dev/null"\n')
    t0 = time.monotonic()
    r = subprocess.run(["curl", "--silent", "--parallel", "--parallel-immediate", "--parallel-max", str(conc),
                        "--config", config], capture_output=True)
    wall = time.monotonic() - t0
    ru = resource_children()
    return {"wall": wall, "cpu": ru, "rss_mb": float("nan"), "ok": None if r.returncode else -1}


_last_children = [0.0]


def resource_children():
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = ru.ru_utime + ru.ru_stime
    delta = total - _last_children[0]
    _last_children[0] = total
    return delta


def run_crawl(urls_file, conc, mode, parse, db, extra, exe=CRAWL):
    args = [exe, "run", urls_file, "--mode", mode, "--db", db, "--no-progress", "--timeout", "60s"] + extra
    if conc is not None:
        args += ["-c", str(conc)]
    if not parse:
        args.append("--no-parse")
    r = subprocess.run(args, capture_output=True, text=True)
    resource_children()
    if r.returncode != 0:
        sys.exit(f"crawl failed ({r.returncode}): {r.stderr}\n{r.stdout}")
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    run = con.execute("select * from runs order by id desc limit 1").fetchone()
    con.close()
    return {"wall": run["wall_s"], "cpu": run["user_s"] + run["sys_s"], "rss_mb": run["peak_rss_kb"] / 1024,
            "ok": run["pages_ok"], "parse_cpu": run["parse_cpu_s"], "consumers": run["consumers"],
            "failed": run["pages_failed"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", choices=WORKLOADS, default="w1")
    ap.add_argument("--variants", help="comma-separated: floor, curl, MODE-noparse, MODE-parse "
                    "(MODE: fiber, thread, process, or hybridPxT for P processes x T threads)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--testbed-threads", type=int, default=1)
    ap.add_argument("--json", help="also write the raw measurements to this file")
    ap.add_argument("--baseline", help="another crawl binary (e.g. a build of an older commit): a variant "
                    "written baseline:MODE-noparse or baseline:MODE-parse runs with it, interleaved with the "
                    "rest, to tell a regression from the machine's drift")
    a = ap.parse_args()
    count, template, conc, default_variants = WORKLOADS[a.workload]
    variants = (a.variants or default_variants).split(",")
    for exe in (CRAWL, FLOOR):
        if not os.path.exists(exe):
            sys.exit(f"{exe} is missing: build first (cmake -S . -B build -G Ninja && cmake --build build)")
    tmp = tempfile.mkdtemp(prefix="crawl-bench-")
    testbed, base = start_testbed(a.testbed_threads)
    results = {v: [] for v in variants}
    try:
        urls_file = os.path.join(tmp, "urls.txt")
        with open(urls_file, "w") as f:
            for n in range(count):
                f.write(base + template.format(n=n) + "\n")
        for rep in range(a.repeat):
            for v in variants:
                db = os.path.join(tmp, f"{v}.db")
                if v == "floor":
                    m = run_floor(urls_file, conc)
                elif v == "curl":
                    m = run_curl_parallel(urls_file, conc, tmp)
                else:
                    exe = CRAWL
                    spec = v
                    if v.startswith("baseline:"):
                        if not a.baseline:
                            sys.exit(f"{v} needs --baseline BINARY")
                        exe, spec = a.baseline, v[len("baseline:"):]
                    mode, _, kind = spec.partition("-")
                    extra = []
                    if mode.startswith("hybrid"):
                        # hybridPxT: P processes x T threads, the fibers making up -c
                        p, t = (int(x) for x in mode[len("hybrid"):].split("x"))
                        extra = ["--processes", str(p), "--threads", str(t), "--fibers", str(conc // (p * t))]
                        m = run_crawl(urls_file, None, "hybrid", kind == "parse", db, extra, exe)
                    else:
                        m = run_crawl(urls_file, conc, mode, kind == "parse", db, extra, exe)
                    if m["ok"] + m["failed"] != count:
                        sys.exit(f"{v}: {m['ok']} ok + {m['failed']} failed rows for {count} URLs")
                results[v].append(m)
                print(f"  rep {rep + 1} {v:18s} wall {m['wall']:7.3f} s  cpu {m['cpu']:6.2f} s  "
                      f"rss {m['rss_mb']:6.0f} MB", file=sys.stderr)
    finally:
        testbed.terminate()
        testbed.wait()

    def med(v, key):
        return statistics.median(r[key] for r in results[v])

    floor_wall = med("floor", "wall") if "floor" in results else None
    print(f"\nworkload {a.workload}: {count} URLs like {template} at -c {conc}, {a.repeat} interleaved "
          f"repeats, {time.strftime('%Y-%m-%d')}")
    print(f"{'variant':20s} {'wall median':>11s} {'min-max':>15s} {'/floor':>7s} {'pages/s':>8s} "
          f"{'cpu s':>6s} {'cpu/wall':>8s} {'RSS MB':>7s}")
    for v in variants:
        walls = [r["wall"] for r in results[v]]
        w = statistics.median(walls)
        cpu = med(v, "cpu")
        ratio = f"{w / floor_wall:7.3f}" if floor_wall else "      -"
        print(f"{v:20s} {w:11.3f} {min(walls):7.3f}-{max(walls):<7.3f} {ratio} {count / w:8.0f} {cpu:6.2f} "
              f"{cpu / w:8.1%} {med(v, 'rss_mb'):7.0f}")
    # Pipeline efficiency (design.md): max(W_fetch, P_cpu / K) / W_full per mode.
    for mode in sorted({v.rpartition("-")[0] for v in variants if "-" in v}):
        full, fetch = f"{mode}-parse", f"{mode}-noparse"
        if full in results and fetch in results:
            w_full = med(full, "wall")
            w_fetch = med(fetch, "wall")
            p_cpu = med(full, "parse_cpu")
            k = min(results[full][0]["consumers"], os.cpu_count())
            eff = max(w_fetch, p_cpu / k) / w_full
            print(f"pipeline efficiency {mode}: max({w_fetch:.3f}, {p_cpu:.3f}/{k}) / {w_full:.3f} = {eff:.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
