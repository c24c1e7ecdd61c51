"""What the loopback load programs (slow_clients.py, conn_churn.py) share: a one-shot GET,
stopping the `net2vec serve` they started, and the catalog they serve (a copy of the demo catalog when
there is one, else the service tests' seeded catalog)."""

import os
import signal
import socket
import subprocess

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def stop_server(proc):
    """SIGTERM, then its exit status, or a note when it did not exit within 10 s (killed)."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return "no exit within 10 s (killed)"


def default_db(tmp):
    db = os.path.join(tmp, "catalog.db")
    demo = os.path.join(ROOT, "data/demo/catalog.db")
    if os.path.exists(demo):
        subprocess.run(["sqlite3", demo, f".backup '{db}'"], check=True)
    else:
        subprocess.run([os.path.join(ROOT, "build/tests/service/make-service-catalog"), db], check=True,
                       stdout=subprocess.DEVNULL)
    return db


def http_get(port, target, timeout=10):
    """One GET on its own connection (Connection: close): (status, body bytes); status 0 when
    the answer is not HTTP."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data.partition(b"\r\n\r\n")[2]
