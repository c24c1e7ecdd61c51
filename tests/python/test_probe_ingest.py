"""End to end: annotations converted by net2vec-probe, checked and ingested by net2vec.

A COCO file (a red box as a polygon on every image, a blue patch as compressed RLE on half of
them) and image folders (bright / dark) are converted, merged into one probe set, checked
with `net2vec probe check` where the CLI has it, and ingested by the real net2vec-ingest with
the toy network of toy_models.py (exported by net2vec.export; layer "features" = 4 x 4
average pools of red, green, blue and 1 - red). The catalog must hold every converted concept
with label.csv's number, name and category, the probe set's content hash as net2vec computes
it, segmentation spaces for the mask concepts only and classification for all; the red box,
which the layer sees directly, must be segmented well (a misaligned or transposed mask would
not be).

Needs NET2VEC_INGEST (ctest python_probe_ingest sets it, and NET2VEC_CLI); exits 77 without
it, numpy, PIL or torch.
"""

import csv
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "python"))

INGEST = os.environ.get("NET2VEC_INGEST", "")
CLI = os.environ.get("NET2VEC_CLI", "")
TOOL = os.path.join(REPO, "tools", "net2vec-probe")

try:
    import numpy as np
    from PIL import Image
    from net2vec.probe import rle
    import export_util as eu
    READY = eu.have_torchvision() and os.path.isfile(INGEST)
except ImportError:
    READY = False

N_COCO, N_FOLDER, SIDE = 40, 12, 32


def fnv1a64_of_tables(d):
    """ProbeSet::content_hash (src/probe/probe_set.h), written from its documentation:
    FNV-1a 64 over name, NUL, size, NUL, bytes of index.csv, label.csv, category.csv and the
    c_*.csv files in name order. Its starting value is the C++ code's 1469598103934665603,
    which is not FNV's offset basis (14695981039346656037, one digit more): stored hashes
    use it, so the check does too."""
    names = sorted(n for n in os.listdir(d)
                   if n in ("index.csv", "label.csv", "category.csv")
                   or (n.startswith("c_") and n.endswith(".csv") and len(n) > 6))
    h = 1469598103934665603
    for n in names:
        with open(os.path.join(d, n), "rb") as f:
            data = f.read()
        for b in n.encode() + b"\0" + str(len(data)).encode() + b"\0" + data:
            h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"fnv1a64:{h:016x}"


def make_sources(tmp):
    rng = random.Random(5)
    os.makedirs(os.path.join(tmp, "coco"))
    images, anns = [], []
    for i in range(N_COCO):
        a = np.array([[[rng.randrange(60, 140)] * 3 for _ in range(SIDE)] for _ in range(SIDE)],
                     np.uint8)
        w, h = rng.randrange(8, 17), rng.randrange(8, 17)
        x, y = rng.randrange(0, SIDE - w + 1), rng.randrange(0, SIDE - h + 1)
        a[y:y + h, x:x + w] = (230, 30, 30)
        anns.append({"id": len(anns) + 1, "image_id": i, "category_id": 1, "iscrowd": 0,
                     "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})
        if i % 2 == 0:
            m = np.zeros((SIDE, SIDE), bool)
            m[0:6, SIDE - 10:SIDE] = True
            a[m] = (30, 30, 230)
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": 2, "iscrowd": 0,
                         "segmentation": {"size": [SIDE, SIDE],
                                          "counts": rle.counts_to_string(rle.encode_counts(m))}})
        Image.fromarray(a).save(os.path.join(tmp, "coco", f"{i:03d}.png"))
        images.append({"id": i, "file_name": f"{i:03d}.png", "height": SIDE, "width": SIDE})
    cats = [{"id": 1, "name": "red box", "supercategory": "shape"},
            {"id": 2, "name": "blue patch", "supercategory": "shape"}]
    with open(os.path.join(tmp, "coco", "ann.json"), "w") as f:
        json.dump({"images": images, "annotations": anns, "categories": cats}, f)
    for concept, level in (("bright", 220), ("dark", 25)):
        d = os.path.join(tmp, "folders", concept)
        os.makedirs(d)
        for i in range(N_FOLDER):
            v = level + rng.randrange(-10, 10)
            Image.fromarray(np.full((SIDE, SIDE, 3), v, np.uint8)).save(
                os.path.join(d, f"{i}.png"))


def probe(*args):
    r = subprocess.run([TOOL, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"net2vec-probe {' '.join(args)} failed ({r.returncode}):\n"
                             f"{r.stdout}{r.stderr}")
    return r


@unittest.skipIf(not READY, "needs numpy, PIL, torch, torchvision and NET2VEC_INGEST")
class ProbeIngestTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="n2v-probe-ingest-")
        t = cls.tmp
        make_sources(t)
        common = ["--size", str(SIDE), "--mask-scale", "0.5", "--min-images", "10", "-q"]
        probe("coco", "--annotations", os.path.join(t, "coco", "ann.json"), "--images",
              os.path.join(t, "coco"), "--out", os.path.join(t, "p_coco"), *common)
        probe("folders", "--root", os.path.join(t, "folders"), "--category", "scene",
              "--out", os.path.join(t, "p_folders"), *common)
        probe("merge", os.path.join(t, "p_coco"), os.path.join(t, "p_folders"),
              "--out", os.path.join(t, "probe"), "--min-images", "10", "-q")
        cls.probe = os.path.join(t, "probe")
        cls.model = eu.export_model(
            ["--module", f"{eu.TOY}:toy_net", "--input-size", str(SIDE), "--scale",
             str(1 / 255), "--mean", "0", "--std", "1", "--layers", "features=maps"],
            t, "toy.pt")
        cls.db = os.path.join(t, "catalog.db")
        r = subprocess.run([INGEST, "--probe", cls.probe, "--model", cls.model,
                            "--layer", "features", "--network", "toy", "--db", cls.db,
                            "--quantile", "0.125", "--seed", "3", "--seg-subsets", "",
                            "--cls-subsets", "", "--progress", "none"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"net2vec-ingest failed ({r.returncode}):\n{r.stdout}{r.stderr}")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def labels(self):
        with open(os.path.join(self.probe, "label.csv"), newline="") as f:
            return [(int(r["number"]), r["name"], r["category"].split("(")[0])
                    for r in csv.DictReader(f)]

    def test_probe_check(self):
        """`net2vec probe check` accepts the converted set and prints its content hash."""
        if not os.path.isfile(CLI):
            self.skipTest("NET2VEC_CLI not set")
        commands = subprocess.run([CLI, "--help"], capture_output=True, text=True).stdout
        if not any(line.split()[:1] == ["probe"] for line in commands.splitlines()):
            self.skipTest("this net2vec has no `probe check` yet")
        r = subprocess.run([CLI, "probe", "check", self.probe], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(fnv1a64_of_tables(self.probe), r.stdout)
        for _, name, _ in self.labels():
            self.assertIn(name, r.stdout)

    def test_catalog_has_the_converted_concepts(self):
        self.assertEqual(self.labels(), [(1, "blue patch", "object"), (2, "red box", "object"),
                                         (3, "bright", "scene"), (4, "dark", "scene")])
        con = sqlite3.connect(self.db)
        try:
            rows = con.execute("SELECT c.number, c.name, c.category FROM concept c "
                               "JOIN probe_set p ON p.id = c.probe_set_id ORDER BY c.number"
                               ).fetchall()
            self.assertEqual(rows, self.labels())
            (path, count, mh, mw, cats, chash), = con.execute(
                "SELECT path, image_count, mask_height, mask_width, categories, content_hash "
                "FROM probe_set").fetchall()
            self.assertEqual((count, mh, mw), (N_COCO + 2 * N_FOLDER, SIDE // 2, SIDE // 2))
            self.assertEqual(json.loads(cats), ["object", "scene"])
            self.assertEqual(chash, fnv1a64_of_tables(self.probe))

            def space(task):
                return dict(con.execute(
                    "SELECT c.name, e.set_iou_val FROM embedding e JOIN concept c "
                    "ON c.id = e.concept_id WHERE e.space_id = ?", (f"toy.features.{task}",)))
            seg, cls = space("seg"), space("cls")
        finally:
            con.close()
        # Whole-image concepts get classification only, as BRODEN's scene and texture.
        self.assertEqual(sorted(seg), ["blue patch", "red box"])
        self.assertEqual(sorted(cls), ["blue patch", "bright", "dark", "red box"])
        # The red box is one of the layer's own maps (the red pool): its learned mask must
        # follow the converted one closely.
        self.assertGreater(seg["red box"], 0.5)


if __name__ == "__main__":
    if not READY:
        print("tests/python/test_probe_ingest.py: needs numpy, PIL, torch, torchvision and "
              "NET2VEC_INGEST: skipped")
        sys.exit(77)
    unittest.main()
