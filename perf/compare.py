#!/usr/bin/env python3
"""Side-by-side benchmark of crawl against the floor (shared/tools/curl_floor.c) and curl --parallel
on the same URL list, against the local testbed or Debian's nginx (--server), in one run.

Variants are interleaved (A B C A B C ...) so drift of a shared machine spreads evenly; the table
gives medians with min-max, each variant's wall time as a ratio to curl_floor's median (/floor),
and the median of its per-repeat ratios to curl_floor's run of the same repeat (pair/fl), which
holds when the machine changes speed between repeats.

  perf/compare.py --workload w1                     # 2,000 URLs x 100 ms at -c 200
  perf/compare.py --workload w1proc                 # the same in process and hybrid 2x1x100 modes
  perf/compare.py --workload w2 --repeat 5          # 20,000 small pages, no latency, -c 50
  perf/compare.py --workload w2 --variants floor,fiber-noparse,baseline:fiber-noparse --baseline B
                                                     # this build beside B, e.g. an older commit's
  perf/compare.py --workload w3                     # 10,000 URLs x 1 s at -c 10000
  perf/compare.py --workload idle                   # 200 URLs x 2 s at -c 200: CPU while waiting
  perf/compare.py --server nginx --workload w1      # any workload against Debian's nginx instead

--server nginx starts Debian's nginx (nginx-light, libnginx-mod-http-echo) on 127.0.0.1 and a free
port, one worker process (--nginx-workers N), and gives the workloads' URLs their equivalents there:
/delay/MS/... waits MS ms (the echo module's echo_sleep) and answers a static HTML page of
LATENCY_PAGE_BYTES; /status/200 answers one of STATIC_PAGE_BYTES, the query string only making the
URLs distinct. The testbed's are its own: /delay/MS/page/N serves its page N (2-60 KB), /status/200 a
140-byte page. The table names the server and the first URL's body size. Every URL must have answered
200 in every run (crawl's rows, curl_floor's and curl's counts), or the script stops.

Needs a release build in build/ (scripts/demo or cmake --build build).
"""
import argparse
import json
import os
import random
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from nginx import ECHO_MODULE, echo_config, free_port, run_crawl_and_open, start_nginx

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

# nginx (--server nginx): what it answers, and the connections one worker holds (W3 opens 10,000).
LATENCY_PAGE_BYTES = 4096   # /delay/MS/...
STATIC_PAGE_BYTES = 18432   # /status/200
NGINX_CONNECTIONS = 16384
WORDS = ("amber bridge candle cloud compass copper engine forest garden harbour island ladder lantern letter "
         "marble market meadow morning orbit paper pattern quiet river signal silver stone thread tunnel "
         "valley voyage window winter").split()


def start_testbed(threads):
    proc = subprocess.Popen([CRAWL, "testbed", "--port", "0", "--threads", str(threads)],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.search(r"listening on (http://\S+)", line)
    if not m:
        proc.kill()
        sys.exit(f"testbed did not start: {line!r}")
    return proc, m.group(1), f"crawl testbed, {threads} thread{'s' if threads != 1 else ''}"


def html_page(title, size):
    """An HTML document of exactly `size` bytes (ASCII): a title, a heading, 20 links to /page/N and
    paragraphs of words, the shape of the testbed's pages."""
    rng = random.Random(title)
    page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
            f'</head>\n<body>\n<h1>{title}</h1>\n<ul>\n')
    page += "".join(f'<li><a href="/page/{m}">Page {m}</a></li>\n' for m in rng.sample(range(100000), 20))
    page += "</ul>\n"
    end = "</body>\n</html>\n"
    while (room := size - len(page) - len(end) - len("<p></p>\n")) > 0:
        words = " ".join(rng.choice(WORDS) for _ in range(60))
        page += f"<p>{words[:room]}</p>\n"
    return page + end


def start_nginx_server(tmp, workers):
    """Debian's nginx on 127.0.0.1 and a free port, its files in tmp/nginx: /delay/MS/... (MS of three
    digits or more) waits MS ms, then answers page.html; /status/200 answers status.html."""
    if not shutil.which("nginx") or not os.path.exists(ECHO_MODULE):
        sys.exit("--server nginx needs nginx and its echo module: apt-get install nginx-light "
                 "libnginx-mod-http-echo")
    prefix = os.path.join(tmp, "nginx")
    www = os.path.join(prefix, "www")
    os.makedirs(www)
    for d in (tmp, prefix, www):
        os.chmod(d, 0o755)  # nginx's workers run as nobody
    for name, title, size in (("page.html", "Latency page", LATENCY_PAGE_BYTES),
                              ("status.html", "Static page", STATIC_PAGE_BYTES)):
        with open(os.path.join(www, name), "w") as f:
            f.write(html_page(title, size))
    port = free_port()
    # The captures split MS into seconds and milliseconds: 100 -> 0.100, 2000 -> 02.000. The listen
    # backlog is the testbed's (asio listens with SOMAXCONN); the workers may open as many files as
    # this process may.
    proc = start_nginx(prefix, port, echo_config(workers, NGINX_CONNECTIONS,
                                                 resource.getrlimit(resource.RLIMIT_NOFILE)[1], rf"""
  default_type text/html;
  charset utf-8;
  server {{
    listen 127.0.0.1:{port} default_server backlog={socket.SOMAXCONN};
    root {www};
    location = /status/200 {{ try_files /status.html =404; }}
    location ~ ^/delay/(\d*)(\d\d\d)/ {{ echo_sleep 0$1.$2; echo_exec /page.html; }}
    location = /page.html {{ internal; }}
  }}"""))
    version = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip().rpartition("/")[2]
    return proc, f"http://127.0.0.1:{port}", f"Debian's nginx {version}, {workers} worker process" + \
        ("es" if workers != 1 else "")


def run_floor(urls_file, conc):
    out = subprocess.run([FLOOR, urls_file, str(conc)], capture_output=True, text=True, check=True).stdout
    fields = dict(kv.split("=") for kv in out.split())
    # curl_floor's ok counts the 200 answers.
    return {"wall": float(fields["wall"]), "cpu": float(fields["user"]) + float(fields["sys"]),
            "rss_mb": float(fields["maxrss"].rstrip("MB")), "ok": int(fields["ok"]), "ok200": int(fields["ok"])}


def run_curl_parallel(urls_file, conc, tmp):
    config = os.path.join(tmp, "curl.cfg")
    with open(urls_file) as src, open(config, "w") as cfg:
        for line in src:
            line = line.strip()
            if line and not line.startswith("#"):
                cfg.write(f'url = "{line}"\noutput = "/dev/null"\n')
    t0 = time.monotonic()
    r = subprocess.run(["curl", "--silent", "--parallel", "--parallel-immediate", "--parallel-max", str(conc),
                        "--write-out", "%{response_code}\\n", "--config", config],
                       capture_output=True, text=True)
    wall = time.monotonic() - t0
    ru = resource_children()
    return {"wall": wall, "cpu": ru, "rss_mb": float("nan"), "ok": None if r.returncode else -1,
            "ok200": r.stdout.split().count("200")}


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
    run, con = run_crawl_and_open(args, db)
    resource_children()
    ok200 = con.execute("select count(distinct url) from pages where run_id = ? and status = 200 and error is "
                        "null", (run["id"],)).fetchone()[0]
    others = con.execute("select status, error, count(*) from pages where run_id = ? and (status is not 200 or "
                         "error is not null) group by 1, 2", (run["id"],)).fetchall()
    con.close()
    return {"wall": run["wall_s"], "cpu": run["user_s"] + run["sys_s"], "rss_mb": run["peak_rss_kb"] / 1024,
            "ok": run["pages_ok"], "parse_cpu": run["parse_cpu_s"], "consumers": run["consumers"],
            "failed": run["pages_failed"], "ok200": ok200, "not200": [tuple(o) for o in others]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", choices=WORKLOADS, default="w1")
    ap.add_argument("--variants", help="comma-separated: floor, curl, MODE-noparse, MODE-parse "
                    "(MODE: fiber, thread, process, or hybridPxT for P processes x T threads)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--server", choices=["testbed", "nginx"], default="testbed",
                    help="what answers the URLs: crawl's testbed, or Debian's nginx (see above)")
    ap.add_argument("--testbed-threads", type=int, default=1)
    ap.add_argument("--nginx-workers", type=int, default=1, help="nginx's worker processes (--server nginx)")
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
    if a.server == "nginx":
        server, base, server_name = start_nginx_server(tmp, a.nginx_workers)
    else:
        server, base, server_name = start_testbed(a.testbed_threads)
    results = {v: [] for v in variants}
    try:
        urls_file = os.path.join(tmp, "urls.txt")
        with open(urls_file, "w") as f:
            for n in range(count):
                f.write(base + template.format(n=n) + "\n")
        try:
            with urllib.request.urlopen(base + template.format(n=0), timeout=30) as r:
                first_body = len(r.read())
        except OSError as e:
            sys.exit(f"{base + template.format(n=0)}: {e}")
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
                if m["ok200"] != count:
                    others = f"; other rows (status, error, count): {m['not200']}" if m.get("not200") else ""
                    sys.exit(f"{v}: {m['ok200']} of {count} URLs answered 200{others}")
                results[v].append(m)
                print(f"  rep {rep + 1} {v:18s} wall {m['wall']:7.3f} s  cpu {m['cpu']:6.2f} s  "
                      f"rss {m['rss_mb']:6.0f} MB", file=sys.stderr)
    finally:
        server.terminate()
        server.wait()

    def med(v, key):
        return statistics.median(r[key] for r in results[v])

    floor_wall = med("floor", "wall") if "floor" in results else None
    print(f"\nserver: {server_name} at {base}; the first URL's body {first_body} bytes")
    print(f"workload {a.workload}: {count} URLs like {template} at -c {conc}, {a.repeat} interleaved "
          f"repeats, {time.strftime('%Y-%m-%d')}")
    # A repeat's variants run one after the other, seconds apart: the median of their ratios holds
    # when the machine's speed changes between repeats, which the ratio of two medians does not.
    def pair_ratio(v):
        if "floor" not in results:
            return "      -"
        return f"{statistics.median(r['wall'] / f['wall'] for r, f in zip(results[v], results['floor'])):7.3f}"

    print(f"{'variant':20s} {'wall median':>11s} {'min-max':>15s} {'/floor':>7s} {'pair/fl':>7s} {'pages/s':>8s} "
          f"{'cpu s':>6s} {'cpu/wall':>8s} {'RSS MB':>7s}")
    for v in variants:
        walls = [r["wall"] for r in results[v]]
        w = statistics.median(walls)
        cpu = med(v, "cpu")
        ratio = f"{w / floor_wall:7.3f}" if floor_wall else "      -"
        print(f"{v:20s} {w:11.3f} {min(walls):7.3f}-{max(walls):<7.3f} {ratio} {pair_ratio(v)} {count / w:8.0f} "
              f"{cpu:6.2f} {cpu / w:8.1%} {med(v, 'rss_mb'):7.0f}")
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
