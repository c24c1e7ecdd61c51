"""End to end: files written by net2vec.export through the real net2vec-ingest.

The toy probe set and network of tests/support/toy_fixture.cpp (make-fixture DIR writes
DIR/probe and DIR/model.pt, whose layer "features" is built in C++). toy_models.py:toy_net
computes the same map in Python and also emits it as a token sequence with 2 prefix tokens
and channels-last; exported as layers features, tokens (tokens:2:8x8) and nhwc (nhwc), each
ingested must give the catalog the C++ model gives: the same thresholds, embedding vectors and
scores for every concept, segmentation and classification.

Needs NET2VEC_INGEST and NET2VEC_MAKE_FIXTURE (ctest python_export_ingest sets them); exits 77
without them or without torch.
"""

import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_util as eu  # noqa: E402

INGEST = os.environ.get("NET2VEC_INGEST", "")
MAKE_FIXTURE = os.environ.get("NET2VEC_MAKE_FIXTURE", "")
READY = eu.have_torchvision() and os.path.isfile(INGEST) and os.path.isfile(MAKE_FIXTURE)


def _space(db, space):
    """{concept number: (vector, set_iou_val, accuracy_val, train_count)} and thresholds."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT c.number, e.vector, e.bias, e.set_iou_val, e.accuracy_val, e.train_count "
            "FROM embedding e JOIN concept c ON c.id = e.concept_id WHERE e.space_id = ?",
            (space,)).fetchall()
        thresholds = [v for (v,) in con.execute(
            "SELECT t.value FROM threshold t JOIN space s ON s.run_id = t.run_id "
            "WHERE s.id = ? ORDER BY t.filter", (space,))]
    finally:
        con.close()
    emb = {n: (struct.unpack(f"<{len(v) // 4}f", v), b, iou, acc, tc)
           for n, v, b, iou, acc, tc in rows}
    return emb, thresholds


@unittest.skipIf(not READY, "needs torch, torchvision, NET2VEC_INGEST and NET2VEC_MAKE_FIXTURE")
class ExportIngestTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="n2v-export-ingest-")
        subprocess.run([MAKE_FIXTURE, cls.dir], check=True, capture_output=True)
        cls.exported = eu.export_model(
            ["--module", f"{eu.TOY}:toy_net", "--input-size", "32", "--scale", str(1 / 255),
             "--mean", "0", "--std", "1",
             "--layers", "features=maps,tokens=tok,nhwc=hwc:nhwc"], cls.dir, "exported.pt")
        cls.db = os.path.join(cls.dir, "catalog.db")
        cls.ingest(os.path.join(cls.dir, "model.pt"), "features", "toy")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def ingest(cls, model, layer, network):
        r = subprocess.run([INGEST, "--probe", os.path.join(cls.dir, "probe"), "--model", model,
                            "--layer", layer, "--network", network, "--db", cls.db,
                            "--quantile", "0.125", "--seed", "3", "--progress", "lines"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"net2vec-ingest --layer {layer} failed ({r.returncode}):\n"
                                 f"{r.stdout}{r.stderr}")

    def same_as_builtin(self, layer, network):
        self.ingest(self.exported, layer, network)
        for task in ("seg", "cls"):
            want, want_t = _space(self.db, f"toy.features.{task}")
            got, got_t = _space(self.db, f"{network}.{layer}.{task}")
            self.assertEqual(len(want_t), 4)
            self.assertEqual(got_t, want_t, (layer, task))
            self.assertGreater(len(want), 0)
            self.assertEqual(sorted(got), sorted(want), (layer, task))
            for concept, (vec, bias, iou, acc, count) in want.items():
                g = got[concept]
                self.assertEqual(g[4], count)
                for a, b in zip(g[0], vec):
                    self.assertAlmostEqual(a, b, places=5, msg=(layer, task, concept))
                self.assertAlmostEqual(g[1], bias, places=5)
                for a, b in ((g[2], iou), (g[3], acc)):
                    if b is None:
                        self.assertIsNone(a)
                    else:
                        self.assertAlmostEqual(a, b, places=5, msg=(layer, task, concept))

    def test_nchw_layer(self):
        self.same_as_builtin("features", "py")

    def test_tokens_layer(self):
        self.same_as_builtin("tokens", "pytokens")

    def test_nhwc_layer(self):
        self.same_as_builtin("nhwc", "pynhwc")


if __name__ == "__main__":
    if not READY:
        print("tests/python/test_export_ingest.py: needs torch, torchvision and the "
              "NET2VEC_INGEST / NET2VEC_MAKE_FIXTURE binaries: skipped")
        sys.exit(77)
    unittest.main()
