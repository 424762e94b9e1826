"""What the nginx benchmarks share (perf/tls.py, perf/docs.py): a free port, Debian's nginx started
in the foreground on a configuration the script writes, and a command run with one file of the system
replaced in a private mount namespace (root only), so the system itself is never changed."""
import os
import socket
import subprocess
import sys
import time


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


def with_file_replaced(replacement, target, argv):
    """argv run where `target` is `replacement`: its own mount namespace, nothing else changed."""
    return ["unshare", "-m", "sh", "-c", f'mount --bind "{replacement}" {target} && exec "$@"', "sh"] + argv
