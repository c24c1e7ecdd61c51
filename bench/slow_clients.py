#!/usr/bin/python3
"""Slow clients against `net2vec serve` (issue 9, item 5).

    bench/slow_clients.py [--db CATALOG] [--slow 200] [--hold 15] [--requests 1000] ...

Starts `net2vec serve` on 127.0.0.1 (a free port, --quiet, the server's default --threads
unless --threads is given), then:
  1. baseline: a fast client sends --requests GET /api/neighbors on one keep-alive connection
     (and one in four also on a fresh connection), --pace seconds apart; latencies recorded;
  2. a child process opens --slow connections and trickles a request into each, one byte per
     connection every 0.5-1 s (random), for --hold seconds; the request is padded so that it
     cannot be complete within --hold. The fast client runs the same loop meanwhile, for the
     whole hold. The child notes when the server closes each connection (EOF or reset) and
     whether any connection got a response.
  3. SIGTERM to the server, which must exit 0 within 10 s.

Criteria (exit 1 when any fails):
  * with slow clients, the fast client's p99 <= 3 x its baseline p99 + 5 ms, on the keep-alive
    connection and on fresh connections alike; no fast request fails;
  * the server closes no trickling connection before its 10 s header timeout (less 0.5 s);
    when --hold >= 12, it closes all of them by 10 s + 2 s (after 10 s + 2 s would mean a
    slow client holds the connection longer than the server promises);
  * no trickling connection gets a response; the server exits 0 on SIGTERM.
Every phase is bounded in requests and time. Python 3 standard library only.
"""

import argparse
import json
import os
import random
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

HEADER_TIMEOUT_S = 10.0  # ServerOptions::header_timeout_ms (src/server/server.h)
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_proc import default_db, http_get, stop_server  # noqa: E402



# ---------------------------------------------------------------------------------------------
# The trickling child: --role slow
def run_slow(args):
    random.seed(args.seed)
    request = (f"GET /api/neighbors?space={urllib.parse.quote(args.space)}&concept={urllib.parse.quote(args.concept)}"
               f"&k=10 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: net2vec-slow-client\r\n").encode()
    # Padding: the request cannot be complete within the hold at one byte per 0.5 s at most.
    need = int(args.hold / 0.5) + 64
    if len(request) < need:
        request += b"X-Pad: " + b"a" * (need - len(request)) + b"\r\n"
    request += b"\r\n"

    conns = []
    t0 = time.monotonic()
    for _ in range(args.slow):
        s = socket.create_connection(("127.0.0.1", args.port), timeout=5)
        s.setblocking(False)
        conns.append({"sock": s, "opened": time.monotonic(), "sent": 0,
                      "next": time.monotonic() + random.uniform(0.0, 1.0), "closed": None, "answered": False})
    connect_s = time.monotonic() - t0
    print("ready", flush=True)

    start = time.monotonic()
    end = start + args.hold
    send_errors = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        open_conns = [c for c in conns if c["closed"] is None]
        if not open_conns:
            break
        # Bytes due.
        for c in open_conns:
            if now >= c["next"] and c["sent"] < len(request):
                try:
                    c["sock"].send(request[c["sent"]:c["sent"] + 1])
                    c["sent"] += 1
                except (BrokenPipeError, ConnectionResetError):
                    c["closed"] = now - c["opened"]
                    send_errors += 1
                except BlockingIOError:
                    pass
                c["next"] = now + random.uniform(0.5, 1.0)
        # Server closes (EOF or reset) and any unexpected response.
        wait = max(0.0, min(0.05, end - time.monotonic()))
        readable, _, _ = select.select([c["sock"] for c in open_conns], [], [], wait)
        by_sock = {c["sock"]: c for c in open_conns}
        for s in readable:
            c = by_sock[s]
            try:
                data = s.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except BlockingIOError:
                continue
            if data:
                c["answered"] = True
            if not data and c["closed"] is None:
                c["closed"] = time.monotonic() - c["opened"]
    for c in conns:
        c["sock"].close()
    closes = sorted(c["closed"] for c in conns if c["closed"] is not None)
    print(json.dumps({
        "connections": len(conns),
        "connect_s": connect_s,
        "hold_s": args.hold,
        "bytes_sent_max": max(c["sent"] for c in conns),
        "request_bytes": len(request),
        "closed_by_server": len(closes),
        "close_s_min": closes[0] if closes else None,
        "close_s_median": statistics.median(closes) if closes else None,
        "close_s_max": closes[-1] if closes else None,
        "send_errors": send_errors,
        "answered": sum(c["answered"] for c in conns),
    }), flush=True)
    return 0


# ---------------------------------------------------------------------------------------------
# The fast client
class KeepAlive:
    """One HTTP/1.1 keep-alive connection; request() returns (status, seconds)."""

    def __init__(self, port):
        self.port = port
        self.sock = None
        self.buf = b""

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None

    def request(self, target, close=False):
        t = time.perf_counter()
        if self.sock is None:
            self._connect()
        conn = "Connection: close\r\n" if close else ""
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{conn}\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the response header")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed within the body")
            rest += chunk
        self.buf = rest[length:]
        elapsed = time.perf_counter() - t
        if close:
            self.close()
        return status, elapsed


def get_json(port, target):
    return json.loads(http_get(port, target)[1])


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(q / 100 * len(v) + 0.5)) - 1))]  # nearest rank


def summary(lat):
    if not lat:
        return "none"
    ms = [x * 1000 for x in lat]
    return f"n {len(ms)}, p50 {pct(ms, 50):.2f} ms, p99 {pct(ms, 99):.2f} ms, max {max(ms):.2f} ms"


def fast_loop(port, targets, pace, count=None, until=None, on_time=None):
    """Keep-alive requests (and every 4th on a fresh connection) until count or until."""
    ka = KeepAlive(port)
    keep, fresh, failures, timeline = [], [], [], []
    i = 0
    try:
        while (count is None or i < count) and (until is None or time.monotonic() < until):
            target = targets[i % len(targets)]
            try:
                status, s = ka.request(target)
                if status != 200:
                    failures.append(f"keep-alive {target}: {status}")
                keep.append(s)
                timeline.append((time.monotonic(), s))
                if i % 4 == 0:
                    status, s = KeepAlive(port).request(target, close=True)
                    if status != 200:
                        failures.append(f"fresh {target}: {status}")
                    fresh.append(s)
            except (OSError, ConnectionError, ValueError) as e:
                failures.append(f"{target}: {e!r}")
                ka.close()
            i += 1
            time.sleep(pace)
    finally:
        ka.close()
    return keep, fresh, failures, timeline


# ---------------------------------------------------------------------------------------------
def start_server(net2vec, db, threads):
    cmd = [net2vec, "serve", "--db", db, "--host", "127.0.0.1", "--port", "0", "--quiet"]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # "net2vec: serving http://127.0.0.1:PORT/"
    if "serving" not in line:
        proc.kill()
        raise SystemExit(f"slow_clients: the server did not start: {line!r} {proc.stderr.read()!r}")
    port = int(line.strip().rstrip("/").rsplit(":", 1)[1])
    return proc, port


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--net2vec", default=os.path.join(ROOT, "build/src/apps/net2vec"))
    p.add_argument("--db", help="catalog (default: a copy of data/demo/catalog.db, else a service test catalog)")
    p.add_argument("--threads", type=int, help="server --threads (default: the server's own default)")
    p.add_argument("--slow", type=int, default=200, help="trickling connections (default 200)")
    p.add_argument("--hold", type=float, default=15.0, help="seconds the trickle lasts (default 15)")
    p.add_argument("--requests", type=int, default=1000, help="baseline fast requests (default 1000)")
    p.add_argument("--pace", type=float, default=0.002, help="seconds between fast requests (default 0.002)")
    p.add_argument("--seed", type=int, default=1)
    # The child's arguments.
    p.add_argument("--role", default="main", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--space", help=argparse.SUPPRESS)
    p.add_argument("--concept", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.role == "slow":
        return run_slow(args)

    with tempfile.TemporaryDirectory(prefix="slow_clients.") as tmp:
        db = args.db or default_db(tmp)
        proc, port = start_server(args.net2vec, db, args.threads)
        try:
            return run_main(args, proc, port, db)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def run_main(args, proc, port, db):
    load = open("/proc/loadavg").read().split()[:3]
    spaces = get_json(port, "/api/spaces")["spaces"]
    seg = [s["id"] for s in spaces if s["task"] == "segmentation"] or [s["id"] for s in spaces]
    space = seg[0]
    names = [c["name"] for c in get_json(port, f"/api/spaces/{urllib.parse.quote(space)}/concepts")["concepts"]][:16]
    targets = [f"/api/neighbors?space={urllib.parse.quote(space)}&concept={urllib.parse.quote(n)}&k=10" for n in names]
    fast_loop(port, targets, 0, count=100)  # warm-up: every server thread opens its catalog connection
    os_threads = len(os.listdir(f"/proc/{proc.pid}/task"))
    print(f"slow_clients: {os.cpu_count()} cores, load {' '.join(load)}; server pid {proc.pid} on port {port}, "
          f"{'--threads ' + str(args.threads) if args.threads is not None else 'default --threads (0: one per core)'}, "
          f"{os_threads} OS threads in the process; catalog {db}, space {space}")

    base_keep, base_fresh, base_fail, _ = fast_loop(port, targets, args.pace, count=args.requests)
    print(f"baseline, keep-alive:       {summary(base_keep)}")
    print(f"baseline, fresh connection: {summary(base_fresh)}")

    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--role", "slow", "--port", str(port),
                              "--slow", str(args.slow), "--hold", str(args.hold), "--seed", str(args.seed),
                              "--space", space, "--concept", names[0]],
                             stdout=subprocess.PIPE, text=True)
    ready = child.stdout.readline().strip()
    if ready != "ready":
        child.kill()
        print(f"FAIL: the slow clients did not connect ({ready!r})")
        return 1
    t_ready = time.monotonic()
    slow_keep, slow_fresh, slow_fail, timeline = fast_loop(port, targets, args.pace, until=t_ready + args.hold)
    try:
        out, _ = child.communicate(timeout=args.hold + 30)
    except subprocess.TimeoutExpired:
        child.kill()
        out = ""
    report = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
    print(f"with {args.slow} slow, keep-alive:       {summary(slow_keep)}")
    print(f"with {args.slow} slow, fresh connection: {summary(slow_fresh)}")
    # The second around the server's timeouts (when it closes the trickling connections).
    burst = [s for (t, s) in timeline if HEADER_TIMEOUT_S - 1 <= t - t_ready <= HEADER_TIMEOUT_S + 2]
    if burst:
        print(f"  of which 9-12 s after they connected (the server's header timeouts): {summary(burst)}")
    per_s = {}
    for t, s in timeline:
        k = int(t - t_ready)
        per_s[k] = max(per_s.get(k, 0), s * 1000)
    print("  max keep-alive latency per second (s:ms): " + " ".join(f"{k}:{v:.1f}" for k, v in sorted(per_s.items())))
    print(f"slow clients: {json.dumps(report)}")
    print(f"server descriptors after the hold: {fds}")
    rc = stop_server(proc)
    print(f"SIGTERM: server exit status {rc}")

    failures = []
    for what, base, slow in (("keep-alive", base_keep, slow_keep), ("fresh connection", base_fresh, slow_fresh)):
        limit = 3 * pct(base, 99) + 0.005
        ratio = pct(slow, 99) / pct(base, 99)
        print(f"criterion ({what}): p99 with slow clients {pct(slow, 99) * 1000:.2f} ms <= 3 x {pct(base, 99) * 1000:.2f}"
              f" + 5 = {limit * 1000:.2f} ms (p99 ratio {ratio:.2f}, p50 ratio {pct(slow, 50) / pct(base, 50):.2f})")
        if pct(slow, 99) > limit:
            failures.append(f"{what} p99 {pct(slow, 99) * 1000:.2f} ms > {limit * 1000:.2f} ms")
    if base_fail or slow_fail:
        failures.append(f"fast requests failed: {(base_fail + slow_fail)[:5]}")
    if report.get("connections") != args.slow:
        failures.append(f"slow clients connected {report.get('connections')} of {args.slow}")
    if report.get("answered"):
        failures.append(f"{report['answered']} incomplete requests got a response")
    if report.get("close_s_min") is not None and report["close_s_min"] < HEADER_TIMEOUT_S - 0.5:
        failures.append(f"a trickling connection was closed after {report['close_s_min']:.2f} s, before the header timeout")
    if args.hold >= HEADER_TIMEOUT_S + 2:
        if report.get("closed_by_server") != args.slow:
            failures.append(f"the server closed {report.get('closed_by_server')} of {args.slow} trickling connections "
                            f"within {args.hold} s")
        elif report["close_s_max"] > HEADER_TIMEOUT_S + 2:
            failures.append(f"the last trickling connection was closed after {report['close_s_max']:.2f} s")
    if rc != 0:
        failures.append(f"server exit status {rc}")
    for f in failures:
        print(f"FAIL: {f}")
    print("PASS" if not failures else "FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
