"""net2vec.Client (python/net2vec/client.py) against the real `net2vec serve` on loopback, on
the service test catalog: every method must return exactly what a plain urllib request of
the same route parses to (json.loads), and neighbours / analogies what `net2vec ... --json`
prints; error answers raise ClientError with the API's status and JSON. The server is
stopped at the end whatever happens (SIGTERM, then SIGKILL after 10 s).

    PYTHONPATH=python NET2VEC_BIN=build/src/apps/net2vec \
        NET2VEC_MAKE_CATALOG=build/tests/service/make-service-catalog \
        /usr/bin/python3 -m unittest -v tests/python/test_client.py
"""

import io
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

import net2vec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_catalog import make_catalog, raw, tool, typo  # noqa: E402

START_TIMEOUT_S = 30


def start_server(net2vec_bin, db):
    """`net2vec serve` on 127.0.0.1, any free port: (process, base URL). Waits at most
    START_TIMEOUT_S for the "serving http://..." line."""
    proc = subprocess.Popen([net2vec_bin, "serve", "--db", db, "--host", "127.0.0.1", "--port", "0", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = b""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(proc.stdout.fileno(), 1)
        if not chunk:
            break
        line += chunk
    text = line.decode(errors="replace").strip()
    if "serving http://" not in text:
        stop_server(proc)
        raise RuntimeError(f"net2vec serve did not start: {text!r}, stderr {proc.stderr.read()!r}")
    return proc, text.split("serving ", 1)[1]


def stop_server(proc):
    """SIGTERM, then SIGKILL when it has not exited within 10 s; the exit status (negative:
    the signal that ended it)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for f in (proc.stdout, proc.stderr):
        if f:
            f.close()
    return proc.returncode


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bin = tool("NET2VEC_BIN", "build/src/apps/net2vec")
        cls.tmp = tempfile.mkdtemp(prefix="n2v-pyclient.")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.db = make_catalog(os.path.join(cls.tmp, "catalog.db"))
        cls.proc, cls.url = start_server(cls.bin, cls.db)
        cls.addClassCleanup(cls.stop)
        cls.api = net2vec.Client(cls.url)
        spaces = raw(cls.db, "SELECT id, kind, task FROM space ORDER BY id")
        cls.spaces = [s for s, _, _ in spaces]
        cls.network = [s for s, kind, _ in spaces if kind == "network"]
        cls.seg = [s for s, _, task in spaces if task == "segmentation"]
        cls.names = {s: [n for (n,) in raw(cls.db, "SELECT c.name FROM embedding e JOIN concept c ON c.id = e.concept_id"
                                                    " WHERE e.space_id = ? ORDER BY c.number", (s,))] for s in cls.spaces}

    @classmethod
    def stop(cls):
        status = stop_server(cls.proc)
        if status != 0:  # reported as an error of the class
            raise RuntimeError(f"net2vec serve exited with {status} on SIGTERM (expected 0)")

    # ---- the same request by hand ----

    def raw_get(self, target):
        with urllib.request.urlopen(self.url.rstrip("/") + target, timeout=30) as r:
            self.assertEqual(r.status, 200)
            return r.read()

    def raw_json(self, target):
        return json.loads(self.raw_get(target))

    def raw_post(self, target, body):
        req = urllib.request.Request(self.url.rstrip("/") + target, data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def raw_error(self, target, body=None):
        """(status, parsed JSON) of a request that must fail."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url.rstrip("/") + target, data=data, method="GET" if data is None else "POST")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=30)
        with e.exception:
            return e.exception.code, json.loads(e.exception.read())

    def cli_json(self, *args):
        out = subprocess.run([self.bin, *args, "--db", self.db, "--json"], check=True, capture_output=True,
                             timeout=60)
        return json.loads(out.stdout)

    @staticmethod
    def q(text):
        return urllib.parse.quote(text, safe="")

    # ---- each method: the API's JSON, unchanged ----

    def test_spaces(self):
        got = self.api.spaces()
        self.assertEqual(got, self.raw_json("/api/spaces"))
        self.assertEqual(sorted(s["id"] for s in got["spaces"]), sorted(self.spaces))
        self.assertEqual(got, self.cli_json("spaces"))

    def test_concepts(self):
        for s in self.spaces:
            with self.subTest(space=s):
                got = self.api.concepts(s)
                self.assertEqual(got, self.raw_json(f"/api/spaces/{self.q(s)}/concepts"))
                self.assertEqual([c["name"] for c in got["concepts"]], self.names[s])
                category = got["concepts"][0]["category"]
                self.assertEqual(self.api.concepts(s, category=category),
                                 self.raw_json(f"/api/spaces/{self.q(s)}/concepts?category={self.q(category)}"))

    def test_neighbors(self):
        for s in self.spaces:
            name = self.names[s][len(self.names[s]) // 3]
            with self.subTest(space=s, concept=name):
                got = self.api.neighbors(s, name, k=4)
                self.assertEqual(got, self.raw_json(f"/api/neighbors?space={self.q(s)}&concept={self.q(name)}&k=4"))
                self.assertEqual(len(got["hits"]), 4)
                self.assertEqual(got["query"], name)
                self.assertEqual(got, self.cli_json("neighbors", "--space", s, "--concept", name, "-k", "4"))
                self.assertEqual(self.api.neighbors(s, name), self.raw_json(
                    f"/api/neighbors?space={self.q(s)}&concept={self.q(name)}"))
                category = got["hits"][0]["category"]
                self.assertEqual(self.api.neighbors(s, name, k=3, category=category), self.raw_json(
                    f"/api/neighbors?space={self.q(s)}&concept={self.q(name)}&k=3&category={self.q(category)}"))

    def test_neighbors_of_a_vector(self):
        with net2vec.open(self.db) as cat:
            for s in self.network:
                name = self.names[s][0]
                vector = cat.vector(s, name)
                with self.subTest(space=s):
                    got = self.api.neighbors(s, vector=vector, k=3)
                    text = ",".join(repr(float(x)) for x in vector)
                    self.assertEqual(got, self.raw_json(f"/api/neighbors?space={self.q(s)}&vector={text}&k=3"))
                    self.assertIsNone(got["query"])
                    self.assertEqual(got["hits"][0]["name"], name)  # the concept's own vector, unchanged
                    self.assertEqual(self.api.neighbors(s, vector=list(vector), k=3), got)

    def test_analogy(self):
        for s in self.spaces:
            names = self.names[s]
            positive, negative = [names[0], names[5]], [names[9]]
            for method in ("add", "mul"):
                with self.subTest(space=s, method=method):
                    got = self.api.analogy(s, positive, negative, k=5, method=method)
                    self.assertEqual(got, self.raw_post("/api/analogy", {"space": s, "positive": positive,
                                                                         "negative": negative, "k": 5,
                                                                         "method": method}))
                    self.assertEqual(got["method"], method)
                    self.assertEqual(got, self.cli_json("analogy", "--space", s, "--positive", ",".join(positive),
                                                        "--negative", ",".join(negative), "-k", "5",
                                                        "--method", method))
        s = self.spaces[0]
        self.assertEqual(self.api.analogy(s, self.names[s][:2]),
                         self.raw_post("/api/analogy", {"space": s, "positive": self.names[s][:2]}))

    def test_compare(self):
        pair = self.seg[:2] if len(self.seg) > 1 else self.spaces[:2]
        got = self.api.compare(pair, per_concept=2)
        self.assertEqual(got, self.raw_json(f"/api/compare?spaces={self.q(','.join(pair))}&per_concept=2"))
        self.assertEqual([s["id"] for s in got["spaces"]], pair)
        self.assertEqual(self.api.compare(), self.raw_json("/api/compare?spaces=all"))
        shared = sorted(set(self.names[pair[0]]) & set(self.names[pair[1]]))[:6]
        self.assertEqual(self.api.compare(pair, concepts=shared, per_concept="all"), self.raw_json(
            f"/api/compare?spaces={self.q(','.join(pair))}&concepts={self.q(','.join(shared))}&per_concept=all"))

    def test_concept(self):
        for s in self.spaces:
            name = self.names[s][-1]
            with self.subTest(space=s):
                got = self.api.concept(s, name)
                self.assertEqual(got, self.raw_json(f"/api/concepts/{self.q(name)}?space={self.q(s)}"))
                self.assertEqual(got["name"], name)
                self.assertEqual(self.api.concept(s, name, top=3),
                                 self.raw_json(f"/api/concepts/{self.q(name)}?space={self.q(s)}&top=3"))
                self.assertEqual(got, self.cli_json("concept", "--space", s, "--concept", name))

    def test_concept_agrees_with_the_catalog(self):
        """The Client and the Catalog reader see the same stored numbers."""
        with net2vec.open(self.db) as cat:
            for s in self.network:
                name = self.names[s][1]
                with self.subTest(space=s):
                    doc, row = self.api.concept(s, name), cat.concept(s, name)
                    self.assertEqual((doc["learned"]["train"], doc["learned"]["val"]), (row.score_train, row.score_val))
                    self.assertEqual(doc["best_filter"], row.best_filter)
                    self.assertEqual(doc["weights"], cat.vector(s, name).astype(np.float64).tolist())

    def test_concept_list_intervals_agree_with_the_catalog(self):
        """Issue 21: every listed score's interval, p and null mean are the stored ones."""
        with net2vec.open(self.db) as cat:
            for s in self.network:
                with self.subTest(space=s):
                    listed = self.api.concepts(s)["concepts"]
                    with_interval = 0
                    for c in listed:
                        row = cat.concept(s, c["name"])
                        for key in ("score_val", "best_filter_val"):
                            iv = c[key + "_interval"]
                            self.assertEqual(None if iv is None else tuple(iv), getattr(row, key + "_interval"), c["name"])
                            self.assertEqual(c[key + "_p"], getattr(row, key + "_p"), c["name"])
                            self.assertEqual(c[key + "_null_mean"], getattr(row, key + "_null_mean"), c["name"])
                        with_interval += c["score_val_interval"] is not None
                    self.assertGreater(with_interval, 0)
                    self.assertLess(with_interval, len(listed))  # the service catalog leaves some out

    def test_numpy_neighbors_agree_with_the_api(self):
        """docs/PYTHON.md's recipe (cosine of L2-normalised catalog rows, the query dropped)
        ranks as the server does."""
        with net2vec.open(self.db) as cat:
            for s in self.spaces:
                names, w = cat.vectors(s)
                unit = w.astype(np.float64) / np.linalg.norm(w.astype(np.float64), axis=1, keepdims=True)
                for q in (0, len(names) // 2):
                    with self.subTest(space=s, concept=names[q]):
                        cos = unit @ unit[q]
                        cos[q] = -np.inf
                        hits = self.api.neighbors(s, names[q], k=len(names))["hits"]
                        self.assertEqual(len(hits), len(names) - 1)
                        got = {h["name"]: h["score"] for h in hits}
                        for i, name in enumerate(names):
                            if i != q:
                                self.assertAlmostEqual(got[name], cos[i], delta=1e-5)
                        scores = [h["score"] for h in hits]
                        self.assertEqual(scores, sorted(scores, reverse=True))

    def test_other_routes(self):
        s, seg = self.network[0], self.seg[0]
        name = self.names[seg][2]
        for got, target in (
                (self.api.filters(s), f"/api/filters?space={self.q(s)}"),
                (self.api.filters(s, filter=1, top=3), f"/api/filters?space={self.q(s)}&filter=1&top=3"),
                (self.api.analyses(s), f"/api/analyses?space={self.q(s)}"),
                (self.api.examples(s, queries=self.names[s][:2], sums=[(self.names[s][:2], self.names[s][2:3])], k=3),
                 f"/api/examples?space={self.q(s)}&queries={self.q(','.join(self.names[s][:2]))}"
                 f"&sums={self.q(','.join(self.names[s][:2]) + '/' + self.names[s][2])}&k=3"),
                (self.api.map(s, iterations=250, seed=3, clusters=2),
                 f"/api/map?space={self.q(s)}&iterations=250&seed=3&clusters=2"),
                (self.api.concept_images(seg, name, limit=2), f"/api/concepts/{self.q(name)}/images?space={self.q(seg)}&limit=2"),
                (self.api.get("/api/neighbors", space=s, concept=name, k=2),
                 f"/api/neighbors?space={self.q(s)}&concept={self.q(name)}&k=2"),
                (self.api.get("neighbors", space=s, concept=name, k=2),
                 f"/api/neighbors?space={self.q(s)}&concept={self.q(name)}&k=2"),
                (self.api.openapi(), "/api/openapi.json")):
            with self.subTest(target=target):
                self.assertEqual(got, self.raw_json(target))

    def test_export_vectors(self):
        with net2vec.open(self.db) as cat:
            for s in self.network:
                with self.subTest(space=s):
                    data = self.api.export_vectors(s, "npy")
                    self.assertEqual(data, self.raw_get(f"/api/export?space={self.q(s)}&format=npy"))
                    names, w = cat.vectors(s)
                    self.assertEqual(np.load(io.BytesIO(data)).astype("<f4").tobytes(), w.tobytes())
                    self.assertEqual(self.api.export_vectors(s, "tsv", normalize=True),
                                     self.raw_get(f"/api/export?space={self.q(s)}&format=tsv&normalize=true"))

    def test_base_url_forms(self):
        base = self.url.rstrip("/")
        for url in (base, base + "/", base + "/api", base.split("://", 1)[1]):
            with self.subTest(url=url):
                self.assertEqual(net2vec.Client(url).spaces(), self.raw_json("/api/spaces"))

    # ---- errors: ClientError with the API's status and JSON ----

    def assert_api_error(self, call, target, body=None):
        status, doc = self.raw_error(target, body)
        with self.assertRaises(net2vec.ClientError) as e:
            call()
        err = e.exception
        self.assertEqual(err.status, status)
        self.assertEqual(err.error, doc["error"])
        self.assertEqual((err.code, err.message, err.suggestions),
                         (doc["error"]["code"], doc["error"]["message"], doc["error"]["suggestions"]))
        self.assertIn(doc["error"]["message"], str(err))
        return err

    def test_unknown_space(self):
        wrong = typo(self.network[0])
        err = self.assert_api_error(lambda: self.api.neighbors(wrong, self.names[self.network[0]][0]),
                                    f"/api/neighbors?space={self.q(wrong)}&concept={self.q(self.names[self.network[0]][0])}")
        self.assertEqual((err.status, err.code), (404, "not_found"))
        self.assert_api_error(lambda: self.api.concepts(wrong), f"/api/spaces/{self.q(wrong)}/concepts")

    def test_unknown_concept(self):
        s = self.spaces[0]
        name = max(self.names[s], key=len)
        wrong = typo(name) + " x"  # a space in the name: percent-encoded in the path
        err = self.assert_api_error(lambda: self.api.concept(s, wrong), f"/api/concepts/{self.q(wrong)}?space={self.q(s)}")
        self.assertEqual(err.status, 404)
        err = self.assert_api_error(lambda: self.api.analogy(s, [typo(name)]), "/api/analogy",
                                    {"space": s, "positive": [typo(name)]})
        self.assertIn(name, err.suggestions)

    def test_bad_parameters(self):
        s = self.spaces[0]
        name = self.names[s][0]
        err = self.assert_api_error(lambda: self.api.neighbors(s, name, k=0),
                                    f"/api/neighbors?space={self.q(s)}&concept={self.q(name)}&k=0")
        self.assertEqual(err.status, 400)
        self.assert_api_error(lambda: self.api.get("neighbors", space=s, konzept=name),
                              f"/api/neighbors?space={self.q(s)}&konzept={self.q(name)}")
        self.assert_api_error(lambda: self.api.post("/api/analogy", {"space": s, "positive": [name], "bogus": 1}),
                              "/api/analogy", {"space": s, "positive": [name], "bogus": 1})
        self.assert_api_error(lambda: self.api.analogy(s, [name], method="sub"), "/api/analogy",
                              {"space": s, "positive": [name], "negative": [], "method": "sub"})
        with self.assertRaises(ValueError):
            self.api.neighbors(s)

    def test_no_server(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        with self.assertRaises(net2vec.ClientError) as e:
            net2vec.Client(f"http://127.0.0.1:{port}", timeout=5).spaces()
        self.assertIsNone(e.exception.status)


if __name__ == "__main__":
    unittest.main()
