#!/usr/bin/env python3
"""A list far larger than a run gets through: memory stays flat, and the database holds the rows and
little else (a list that can be read again is its own frontier: only how far it is done is kept).

Writes a list of LINES testbed URLs (/status/200?i=N), crawls it with --no-parse for SECONDS, samples
the crawl's resident memory every second, then kills it with SIGKILL (as a crash would) and reports
the database's size per row beside its frontier tables. With --baseline B, the same run of another
build (e.g. one from before durable state) follows, for the database's size per row.

  perf/big_list.py                                  # 10,000,000 lines, 60 s
  perf/big_list.py --lines 10000000 --seconds 60 --baseline OLD/build/crawl

Needs a release build in build/.
"""
import argparse
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRAWL = os.path.join(ROOT, "build", "crawl")


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def measure(label, binary, list_file, seconds, conc, tmp):
    db = os.path.join(tmp, f"{label}.db")
    proc = subprocess.Popen([binary, "run", list_file, "--no-parse", "-c", str(conc), "--db", db, "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples = []
    start = time.monotonic()
    while time.monotonic() - start < seconds and proc.poll() is None:
        time.sleep(1)
        r = rss_mib(proc.pid)
        if r is not None:
            samples.append(r)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    size = sum(os.path.getsize(db + s) for s in ("", "-wal") if os.path.exists(db + s))
    con = sqlite3.connect(db)
    rows = con.execute("select count(*) from pages").fetchone()[0]
    tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
    frontier = con.execute("select count(*) from frontier").fetchone()[0] if "frontier" in tables else "-"
    done = "-"
    if "run_sources" in tables:
        cols = {r[1] for r in con.execute("pragma table_info(run_sources)")}
        if "lines_done" in cols:
            done = con.execute("select max(lines_done) from run_sources").fetchone()[0]
    con.close()
    tenth = max(1, len(samples) // 10)
    print(f"{label:8s} rows {rows:9d}  lines done {done!s:>9}  frontier rows {frontier!s:>4}  "
          f"db {size / 2**20:7.1f} MiB = {size / max(rows, 1):6.1f} B/row  "
          f"RSS first 10% {max(samples[:tenth]):6.1f} MiB, last 10% {max(samples[-tenth:]):6.1f} MiB, "
          f"peak {max(samples):6.1f} MiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("-c", type=int, default=50)
    ap.add_argument("--baseline")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="crawl-big-list-")
    testbed = subprocess.Popen([CRAWL, "testbed", "--port", "0"], stdout=subprocess.PIPE, text=True)
    m = re.search(r"listening on (http://\S+)", testbed.stdout.readline())
    if not m:
        testbed.kill()
        sys.exit("testbed did not start")
    base = m.group(1)
    list_file = os.path.join(tmp, "urls.txt")
    with open(list_file, "w") as f:
        for start in range(0, a.lines, 100_000):
            f.write("".join(f"{base}/status/200?i={n}\n" for n in range(start, min(start + 100_000, a.lines))))
    print(f"{a.lines:,} lines ({os.path.getsize(list_file) / 2**20:.0f} MiB), --no-parse -c {a.c}, killed after "
          f"{a.seconds} s, {time.strftime('%Y-%m-%d')}")
    try:
        measure("this", CRAWL, list_file, a.seconds, a.c, tmp)
        if a.baseline:
            measure("baseline", a.baseline, list_file, a.seconds, a.c, tmp)
    finally:
        testbed.terminate()
        testbed.wait()
        os.remove(list_file)


if __name__ == "__main__":
    main()
