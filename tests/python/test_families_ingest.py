"""Any network, end to end (issue 16): every torchvision family of export_util.FAMILIES
exported with random weights by net2vec.export, then ingested by the real net2vec-ingest on
the toy probe set (48 images, 8 x 8 masks; one epoch), then read back with net2vec.open.

For each family and layer the test checks, against what the exporter itself recorded in the
file (net2vec_export: the converted K x H x W of every layer):
- `net2vec-ingest --list-layers` prints the layer with its id part and that K x H x W;
- the catalog has one space per task -- <family>.<layer_id>.seg and .cls for a layer with
  spatial maps, .cls only for a 1 x 1 one (segmentation is refused there, as the C++ side
  says) -- of dimension K, with the model's own spelling of the layer in its run;
- the space is found by either spelling (the model's dotted name, or the stored id);
- the run holds K thresholds and the exported preprocessing's input size.

Needs NET2VEC_INGEST and NET2VEC_MAKE_FIXTURE (ctest python_families_ingest sets them);
exits 77 without them or without torch/torchvision.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_util as eu  # noqa: E402

INGEST = os.environ.get("NET2VEC_INGEST", "")
MAKE_FIXTURE = os.environ.get("NET2VEC_MAKE_FIXTURE", "")
READY = eu.have_torchvision() and os.path.isfile(INGEST) and os.path.isfile(MAKE_FIXTURE)


def layer_id(name):
    """The C++ layer_id() for the short names used here (no cut: all are under 64 chars)."""
    out = "".join(c if (c.isascii() and (c.isalnum() or c in "_-")) else ("-" if c == "." else "_")
                  for c in name)
    assert len(out) <= 64
    return out


def run(args):
    return subprocess.run(args, capture_output=True, text=True)


@unittest.skipIf(not READY, "needs torch, torchvision, NET2VEC_INGEST and NET2VEC_MAKE_FIXTURE")
class FamilyIngestTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="n2v-families-")
        subprocess.run([MAKE_FIXTURE, cls.dir], check=True, capture_output=True)
        cls.probe = os.path.join(cls.dir, "probe")
        cls.db = os.path.join(cls.dir, "catalog.db")

    def check_family(self, family, layers, size):
        import torch
        import net2vec

        path = eu.export_model(["--torchvision", family, "--random-weights", "--layers", ",".join(layers),
                                "--input-size", str(size)], self.dir, f"{family}.pt")
        module = torch.jit.load(path)
        self.assertEqual(list(module.net2vec_layers), layers)
        info = {l["name"]: l for l in json.loads(module.net2vec_export)["layers"]}
        shapes = {name: tuple(info[name]["shape"]) for name in layers}

        listing = run([INGEST, "--list-layers", "--model", path])
        self.assertEqual(listing.returncode, 0, listing.stdout + listing.stderr)
        for name, (k, h, w) in shapes.items():
            self.assertIn(f"  {name}  {layer_id(name)}  {k} x {h} x {w}", listing.stdout)

        # Layers with maps get both tasks; 1 x 1 ones classification only (one ingest each).
        spatial = [n for n in layers if shapes[n][1] * shapes[n][2] > 1]
        flat = [n for n in layers if n not in spatial]
        common = ["--probe", self.probe, "--model", path, "--network", family, "--db", self.db,
                  "--epochs", "1", "--cls-epochs", "1", "--seg-subsets", "", "--cls-subsets", "",
                  "--quantile", "0.05", "--progress", "none"]
        for group, tasks in ((spatial, "seg,cls"), (flat, "cls")):
            if not group:
                continue
            r = run([INGEST, "--layer", ",".join(group), "--tasks", tasks] + common)
            self.assertEqual(r.returncode, 0, f"{family} {group}:\n{r.stdout}{r.stderr}")
        if flat:  # and segmentation of a 1 x 1 layer is refused, saying why
            r = run([INGEST, "--layer", flat[0], "--tasks", "seg"] + common)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn("--tasks cls", r.stderr)

        with net2vec.open(self.db) as cat:
            for name in layers:
                k = shapes[name][0]
                tasks = ("seg", "cls") if name in spatial else ("cls",)
                for task in ("seg", "cls"):
                    sid = f"{family}.{layer_id(name)}.{task}"
                    ids = [s.id for s in cat.spaces()]
                    if task not in tasks:
                        self.assertNotIn(sid, ids)
                        continue
                    self.assertIn(sid, ids)
                    space = cat.space(f"{family}.{name}.{task}")  # the model's spelling
                    self.assertEqual(space.id, sid)
                    self.assertEqual(space.dim, k)
                    self.assertEqual(space.model_layer, name)
                    self.assertGreater(space.concept_count, 0)
                    names, vectors = cat.vectors(sid)
                    self.assertEqual(vectors.shape, (len(names), k))
                    self.assertEqual(len(cat.thresholds(sid)), k)
                    run_info = cat.run(sid)
                    self.assertEqual(run_info.preprocessing["height"], size)


def _add(family, layers, size):
    def test(self):
        self.check_family(family, layers, size)
    test.__name__ = f"test_{family}"
    setattr(FamilyIngestTests, test.__name__, test)


for _family, _layers, _size in eu.FAMILIES:
    _add(_family, _layers, _size)


if __name__ == "__main__":
    if not READY:
        print("skipped: needs torch, torchvision, NET2VEC_INGEST and NET2VEC_MAKE_FIXTURE")
        sys.exit(77)
    unittest.main()
