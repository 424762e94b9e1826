#!/usr/bin/env python3
"""HTTPS benchmark: crawl against Debian's nginx over TLS with HTTP/2, certificates verified (as users
run it), beside the same runs with -k and beside curl_floor, interleaved, medians.

The script makes a CA and a server certificate (openssl CLI) for localhost and *.hosts.localhost,
starts nginx (nginx-light, libnginx-mod-http-echo for latency) on 127.0.0.1 and a free port, and runs
every variant in a private mount namespace where /etc/ssl/certs/ca-certificates.crt is the system
bundle plus that CA: crawl and curl_floor load the whole system store, as on a user's machine, and
the system's trust store itself is never changed.

  perf/tls.py                              # every workload, 3 interleaved repeats
  perf/tls.py --workload hosts --repeat 5  # one workload
  perf/tls.py --variants floor,fiber,fiber-k
  perf/tls.py --variants fiber,thread,other:fiber,other:thread --other /tmp/crawl-variant
  perf/tls.py --serve                      # only the server, for strace, perf and loops by hand

Workloads (all --no-parse):
  hosts    300 hosts (hN.hosts.localhost), one page each, -c 100: a new verified connection per page.
           One wildcard certificate names them all, as a real site's certificate names a few hosts;
           until 2026-12-04 the certificate listed all 300, so every handshake decoded 300 names
           (and a verifying client searched them), which no real site asks of a client.
  latency  2,000 URLs x 100 ms (echo_sleep) on one host, -c 200: HTTP/2 streams on few connections
  fast     20,000 small pages on one host, -c 50

The table gives medians and ratios of medians (/floor, /-k), and the medians of per-repeat ratios
(pair/fl, pair/-k), which hold when the machine changes speed between repeats.

Variants: floor (curl_floor), MODE (verified), MODE-k (--insecure); MODE: fiber, thread, process,
hybrid (2 processes x 1 thread x c/2 fibers). Needs build/crawl and build/curl_floor, run as root
(for the mount namespace).
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from nginx import ECHO_MODULE, echo_config, free_port, run_crawl_and_open, start_nginx, with_file_replaced

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
CRAWL = os.path.join(BUILD, "crawl")
FLOOR = os.path.join(BUILD, "curl_floor")
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
HOSTS = 300

WORKLOADS = {
    # name: (concurrency, URL list maker(port))
    "hosts": (100, lambda port: [f"https://h{n}.hosts.localhost:{port}/p/{n}" for n in range(HOSTS)]),
    "latency": (200, lambda port: [f"https://localhost:{port}/delay/{n}" for n in range(2000)]),
    "fast": (50, lambda port: [f"https://localhost:{port}/p/{n}" for n in range(20000)]),
}
DEFAULT_VARIANTS = "floor,fiber,fiber-k,thread,thread-k,hybrid,hybrid-k,process,process-k"

PAGE = "<!DOCTYPE html><html><head><title>Page</title></head><body>" + "x" * 2000 + "</body></html>"


def make_certificates(tmp):
    ca_key, ca_pem = os.path.join(tmp, "ca.key"), os.path.join(tmp, "ca.pem")
    key, csr, pem = (os.path.join(tmp, n) for n in ("server.key", "server.csr", "server.pem"))
    ext = os.path.join(tmp, "ext.cnf")
    names = ["DNS:localhost", "IP:127.0.0.1", "DNS:*.hosts.localhost"]
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join(names) + "\nbasicConstraints=CA:FALSE\n")
    run = lambda *args: subprocess.run(args, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
        ca_key, "-out", ca_pem, "-days", "2", "-subj", "/CN=crawl bench CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
        "-out", csr, "-subj", "/CN=localhost")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial", "-days", "1",
        "-extfile", ext, "-out", pem)
    bundle = os.path.join(tmp, "bundle.pem")
    with open(bundle, "w") as out, open(SYSTEM_BUNDLE) as system, open(ca_pem) as ca:
        out.write(system.read() + ca.read())
    return pem, key, bundle


def start_nginx_tls(tmp, port, cert, key, workers):
    return start_nginx(tmp, port, echo_config(workers, 10000, 20000, f"""
  http2_max_concurrent_streams 128;
  server {{
    listen 127.0.0.1:{port} ssl http2 default_server;
    server_name _;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    location /delay/ {{ default_type text/html; echo_sleep 0.1; echo '{PAGE}'; }}
    location / {{ default_type text/html; return 200 '{PAGE}'; }}
  }}"""))


def in_trust_namespace(bundle, argv):
    """argv run where the system bundle is `bundle`."""
    return with_file_replaced(bundle, SYSTEM_BUNDLE, argv)


def run_floor(bundle, urls_file, conc):
    out = subprocess.run(in_trust_namespace(bundle, [FLOOR, urls_file, str(conc)]), capture_output=True,
                         text=True, check=True).stdout
    fields = dict(kv.split("=") for kv in out.split())
    return {"wall": float(fields["wall"]), "cpu": float(fields["user"]) + float(fields["sys"]),
            "ok": int(fields["ok"]), "failed": 0, "connections": None, "tls_full": None, "tls_resumed": None,
            "max_host": None}


def run_crawl(bundle, urls_file, conc, variant, db, exe):
    if variant.startswith("other:"):
        variant = variant[len("other:"):]
    mode, _, insecure = variant.partition("-")
    args = [exe, "run", urls_file, "--db", db, "--no-progress", "--no-parse", "--timeout", "60s"]
    if mode == "hybrid":
        args += ["--mode", "hybrid", "--processes", "2", "--threads", "1", "--fibers", str(conc // 2)]
    else:
        args += ["--mode", mode, "-c", str(conc)]
    if insecure:
        args.append("-k")
    run, con = run_crawl_and_open(in_trust_namespace(bundle, args), db)
    failures = con.execute("select error, error_message, count(*) n from pages where run_id = ? and error is "
                           "not null group by 1, 2", (run["id"],)).fetchall()
    con.close()
    if failures:
        print(f"  {variant}: failures {[tuple(f) for f in failures]}", file=sys.stderr)
    # A build from before the connection columns (--other) reports none.
    column = lambda name: run[name] if name in run.keys() else None
    return {"wall": run["wall_s"], "cpu": run["user_s"] + run["sys_s"], "ok": run["pages_ok"],
            "failed": run["pages_failed"], "connections": column("connections"), "tls_full": column("tls_full"),
            "tls_resumed": column("tls_resumed"), "max_host": column("max_host_connections")}


def bench(workload, variants, repeat, bundle, port, tmp, crawl, other):
    conc, make = WORKLOADS[workload]
    urls = make(port)
    urls_file = os.path.join(tmp, f"{workload}.txt")
    with open(urls_file, "w") as f:
        f.write("\n".join(urls) + "\n")
    results = {v: [] for v in variants}
    for rep in range(repeat):
        for v in variants:
            db = os.path.join(tmp, f"{workload}-{v}.db")
            if v == "floor":
                m = run_floor(bundle, urls_file, conc)
            else:
                if v.startswith("other:") and not other:
                    sys.exit(f"{v} needs --other BINARY")
                m = run_crawl(bundle, urls_file, conc, v, db, other if v.startswith("other:") else crawl)
            if m["ok"] != len(urls):
                print(f"  {v}: only {m['ok']} of {len(urls)} pages ok", file=sys.stderr)
            results[v].append(m)
            print(f"  {workload} rep {rep + 1} {v:10s} wall {m['wall']:7.3f} s  cpu {m['cpu']:6.2f} s  "
                  f"connections {m['connections']}  tls {m['tls_full']}/{m['tls_resumed']}", file=sys.stderr)

    def med(v, key):
        values = [r[key] for r in results[v] if r[key] is not None]
        return statistics.median(values) if values else None

    print(f"\nworkload {workload}: {len(urls)} URLs like {urls[0]} at -c {conc}, --no-parse, {repeat} "
          f"interleaved repeats, {time.strftime('%Y-%m-%d')}")
    # The median of per-repeat ratios: a repeat's variants run seconds apart, so it holds when the
    # machine changes speed between repeats, which a ratio of two medians does not.
    def pair(v, other):
        if other not in results or other == v:
            return "     -"
        return f"{statistics.median(r['wall'] / o['wall'] for r, o in zip(results[v], results[other])):6.2f}"

    print(f"{'variant':10s} {'wall med':>9s} {'min-max':>15s} {'/floor':>7s} {'/-k':>6s} {'pair/fl':>7s} "
          f"{'pair/-k':>7s} {'cpu s':>6s} {'conns':>6s} {'per host max':>12s} {'tls full/resumed':>16s} "
          f"{'cpu ms/new conn vs -k':>22s}")
    floor = med("floor", "wall") if "floor" in results else None
    for v in variants:
        walls = [r["wall"] for r in results[v]]
        w = statistics.median(walls)
        insecure = v.partition("-")[0].replace("other:", "") + "-k"
        ratio_k = f"{w / med(insecure, 'wall'):6.2f}" if insecure in results and insecure != v else "     -"
        ratio_floor = f"{w / floor:7.2f}" if floor else "      -"
        conns = med(v, "connections")
        full, resumed = med(v, "tls_full"), med(v, "tls_resumed")
        per_conn = "-"
        # Only meaningful over many handshakes: with one or two, it divides the machine's noise.
        if insecure in results and insecure != v and full and full >= 50:
            per_conn = f"{(med(v, 'cpu') - med(insecure, 'cpu')) * 1000 / full:.2f}"
        print(f"{v:10s} {w:9.3f} {min(walls):7.3f}-{max(walls):<7.3f} {ratio_floor} {ratio_k} "
              f"{pair(v, 'floor'):>7s} {pair(v, insecure):>7s} "
              f"{med(v, 'cpu'):6.2f} {conns if conns is not None else '-':>6} "
              f"{med(v, 'max_host') if conns is not None else '-':>12} "
              f"{(f'{full}/{resumed}' if full is not None else '-'):>16s} {per_conn:>22s}")


def serve(port, tmp, bundle):
    """The server alone: crawl trusts it with --cacert BUNDLE; curl_floor, which loads the system store,
    in a mount namespace where that store is BUNDLE (unshare -m, then mount --bind)."""
    for workload, (conc, make) in WORKLOADS.items():
        with open(os.path.join(tmp, f"{workload}.txt"), "w") as f:
            f.write("\n".join(make(port)) + "\n")
        print(f"{workload:8s} list {os.path.join(tmp, workload + '.txt')}  (-c {conc})")
    print(f"bundle   {bundle}\nnginx on 127.0.0.1:{port}; Ctrl-C to stop", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # main() still stops nginx and cleans up
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", choices=list(WORKLOADS) + ["all"], default="all")
    ap.add_argument("--variants", default=DEFAULT_VARIANTS)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--nginx-workers", type=int, default=1)
    ap.add_argument("--crawl", default=CRAWL, help="the crawl binary to measure (default: build/crawl)")
    ap.add_argument("--other", help="another crawl binary: variants written other:MODE[-k] run with it, "
                    "interleaved with the rest (e.g. a build that loads trust another way)")
    ap.add_argument("--serve", action="store_true",
                    help="start nginx as the benchmark does, write each workload's list and the CA bundle, "
                    "print where they are, and serve until interrupted")
    a = ap.parse_args()
    for exe in (a.crawl, FLOOR, ECHO_MODULE):
        if not os.path.exists(exe):
            sys.exit(f"{exe} is missing: build first (cmake --build build), and run scripts/setup")
    tmp = tempfile.mkdtemp(prefix="crawl-tls-bench-")
    os.chmod(tmp, 0o755)
    cert, key, bundle = make_certificates(tmp)
    port = free_port()
    nginx = start_nginx_tls(tmp, port, cert, key, a.nginx_workers)
    try:
        if a.serve:
            serve(port, tmp, bundle)
            return
        for w in (WORKLOADS if a.workload == "all" else [a.workload]):
            bench(w, a.variants.split(","), a.repeat, bundle, port, tmp, a.crawl, a.other)
    finally:
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
