"""What the nginx benchmarks share (perf/tls.py, perf/docs.py, perf/compare.py): a free port,
Debian's nginx started in the foreground on a configuration the script writes (echo_config: the echo
module's latency, the limits, no access log), and a command run with one file of the system replaced in
a private mount namespace (root only), so the system itself is never changed."""
import os
import socket
import sqlite3
import subprocess
import sys
import time

ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"  # libnginx-mod-http-echo


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nginx(tmp, port, config):
    """nginx on `config` (its http, events and module lines), run from `tmp`; returns once it listens."""
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"daemon off;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log warn;\n{config}\n")
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", tmp, "-e", os.path.join(tmp, "error.log")])
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit(f"nginx did not start: see {tmp}/error.log")


def echo_config(workers, connections, nofile, http):
    """A configuration for start_nginx: the echo module loaded (echo_sleep answers after a delay),
    `workers` worker processes of `connections` connections each, `nofile` open files per worker, and
    `http` (its servers) in an http block that logs no request (a line per request would be written to
    a file) and closes no keep-alive connection for the number of its requests, so clients keep
    reusing their connections."""
    return f"""
load_module {ECHO_MODULE};
worker_processes {workers};
worker_rlimit_nofile {nofile};
events {{ worker_connections {connections}; }}
http {{
  access_log off;
  keepalive_requests 1000000;
{http}
}}"""


def run_crawl_and_open(argv, db):
    """Runs a `crawl run` command line (exiting with its output when it fails) and returns its runs row
    and the database, open for the caller's own queries (the caller closes it)."""
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"crawl failed ({r.returncode}): {r.stderr}\n{r.stdout}")
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    return con.execute("select * from runs order by id desc limit 1").fetchone(), con


def with_file_replaced(replacement, target, argv):
    """argv run where `target` is `replacement`: its own mount namespace, nothing else changed."""
    return ["unshare", "-m", "sh", "-c", f'mount --bind "{replacement}" {target} && exec "$@"', "sh"] + argv
