#!/usr/bin/python3
"""Light-request latency while heavy requests loop (issue 18, item 5; security review F5).

    bench/heavy_load.py BINARY CATALOG [--space S] [--clients 8] [--seconds 20] [--port 0]

Starts BINARY (`net2vec serve`) on 127.0.0.1 over CATALOG (--quiet, no web folder), then:
  1. baseline: one keep-alive client sends GET /api/neighbors?space=S&concept=dog&k=5 every
     50 ms for 5 s;
  2. --clients clients loop GET /api/map?space=S&iterations=5000&perplexity=50&clusters=50 with
     a fresh seed each time (nothing cached), a new connection per map, 0.5 s pause after a 503,
     while the light client goes on for --seconds.
Prints the light p50/p95/max of both phases and the maps' statuses and times. Run it on two
binaries with the same arguments to compare (docs/reliability/load.md, section 4).
"""
import argparse, itertools, socket, statistics, subprocess, threading, time

a = argparse.ArgumentParser()
a.add_argument('binary'); a.add_argument('catalog')
a.add_argument('--space', default='inception_v3.mixed5.seg')
a.add_argument('--clients', type=int, default=8)
a.add_argument('--seconds', type=float, default=20)
a.add_argument('--port', type=int, default=0)
args = a.parse_args()

srv = subprocess.Popen([args.binary, 'serve', '--db', args.catalog, '--port', str(args.port), '--quiet', '--web', ''],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
port = int(srv.stdout.readline().strip().rstrip('/').rsplit(':', 1)[1])  # "net2vec: serving http://127.0.0.1:P/"


def request(sock, target):
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    buf = b''
    while b'\r\n\r\n' not in buf:
        d = sock.recv(65536)
        if not d:
            return 0
        buf += d
    head, rest = buf.split(b'\r\n\r\n', 1)
    n = int([l.split(b':')[1] for l in head.split(b'\r\n') if l.lower().startswith(b'content-length')][0])
    while len(rest) < n:
        d = sock.recv(65536)
        if not d:
            break
        rest += d
    return int(head[9:12])


light = f'/api/neighbors?space={args.space}&concept=dog&k=5'


def light_phase(seconds):
    s = socket.create_connection(('127.0.0.1', port))
    lat, end = [], time.time() + seconds
    while time.time() < end:
        t = time.time()
        assert request(s, light) == 200
        lat.append(time.time() - t)
        time.sleep(0.05)
    return sorted(lat)


def summary(name, lat):
    print(f"{name}: n={len(lat)} p50={statistics.median(lat) * 1000:.1f} ms "
          f"p95={lat[int(0.95 * len(lat)) - 1] * 1000:.1f} ms max={lat[-1] * 1000:.1f} ms", flush=True)


try:
    summary('baseline light', light_phase(5))
    seeds, stop, maps, lock = itertools.count(1000), [False], [], threading.Lock()

    def heavy():
        while not stop[0]:
            s = socket.create_connection(('127.0.0.1', port))
            s.settimeout(120)
            t = time.time()
            st = request(s, f'/api/map?space={args.space}&iterations=5000&perplexity=50&clusters=50&seed={next(seeds)}')
            with lock:
                maps.append((st, time.time() - t))
            s.close()
            if st == 503:
                time.sleep(0.5)

    threads = [threading.Thread(target=heavy) for _ in range(args.clients)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    summary(f'light under {args.clients} x map', light_phase(args.seconds))
    stop[0] = True
    for t in threads:
        t.join()
    ok = [d for st, d in maps if st == 200]
    print(f"maps: {len(ok)} x 200 (p50 {statistics.median(ok):.2f} s, max {max(ok):.2f} s), "
          f"{sum(1 for st, _ in maps if st == 503)} x 503, others {sum(1 for st, _ in maps if st not in (200, 503))}")
finally:
    srv.terminate()
    srv.wait()
