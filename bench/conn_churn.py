#!/usr/bin/python3
"""Connection churn against `net2vec serve` (issue 9, item 5): descriptors must not leak.

    bench/conn_churn.py [--db CATALOG] [--connections 10000] [--tolerance 4] [--settle 5]

Starts `net2vec serve` on 127.0.0.1 (a free port, --quiet), warms it up (8 concurrent clients,
200 requests: server threads open their catalog connections lazily), counts its open descriptors
(/proc/PID/fd; the sockets among them are what a leaked connection would add), then opens
and drops --connections connections, cycling through four ways:
  silent    connect, close without sending (FIN)
  rst       connect, send half a request line, close with SO_LINGER 0 (RST)
  partial   connect, send a request without its final blank line, close (FIN)
  abandon   connect, send a whole request, close with SO_LINGER 0 before reading (RST; the
            server may be writing the answer)
The sockets are counted every 500 connections. Afterwards their count is polled every
0.1 s for up to --settle seconds until it is back to the count before; then the server must
still answer GET /api/health, and exit 0 on SIGTERM within 10 s.

Then (unless --exhaust 0) descriptor exhaustion: a second server is started with its
descriptor limit (RLIMIT_NOFILE) at 64 and --exhaust (default 100) idle connections are held
open against it, more than it can accept; its CPU time over 2 s is measured (a server that
retries a failing accept at once spins a thread here), then the connections are closed and
it must answer GET /api/health again within 5 s and exit 0 on SIGTERM.

Fails (exit 1) when the socket count after settling exceeds the count before by more than
--tolerance (default 4), a health check fails, an exit status is not 0, or the server used
more than 10 % of a core while its descriptors were exhausted.
Every phase is bounded in connections and time. Python 3 standard library only.
"""

import argparse
import os
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_proc import default_db, http_get as get, stop_server  # noqa: E402

LINGER0 = struct.pack("ii", 1, 0)


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def sockets(pid):
    """The server's socket descriptors: the listener and one per connection it holds."""
    n = 0
    for f in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{f}").startswith("socket:")
        except OSError:
            pass  # closed meanwhile
    return n


def start_server(net2vec, db, threads, nofile=None):
    cmd = [net2vec, "serve", "--db", db, "--host", "127.0.0.1", "--port", "0", "--quiet"]
    if threads is not None:
        cmd += ["--threads", str(threads)]

    def limit():
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, preexec_fn=limit)
    line = proc.stdout.readline()
    if "serving" not in line:
        proc.kill()
        raise SystemExit(f"conn_churn: the server did not start: {line!r}")
    return proc, int(line.strip().rstrip("/").rsplit(":", 1)[1])


def churn_one(port, kind, full_request):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
        if kind == "silent":
            pass
        elif kind == "rst":
            s.send(b"GET /api/hea")
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
        elif kind == "partial":
            s.send(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        elif kind == "abandon":
            s.send(full_request)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
    finally:
        s.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--net2vec", default=os.path.join(ROOT, "build/src/apps/net2vec"))
    p.add_argument("--db", help="catalog (default: a copy of data/demo/catalog.db, else a service test catalog)")
    p.add_argument("--threads", type=int, help="server --threads (default: the server's own default)")
    p.add_argument("--connections", type=int, default=10000)
    p.add_argument("--tolerance", type=int, default=4, help="descriptors the count may grow by (default 4)")
    p.add_argument("--settle", type=float, default=5.0, help="seconds to wait for the count to settle (default 5)")
    p.add_argument("--exhaust", type=int, default=100,
                   help="idle connections held against a server limited to 64 descriptors (default 100; 0: skip)")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="conn_churn.") as tmp:
        db = args.db or default_db(tmp)
        proc, port = start_server(args.net2vec, db, args.threads)
        try:
            rc = run(args, proc, port, db)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if args.exhaust > 0:
            proc, port = start_server(args.net2vec, db, args.threads, nofile=64)
            try:
                rc = exhaust(args, proc, port) or rc
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        print("PASS" if rc == 0 else "FAILED")
        return rc


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def exhaust(args, proc, port):
    pid = proc.pid
    status, _ = get(port, "/api/spaces")
    socks = []
    for _ in range(args.exhaust):
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    time.sleep(0.5)
    held = fds(pid)
    c0, t0 = cpu_s(pid), time.monotonic()
    time.sleep(2)
    used = (cpu_s(pid) - c0) / (time.monotonic() - t0)
    for s in socks:
        s.close()
    t1 = time.monotonic()
    health = 0
    while time.monotonic() - t1 < 5:
        try:
            health, _ = get(port, "/api/health", timeout=5)
            if health == 200:
                break
        except OSError:
            pass
        time.sleep(0.1)
    recovered = time.monotonic() - t1
    time.sleep(0.5)
    after = fds(pid)
    rc = stop_server(proc)
    print(f"exhaustion: server limited to 64 descriptors, {args.exhaust} idle connections held: {held} descriptors open;"
          f" server CPU {used * 100:.1f} % of a core over 2 s; after closing them GET /api/health {health} in"
          f" {recovered:.2f} s, {after} descriptors; SIGTERM exit status {rc}")
    failures = []
    if status != 200:
        failures.append(f"GET /api/spaces before answered {status}")
    if used > 0.10:
        failures.append(f"the server used {used * 100:.1f} % of a core (> 10 %) while out of descriptors")
    if health != 200:
        failures.append(f"no GET /api/health 200 within 5 s after the connections closed ({health})")
    if rc != 0:
        failures.append(f"server exit status {rc}")
    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


def run(args, proc, port, db):
    pid = proc.pid
    # Warm-up: 8 clients at once, 25 requests each, so that every thread opens its connection.
    errors = []

    def warm():
        for _ in range(25):
            status, _ = get(port, "/api/spaces")
            if status != 200:
                errors.append(status)

    ts = [threading.Thread(target=warm) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    time.sleep(0.5)
    before, before_total = sockets(pid), fds(pid)
    threads = len(os.listdir(f"/proc/{pid}/task"))
    print(f"conn_churn: {os.cpu_count()} cores, load {' '.join(open('/proc/loadavg').read().split()[:3])}; "
          f"server pid {pid} port {port}, {threads} OS threads; catalog {db}")
    print(f"descriptors before: {before} sockets, {before_total} in all ({' '.join(sorted(os.readlink(f'/proc/{pid}/fd/{f}').split(':')[0] for f in os.listdir(f'/proc/{pid}/fd')))})")

    kinds = ["silent", "rst", "partial", "abandon"]
    full = b"GET /api/spaces HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    counts = {k: 0 for k in kinds}
    client_errors = 0
    samples = []
    t0 = time.monotonic()
    for i in range(args.connections):
        kind = kinds[i % len(kinds)]
        try:
            churn_one(port, kind, full)
            counts[kind] += 1
        except OSError:
            client_errors += 1
        if (i + 1) % 500 == 0:
            samples.append(sockets(pid))
    churn_s = time.monotonic() - t0
    print(f"churned {args.connections} connections in {churn_s:.2f} s ({', '.join(f'{k} {n}' for k, n in counts.items())};"
          f" client-side errors {client_errors})")
    print(f"socket descriptors every 500 connections: {' '.join(map(str, samples))} (max {max(samples) if samples else '-'})")

    t1 = time.monotonic()
    after = sockets(pid)
    while after > before and time.monotonic() - t1 < args.settle:
        time.sleep(0.1)
        after = sockets(pid)
    settle_s = time.monotonic() - t1
    after_total = fds(pid)
    print(f"descriptors after: {after} sockets (settled in {settle_s:.1f} s; growth {after - before}, tolerance"
          f" {args.tolerance}), {after_total} in all")
    if after_total > before_total:
        print("  now: " + " ".join(sorted(os.readlink(f"/proc/{pid}/fd/{f}").split(":")[0] for f in os.listdir(f"/proc/{pid}/fd"))))
    status, body = get(port, "/api/health")
    print(f"GET /api/health after the churn: {status}")
    rc = stop_server(proc)
    print(f"SIGTERM: server exit status {rc}")

    failures = []
    if errors:
        failures.append(f"warm-up statuses {errors[:5]}")
    if after - before > args.tolerance:
        failures.append(f"socket descriptors grew by {after - before} (> {args.tolerance}) after {args.settle} s")
    if status != 200:
        failures.append(f"health check after the churn answered {status}")
    if rc != 0:
        failures.append(f"server exit status {rc}")
    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
