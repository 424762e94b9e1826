#!/usr/bin/env python3
"""Link-following benchmark on real documentation: crawl beside wget2, interleaved, medians.

Four documentation sites from Debian's -doc packages (Python, PostgreSQL, SQLite, Boost), each served
by Debian's nginx under its own host name (python.localhost, postgresql.localhost, sqlite.localhost,
boost.localhost) on 127.0.0.1 and a free port, crawled from their index pages to depth 3:

  wget2 -r -l 3 --max-threads=64 --delete-after      (wget2's own defaults otherwise)
  crawl run seeds --depth 3 --parser P [--mode M]    (crawl's defaults otherwise)

wget2 resolves names through the system resolver, which does not know *.localhost: every variant
runs in a private mount namespace whose /etc/hosts adds the four names (root is needed for that);
the system's own /etc/hosts is never changed. crawl resolves *.localhost to loopback itself.

Beside the crawls, the parsers alone: the bodies one crawl fetched are saved first (--save-bodies),
and in every repeat, between the crawls, build/crawl_microbench parses them once with each parser,
one thread: crawl's whole parse (ParseCorpus: decoding, the parser, the facts) and each library
alone (ParseAlone). The issue's floors, checked on the medians:
  libxml2 crawl wall <= 2 x wget2 wall
  gumbo crawl wall   <= 1.2 x (gumbo's own parse time for those bytes / consumers)

  perf/docs.py                                    # wget2, crawl gumbo, crawl libxml2; 5 repeats
  perf/docs.py --variants wget2,libxml2,thread:libxml2,process:libxml2 --repeat 3
  perf/docs.py --variants libxml2,other:libxml2 --other /tmp/crawl-before

Variants: wget2; PARSER or MODE:PARSER (MODE fiber, thread, process, hybrid; PARSER gumbo, libxml2);
other:[MODE:]PARSER runs the binary given with --other. Needs scripts/setup's packages plus wget2 and
the four -doc packages (the script says which are missing), build/crawl and build/crawl_microbench.
"""
import argparse
import json
import os
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

from nginx import free_port, start_nginx, with_file_replaced

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
CRAWL = os.path.join(BUILD, "crawl")
MICROBENCH = os.path.join(BUILD, "crawl_microbench")

# host name: (document root, Debian package)
SITES = {
    "python.localhost": ("/usr/share/doc/python3/html", "python3-doc"),
    "postgresql.localhost": ("/usr/share/doc/postgresql-doc-15/html", "postgresql-doc-15"),
    "sqlite.localhost": ("/usr/share/doc/sqlite3", "sqlite3-doc"),
    "boost.localhost": ("/usr/share/doc/libboost1.81-doc/doc/html", "libboost1.81-doc"),
}
DEPTH = 3
CONSUMERS = os.cpu_count() or 1


def nginx_config(port):
    servers = "".join(f"""
  server {{
    listen 127.0.0.1:{port};
    server_name {host};
    root {root};
  }}""" for host, (root, _) in SITES.items())
    return f"""
worker_processes 1;
events {{ worker_connections 4096; }}
http {{
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  {servers}
}}"""


def with_hosts(hosts_file, argv):
    return with_file_replaced(hosts_file, "/etc/hosts", argv)


def cpu_of(usage_before, usage_after):
    return (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime)


def run_wget2(hosts_file, seeds, tmp):
    out_dir = os.path.join(tmp, "wget2")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    r = subprocess.run(with_hosts(hosts_file, ["wget2", "-r", "-l", str(DEPTH), "--max-threads=64",
                                               "--delete-after", "-P", out_dir] + seeds),
                       capture_output=True, text=True, errors="replace")
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # wget2 exits 8 when a server answered with an error (the 404s a real site has); anything else
    # that is not 0 is a failure of the run.
    if r.returncode not in (0, 8):
        sys.exit(f"wget2 failed ({r.returncode}): {r.stderr[-2000:]}")
    responses = re.findall(r"^HTTP response (\d+)", r.stdout + r.stderr, re.M)
    fetched, ok = len(responses), responses.count("200")
    return {"wall": wall, "cpu": cpu_of(before, after), "urls": fetched or None, "ok": ok or None,
            "bytes": None, "parse_cpu": None}


def run_crawl(hosts_file, seeds_file, variant, db, exe, extra=()):
    mode, _, parser = variant.rpartition(":")
    args = [exe, "run", seeds_file, "--depth", str(DEPTH), "--db", db, "--no-progress", "--parser", parser]
    if mode:
        args += ["--mode", mode]
    args += list(extra)
    if os.path.exists(db):
        os.remove(db)
    r = subprocess.run(with_hosts(hosts_file, args), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"crawl failed ({r.returncode}): {r.stderr}\n{r.stdout}")
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    run = con.execute("select * from runs order by id desc limit 1").fetchone()
    urls, ok, body = con.execute(
        "select count(*), sum(status = 200), sum(coalesce(body_bytes, 0)) from pages where run_id = ?",
        (run["id"],)).fetchone()
    con.close()
    return {"wall": run["wall_s"], "cpu": run["user_s"] + run["sys_s"], "urls": urls, "ok": ok, "bytes": body,
            "parse_cpu": run["parse_cpu_s"], "consumers": run["consumers"]}


def save_bodies(hosts_file, seeds_file, tmp, exe, keep):
    """The bodies one crawl fetches, saved as files (--save-bodies): what the parsers are timed on."""
    bodies = keep or os.path.join(tmp, "bodies")
    shutil.rmtree(bodies, ignore_errors=True)
    run_crawl(hosts_file, seeds_file, "libxml2", os.path.join(tmp, "bodies.db"), exe, ["--save-bodies", bodies])
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(bodies) for f in fs)
    pages = sum(len(fs) for _, _, fs in os.walk(bodies))
    return bodies, pages, total


def parse_alone(bodies):
    """Bytes per second of one thread: crawl's parse (ParseCorpus) and each library alone (ParseAlone),
    each parsing the corpus twice and kept at its faster pass (the first one of a process also warms
    caches and the allocator). Run once per repeat, between the crawls, so the machine's drift
    touches them as it touches the crawls."""
    r = subprocess.run([MICROBENCH, "--benchmark_filter=Parse(Corpus|Alone)", "--benchmark_min_time=0",
                        "--benchmark_repetitions=2", "--benchmark_format=json"],
                       env={**os.environ, "CRAWL_PARSE_CORPUS": bodies}, capture_output=True, text=True, check=True)
    rates = {}
    for b in json.loads(r.stdout)["benchmarks"]:
        if b.get("run_type") == "iteration":
            rates[b["run_name"]] = max(rates.get(b["run_name"], 0), b["bytes_per_second"])
    return rates


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default="wget2,gumbo,libxml2")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--crawl", default=CRAWL, help="the crawl binary to measure (default: build/crawl)")
    ap.add_argument("--other", help="another crawl binary, for variants written other:[MODE:]PARSER")
    ap.add_argument("--keep-bodies", metavar="DIR", help="keep the bodies the parsers were timed on in DIR "
                    "(CRAWL_PARSE_CORPUS=DIR build/crawl_microbench --benchmark_filter=ParseCorpus times them again)")
    a = ap.parse_args()
    variants = a.variants.split(",")
    missing = [pkg for root, pkg in SITES.values() if not os.path.exists(os.path.join(root, "index.html"))]
    if "wget2" in variants and not shutil.which("wget2"):
        missing.append("wget2")
    if missing:
        sys.exit(f"missing: apt-get install {' '.join(missing)}")
    for exe in (a.crawl, MICROBENCH):
        if not os.path.exists(exe):
            sys.exit(f"{exe} is missing: build first (cmake --build build)")
    if os.geteuid() != 0:
        sys.exit("run as root: each variant runs in a mount namespace with its own /etc/hosts")

    tmp = tempfile.mkdtemp(prefix="crawl-docs-bench-")
    os.chmod(tmp, 0o755)
    port = free_port()
    hosts_file = os.path.join(tmp, "hosts")
    with open("/etc/hosts") as system, open(hosts_file, "w") as f:
        f.write(system.read() + "\n127.0.0.1 " + " ".join(SITES) + "\n")
    seeds = [f"http://{host}:{port}/index.html" for host in SITES]
    seeds_file = os.path.join(tmp, "seeds.txt")
    with open(seeds_file, "w") as f:
        f.write("\n".join(seeds) + "\n")
    nginx = start_nginx(tmp, port, nginx_config(port))
    try:
        bodies, pages, total = save_bodies(hosts_file, seeds_file, tmp, a.crawl,
                                           a.keep_bodies and os.path.abspath(a.keep_bodies))
        results = {v: [] for v in variants}
        parse_runs = []
        for rep in range(a.repeat):
            for v in variants:
                if v == "wget2":
                    m = run_wget2(hosts_file, seeds, tmp)
                else:
                    other = v.startswith("other:")
                    if other and not a.other:
                        sys.exit(f"{v} needs --other BINARY")
                    m = run_crawl(hosts_file, seeds_file, v.removeprefix("other:"), os.path.join(tmp, "run.db"),
                                  a.other if other else a.crawl)
                results[v].append(m)
                print(f"  rep {rep + 1} {v:18s} wall {m['wall']:6.3f} s  cpu {m['cpu']:6.2f} s  urls {m['urls']}  "
                      f"200 {m['ok']}", file=sys.stderr)
            parse_runs.append(parse_alone(bodies))
            print(f"  rep {rep + 1} parsers alone     " +
                  "  ".join(f"{k} {v / 1e6:.1f} MB/s" for k, v in parse_runs[-1].items()), file=sys.stderr)
        rates = {name.split("/")[1]: statistics.median(r[name] for r in parse_runs)
                 for name in parse_runs[0] if name.startswith("ParseCorpus/")}
        alone = {name.split("/")[1]: statistics.median(r[name] for r in parse_runs)
                 for name in parse_runs[0] if name.startswith("ParseAlone/")}
    finally:
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    med = lambda v, key: statistics.median(r[key] for r in results[v])
    print(f"\nfour Debian documentation sites behind nginx, --depth {DEPTH}, {a.repeat} interleaved repeats, "
          f"{CONSUMERS} cores, {time.strftime('%Y-%m-%d')}")
    print(f"{'variant':18s} {'wall med':>8s} {'min-max':>13s} {'/wget2':>6s} {'cpu s':>6s} {'parse s':>7s} "
          f"{'URLs':>6s} {'200s':>6s} {'body MB':>8s}")
    wget2 = med("wget2", "wall") if "wget2" in results else None
    for v in variants:
        walls = [r["wall"] for r in results[v]]
        w = statistics.median(walls)
        body = results[v][-1]["bytes"]
        parse_text = f"{med(v, 'parse_cpu'):7.2f}" if results[v][0]["parse_cpu"] is not None else "      -"
        print(f"{v:18s} {w:8.3f} {min(walls):6.3f}-{max(walls):<6.3f} "
              f"{(f'{w / wget2:6.2f}' if wget2 else '     -')} {med(v, 'cpu'):6.2f} "
              f"{parse_text} "
              f"{results[v][-1]['urls'] or '-':>6} {results[v][-1]['ok'] or '-':>6} "
              f"{(f'{body / 1e6:8.1f}' if body else '       -')}")
    print(f"\nthe parsers alone on the {pages} bodies, {total / 1e6:.1f} MB, one crawl fetched, one thread: "
          f"crawl's parse (ParseCorpus: decoding, the parser, the facts) and the library alone (ParseAlone)")
    for parser, rate in sorted(rates.items()):
        seconds = total / rate
        line = f"  {parser:8s} {rate / 1e6:6.1f} MB/s per core; {seconds:6.3f} s alone, {seconds / CONSUMERS:6.3f} s " \
               f"over {CONSUMERS} consumers"
        if parser in results:
            line += f"; the crawl: {med(parser, 'wall') / (seconds / CONSUMERS):.2f} x that"
        print(line)
        if parser in alone:
            library = total / alone[parser]
            line = f"  {parser:8s} {alone[parser] / 1e6:6.1f} MB/s per core alone; {library:6.3f} s, {library / CONSUMERS:6.3f} s " \
                   f"over {CONSUMERS}"
            if parser in results:
                line += f"; the crawl: {med(parser, 'wall') / (library / CONSUMERS):.2f} x that"
            print(line)
    # The floors as ratios within each repeat (the machine's speed drifts between repeats), medians.
    def per_repeat(numerator, denominator):
        return statistics.median(numerator(i) / denominator(i) for i in range(a.repeat))

    if "wget2" in results:
        for v in variants:
            if v != "wget2" and v.endswith("libxml2"):
                ratio = per_repeat(lambda i: results[v][i]["wall"], lambda i: results["wget2"][i]["wall"])
                print(f"floor {v} <= 2 x wget2: {ratio:.2f} x (median of the repeats' ratios)")
    # What the pipeline adds, from each crawl's own counters: its wall time over its parsing CPU
    # (parse_cpu_s) spread over its consumers.
    for v in variants:
        if v != "wget2":
            ratio = per_repeat(lambda i: results[v][i]["wall"],
                               lambda i: results[v][i]["parse_cpu"] / results[v][i]["consumers"])
            print(f"{v}: wall {ratio:.2f} x its own parse CPU over its consumers (median of the repeats)")
    for v in variants:
        if v.endswith("gumbo") and not v.startswith("other:"):
            own = per_repeat(lambda i: results[v][i]["wall"],
                             lambda i: total / parse_runs[i]["ParseCorpus/gumbo"] / CONSUMERS)
            library = per_repeat(lambda i: results[v][i]["wall"],
                                 lambda i: total / parse_runs[i]["ParseAlone/gumbo"] / CONSUMERS)
            print(f"floor {v} <= 1.2 x gumbo's parse time / {CONSUMERS}: {own:.2f} x crawl's gumbo parse, "
                  f"{library:.2f} x the library alone (medians of the repeats' ratios)")


if __name__ == "__main__":
    main()
