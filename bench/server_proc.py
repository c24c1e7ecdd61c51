"""What the loopback load programs (slow_clients.py, conn_churn.py) share: stopping the
`net2vec serve` they started, and the catalog they serve (a copy of the demo catalog when
there is one, else the service tests' seeded catalog)."""

import os
import signal
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
