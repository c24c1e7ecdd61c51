"""net2vec.open / net2vec.Catalog (python/net2vec/catalog.py) against catalogs the real tools
write: `make-service-catalog` (tests/service: three network spaces with every score the
ingest stores, and a WordNet reference space). Every expected value is read here with plain
sqlite3 from the same file; nothing is hard-coded.

    PYTHONPATH=python NET2VEC_MAKE_CATALOG=build/tests/service/make-service-catalog \
        /usr/bin/python3 -m unittest -v tests/python/test_catalog.py
"""

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest
import warnings

import numpy as np

import net2vec

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def tool(env_name, default):
    """A built binary: $env_name (ctest sets it) or its place in build/."""
    path = os.environ.get(env_name) or os.path.join(ROOT, default)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is missing: build it (cmake --build build --target "
                           f"{os.path.basename(path)}) or set {env_name}")
    return path


def make_catalog(path):
    """The service test catalog, written by the real catalog code."""
    exe = tool("NET2VEC_MAKE_CATALOG", "build/tests/service/make-service-catalog")
    subprocess.run([exe, path], check=True, stdout=subprocess.DEVNULL, timeout=120)
    return path


def raw(db, sql, args=()):
    with contextlib.closing(sqlite3.connect(db)) as c:
        return c.execute(sql, args).fetchall()


@contextlib.contextmanager
def writing(path):
    """A read-write connection to path, committed and closed at the end."""
    c = sqlite3.connect(path, timeout=5)
    try:
        yield c
        c.commit()
    finally:
        c.close()


def copy_catalog(src, dst):
    with contextlib.closing(sqlite3.connect(src)) as a, contextlib.closing(sqlite3.connect(dst)) as b:
        a.backup(b)
    return dst


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def typo(word):
    """word with two neighbouring letters swapped (a name that does not exist but is close)."""
    i = max(1, len(word) // 2)
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1:]


class CatalogTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="n2v-pycat.")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.db = make_catalog(os.path.join(cls.tmp, "catalog.db"))
        cls.space_rows = raw(cls.db, "SELECT id, kind, dim, run_id, task FROM space ORDER BY id")
        assert cls.space_rows, "the service catalog has no spaces"

    def setUp(self):
        self.cat = net2vec.open(self.db)
        self.addCleanup(self.cat.close)

    def network_spaces(self):
        return [r for r in self.space_rows if r[1] == "network"]

    # ---- what the catalog stores, unchanged ----

    def test_vectors_are_the_stored_bytes(self):
        for sid, _, dim, _, _ in self.space_rows:
            with self.subTest(space=sid):
                names, w = self.cat.vectors(sid)
                stored = raw(self.db, "SELECT c.name, c.number, e.vector FROM embedding e JOIN concept c"
                                      " ON c.id = e.concept_id WHERE e.space_id = ?", (sid,))
                self.assertGreater(len(stored), 0)
                self.assertEqual(w.dtype, np.float32)
                self.assertEqual(w.shape, (len(stored), dim))
                self.assertEqual(len(set(names)), len(names))
                blob = {name: b for name, _, b in stored}
                self.assertEqual(set(names), set(blob))
                for i, name in enumerate(names):
                    self.assertEqual(np.frombuffer(blob[name], "<f4").tobytes(), blob[name])
                    self.assertEqual(w[i].tobytes(), blob[name], name)
                number = {name: n for name, n, _ in stored}
                self.assertEqual([number[n] for n in names], sorted(number[n] for n in names))
                # one concept alone: the same bytes
                self.assertEqual(self.cat.vector(sid, names[-1]).tobytes(), blob[names[-1]])

    def test_spaces_are_the_stored_rows(self):
        spaces = self.cat.spaces()
        stored = raw(self.db, "SELECT v.id, v.network, v.layer, v.task, v.dim, v.concept_count, v.kind, v.source,"
                              " v.created_at, s.run_id, r.layer FROM space_summary v JOIN space s ON s.id = v.id"
                              " LEFT JOIN run r ON r.id = s.run_id ORDER BY v.id")
        self.assertEqual(len(spaces), len(stored))
        for s, row in zip(spaces, stored):
            self.assertEqual((s.id, s.network, s.layer, s.task, s.dim, s.concept_count, s.kind, s.source,
                              s.created_at, s.run_id, s.model_layer), row)
            self.assertEqual(s.metric, {"segmentation": "set_iou", "classification": "balanced_accuracy"}.get(s.task))
            self.assertEqual(self.cat.space(s.id), s)
            self.assertEqual(s.as_dict()["id"], s.id)

    def test_scores_are_the_stored_columns(self):
        columns = ["number", "name", "category", "categories", "train_count", "val_count", "set_iou_train",
                   "set_iou_val", "accuracy_train", "accuracy_val", "best_filter", "best_filter_train",
                   "best_filter_val", "alpha", "bias"]
        for sid, kind, _, _, task in self.space_rows:
            with self.subTest(space=sid):
                concepts = self.cat.concepts(sid)
                stored = raw(self.db, "SELECT " + ", ".join(("c." if col in ("number", "name", "category", "categories")
                                                             else "e.") + col for col in columns) +
                             " FROM embedding e JOIN concept c ON c.id = e.concept_id WHERE e.space_id = ?", (sid,))
                by_name = {row[1]: row for row in stored}
                self.assertEqual(sorted(c.name for c in concepts), sorted(by_name))
                for c in concepts:
                    self.assertEqual(tuple(getattr(c, col) for col in columns), by_name[c.name])
                    learned = {"segmentation": (c.set_iou_train, c.set_iou_val),
                               "classification": (c.accuracy_train, c.accuracy_val)}.get(task, (None, None))
                    self.assertEqual((c.score_train, c.score_val), learned)
                    if kind == "network":
                        self.assertIsNotNone(c.score_val)
                self.assertEqual(self.cat.concept(sid, concepts[0].name), concepts[0])
                category = concepts[0].category
                self.assertEqual([c.name for c in self.cat.concepts(sid, category=category)],
                                 [c.name for c in concepts if c.category == category])

    def test_intervals_and_p_are_the_stored_columns(self):
        # Schema version 7: the service catalog stores them for 6 concepts in 7, NULL for the rest.
        cols = ["score_val_low", "score_val_high", "score_val_p", "score_val_null_mean", "best_filter_val_low",
                "best_filter_val_high", "best_filter_val_p", "best_filter_val_null_mean"]
        seen_some = seen_none = False
        for sid, kind, _, _, _ in self.space_rows:
            stored = {row[0]: row[1:] for row in raw(
                self.db, "SELECT c.name, " + ", ".join("e." + c for c in cols) +
                " FROM embedding e JOIN concept c ON c.id = e.concept_id WHERE e.space_id = ?", (sid,))}
            for c in self.cat.concepts(sid):
                lo, hi, p, m, blo, bhi, bp, bm = stored[c.name]
                self.assertEqual(c.score_val_interval, None if lo is None else (lo, hi))
                self.assertEqual((c.score_val_p, c.score_val_null_mean), (p, m))
                self.assertEqual(c.best_filter_val_interval, None if blo is None else (blo, bhi))
                self.assertEqual((c.best_filter_val_p, c.best_filter_val_null_mean), (bp, bm))
                seen_some |= lo is not None
                seen_none |= kind == "network" and lo is None
        self.assertTrue(seen_some and seen_none)

    def test_thresholds_one_per_filter(self):
        for sid, _, dim, run_id, _ in self.network_spaces():
            with self.subTest(space=sid):
                t = self.cat.thresholds(sid)
                self.assertEqual(t.shape, (dim,))
                stored = raw(self.db, "SELECT filter, value FROM threshold WHERE run_id = ? ORDER BY filter", (run_id,))
                self.assertEqual([f for f, _ in stored], list(range(dim)))
                self.assertEqual(t.tolist(), [v for _, v in stored])

    def test_filter_iou_is_the_stored_blob(self):
        for sid, _, dim, _, task in self.space_rows:
            with self.subTest(space=sid):
                names, m = self.cat.filter_iou(sid)
                self.assertEqual(m.shape, (len(names), dim))
                blob = dict(raw(self.db, "SELECT c.name, e.filter_iou_val FROM embedding e JOIN concept c"
                                         " ON c.id = e.concept_id WHERE e.space_id = ?", (sid,)))
                self.assertEqual(set(names), set(blob))
                for i, name in enumerate(names):
                    if blob[name] is None:
                        self.assertTrue(np.isnan(m[i]).all(), name)
                    else:
                        self.assertEqual(m[i].tobytes(), blob[name], name)
                self.assertEqual(task == "segmentation", any(b is not None for b in blob.values()))

    def test_subset_scores_are_the_stored_rows(self):
        for sid, _, _, _, _ in self.space_rows:
            with self.subTest(space=sid):
                sweep = self.cat.subset_scores(sid)
                stored = raw(self.db, "SELECT c.name, s.filters, s.score FROM subset_score s JOIN embedding e"
                                      " ON e.id = s.embedding_id JOIN concept c ON c.id = e.concept_id"
                                      " WHERE e.space_id = ?", (sid,))
                expected = {}
                for name, f, score in stored:
                    expected.setdefault(name, []).append((f, score))
                self.assertEqual({n: p for n, p in sweep.items() if p}, {n: sorted(p) for n, p in expected.items()})
                self.assertEqual(len(sweep), raw(self.db, "SELECT count(*) FROM embedding WHERE space_id = ?",
                                                 (sid,))[0][0])

    def test_run_is_the_stored_row(self):
        for sid, _, dim, run_id, _ in self.network_spaces():
            with self.subTest(space=sid):
                run = self.cat.run(sid)
                (row,) = raw(self.db, "SELECT r.id, n.name, r.model_path, r.layer, r.device, r.software_version,"
                                      " r.seed, r.tau, r.params, r.preprocessing, r.timings, r.started_at,"
                                      " r.finished_at, r.images_used, r.images_skipped, r.filter_count,"
                                      " p.name, p.path, p.categories, p.content_hash, r.top_images, r.model_sha256"
                                      " FROM run r"
                                      " JOIN network n ON n.id = r.network_id"
                                      " JOIN probe_set p ON p.id = r.probe_set_id WHERE r.id = ?", (run_id,))
                parse = lambda t: None if t is None else json.loads(t)  # noqa: E731
                self.assertEqual((run.id, run.network, run.model_path, run.layer, run.device, run.software_version,
                                  run.seed, run.tau, run.params, run.preprocessing, run.timings, run.started_at,
                                  run.finished_at, run.images_used, run.images_skipped, run.filter_count),
                                 row[:8] + (parse(row[8]), parse(row[9]), parse(row[10])) + row[11:16])
                self.assertEqual(run.filter_count, dim)
                self.assertEqual((run.probe_set["name"], run.probe_set["path"], run.probe_set["categories"],
                                  run.probe_set["content_hash"]), (row[16], row[17], json.loads(row[18]), row[19]))
                self.assertEqual((run.top_images, run.model_sha256), (row[20], row[21]))

    def test_per_image_results_are_the_stored_rows(self):
        for sid, _, _, _, task in self.space_rows:
            with self.subTest(space=sid):
                names, _ = self.cat.vectors(sid)
                name = names[len(names) // 2]
                ious = self.cat.image_iou(sid, name)
                stored = raw(self.db, "SELECT p.row, p.path, i.learned, i.single FROM image_iou i"
                                      " JOIN probe_image p ON p.id = i.probe_image_id JOIN embedding e"
                                      " ON e.id = i.embedding_id JOIN concept c ON c.id = e.concept_id"
                                      " WHERE e.space_id = ? AND c.name = ?", (sid, name))
                self.assertEqual([(i.row, i.path, i.learned, i.single) for i in ious], sorted(stored))
                self.assertEqual(task == "segmentation", len(ious) > 0)
                masks = self.cat.predicted_masks(sid, name)
                stored = raw(self.db, "SELECT p.row, m.height, m.width, m.learned, m.single FROM predicted_mask m"
                                      " JOIN probe_image p ON p.id = m.probe_image_id JOIN embedding e"
                                      " ON e.id = m.embedding_id JOIN concept c ON c.id = e.concept_id"
                                      " WHERE e.space_id = ? AND c.name = ?", (sid, name))
                self.assertEqual(len(masks), len(stored))
                self.assertEqual(task == "segmentation", len(masks) > 0)
                for m, (row, h, w, learned, single) in zip(masks, sorted(stored)):
                    self.assertEqual((m.row, m.learned.shape, m.single.shape), (row, (h, w), (h, w)))
                    self.assertEqual(np.packbits(m.learned.ravel(), bitorder="little").tobytes(), learned)
                    self.assertEqual(np.packbits(m.single.ravel(), bitorder="little").tobytes(), single)

    # ---- finding spaces ----

    def renamed_copy(self):
        """A copy where the first network space's run names its layer as a model with nested
        modules would ("L.1.conv") and its spaces carry the URL-safe id part ("L-1-conv"), as
        ingest stores a layer with dots. Returns (path, network, model layer, id part, run id)."""
        path = copy_catalog(self.db, os.path.join(self.tmp, "renamed.db"))
        (network, layer, run_id), = raw(self.db, "SELECT s.network, r.layer, r.id FROM space s JOIN run r"
                                                 " ON r.id = s.run_id ORDER BY s.id LIMIT 1")
        model_layer, part = layer + ".1.conv", layer + "-1-conv"
        with writing(path) as c:
            c.execute("UPDATE run SET layer = ? WHERE id = ?", (model_layer, run_id))
            for old, task in c.execute("SELECT id, task FROM space WHERE run_id = ?", (run_id,)).fetchall():
                new = f"{network}.{part}.{task[:3] if task == 'segmentation' else 'cls'}"
                c.execute("UPDATE space SET id = ?, layer = ? WHERE id = ?", (new, part, old))
                c.execute("UPDATE embedding SET space_id = ? WHERE space_id = ?", (new, old))
        return path, network, model_layer, part, run_id

    def test_space_by_the_models_spelling_of_the_layer(self):
        path, network, model_layer, part, run_id = self.renamed_copy()
        old_ids = {task: sid for sid, _, _, r, task in self.space_rows if r == run_id}
        self.assertIn("segmentation", old_ids)
        with net2vec.open(path) as cat:
            by_id = cat.space(f"{network}.{part}.seg")
            self.assertEqual((by_id.layer, by_id.model_layer, by_id.run_id), (part, model_layer, run_id))
            for key in (f"{network}.{model_layer}.seg", f"{network}.{model_layer}.segmentation"):
                self.assertEqual(cat.space(key), by_id)
            self.assertEqual(cat.space(network=network, layer=model_layer, task="seg"), by_id)
            self.assertEqual(cat.space(network=network, layer=part, task="segmentation"), by_id)
            names, w = cat.vectors(f"{network}.{model_layer}.seg")
            names0, w0 = self.cat.vectors(old_ids["segmentation"])
            self.assertEqual((names, w.tobytes()), (names0, w0.tobytes()))
            self.assertEqual(cat.thresholds(f"{network}.{model_layer}.seg").tolist(),
                             self.cat.thresholds(old_ids["segmentation"]).tolist())
            if "classification" in old_ids:
                self.assertEqual(cat.space(f"{network}.{model_layer}.cls").id, f"{network}.{part}.cls")
            with self.assertRaises(net2vec.CatalogError) as e:
                cat.space(f"{network}.{typo(model_layer)}.seg")
            self.assertIn(f"{network}.{model_layer}.seg", e.exception.suggestions)

    def test_exact_id_comes_first(self):
        # Space b (another network) is renamed to a.network + "." + b.layer, and a's run calls
        # its layer b.layer: that id is then exact for b and a's model spelling as well.
        seg = raw(self.db, "SELECT s.id, s.network, s.layer, s.run_id, s.dim FROM space s"
                           " WHERE s.task = 'segmentation' ORDER BY s.id")
        a = seg[0]
        b = next(r for r in seg if r[1] != a[1] and r[4] != a[4])
        exact = f"{a[1]}.{b[2]}.seg"
        path = copy_catalog(self.db, os.path.join(self.tmp, "exact.db"))
        with writing(path) as c:
            c.execute("UPDATE space SET id = ?, network = ? WHERE id = ?", (exact, a[1], b[0]))
            c.execute("UPDATE embedding SET space_id = ? WHERE space_id = ?", (exact, b[0]))
            c.execute("UPDATE run SET layer = ? WHERE id = ?", (b[2], a[3]))
        with net2vec.open(path) as cat:
            s = cat.space(exact)
            self.assertEqual((s.id, s.dim), (exact, b[4]))

    # ---- errors ----

    def test_unknown_space_lists_close_names(self):
        for sid, *_ in self.space_rows:
            wrong = typo(sid)
            with self.subTest(space=wrong):
                if wrong in {r[0] for r in self.space_rows}:
                    continue
                with self.assertRaises(net2vec.CatalogError) as e:
                    self.cat.vectors(wrong)
                self.assertIn(sid, e.exception.suggestions)
                self.assertIn(f"'{wrong}'", str(e.exception))
                self.assertIn("did you mean", str(e.exception))
                self.assertIn(self.db, str(e.exception))

    def test_unknown_concept_lists_close_names(self):
        sid = self.network_spaces()[0][0]
        names, _ = self.cat.vectors(sid)
        name = max(names, key=len)
        with self.assertRaises(net2vec.CatalogError) as e:
            self.cat.image_iou(sid, typo(name))
        self.assertIn(name, e.exception.suggestions)
        self.assertIn(sid, str(e.exception))

    def test_reference_space_has_no_run(self):
        refs = [r[0] for r in self.space_rows if r[1] == "reference"]
        self.assertTrue(refs, "the service catalog has a WordNet space")
        with self.assertRaises(net2vec.CatalogError):
            self.cat.thresholds(refs[0])
        with self.assertRaises(net2vec.CatalogError):
            self.cat.run(refs[0])

    def test_missing_file(self):
        path = os.path.join(self.tmp, "no-such.db")
        with self.assertRaises(net2vec.CatalogError) as e:
            net2vec.open(path)
        self.assertIn(path, str(e.exception))
        self.assertFalse(os.path.exists(path), "opening must not create the file")

    def test_sqlite_file_that_is_not_a_catalog(self):
        path = os.path.join(self.tmp, "other.db")
        with writing(path) as c:
            c.execute("CREATE TABLE space (id TEXT)")
            c.execute("PRAGMA user_version = 3")
        before = file_bytes(path)
        with self.assertRaises(net2vec.CatalogError) as e:
            net2vec.open(path)
        self.assertIn(path, str(e.exception))
        self.assertIn("not a net2vec catalog", str(e.exception))
        self.assertEqual(file_bytes(path), before)

    def test_file_that_is_not_sqlite(self):
        path = os.path.join(self.tmp, "notes.db")
        with open(path, "w") as f:
            f.write("id\tname\n" * 200)
        with self.assertRaises(net2vec.CatalogError) as e:
            net2vec.open(path)
        self.assertIn(path, str(e.exception))
        self.assertIn("not a net2vec catalog", str(e.exception))

    def test_newer_schema_warns(self):
        path = os.path.join(self.tmp, "newer.db")
        copy_catalog(self.db, path)
        with writing(path) as c:
            c.execute(f"PRAGMA user_version = {net2vec.catalog.KNOWN_SCHEMA_VERSION + 1}")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with net2vec.open(path) as cat:
                self.assertEqual(len(cat.spaces()), len(self.space_rows))
        self.assertTrue(any("newer" in str(w.message) for w in caught))

    def test_known_schema_version_is_the_latest_migration(self):
        versions = [int(f[:3]) for f in os.listdir(os.path.join(ROOT, "sql")) if f[:3].isdigit()]
        self.assertEqual(net2vec.catalog.KNOWN_SCHEMA_VERSION, max(versions))
        self.assertEqual(self.cat.schema_version, raw(self.db, "PRAGMA user_version")[0][0])

    # ---- read-only, one snapshot per request ----

    def test_read_only(self):
        digest = hashlib.sha256(file_bytes(self.db)).hexdigest()
        for s in self.cat.spaces():
            self.cat.vectors(s.id)
            self.cat.concepts(s.id)
        with self.assertRaises(sqlite3.OperationalError):
            self.cat._db.execute("CREATE TABLE scribble (x)")
        self.assertEqual(hashlib.sha256(file_bytes(self.db)).hexdigest(), digest)

    def test_one_snapshot_under_a_concurrent_writer(self):
        path = os.path.join(self.tmp, "live.db")
        copy_catalog(self.db, path)
        with writing(path) as c:
            self.assertEqual(c.execute("PRAGMA journal_mode = WAL").fetchone()[0], "wal")
        sid = self.network_spaces()[0][0]
        cat = net2vec.open(path)
        self.addCleanup(cat.close)
        _, before = cat.vectors(sid)
        real = cat._db

        class WriteBetweenStatements:
            """Commits a rewrite of every vector of the space right after the reader's first
            statement about the space, before it reads the vectors."""
            fired = False

            def execute(self, sql, *args):
                cursor = real.execute(sql, *args)
                if not self.fired and "FROM space s" in sql:
                    self.fired = True
                    with writing(path) as w:
                        w.execute("UPDATE embedding SET vector = zeroblob(length(vector)) WHERE space_id = ?", (sid,))
                return cursor

            def __getattr__(self, name):
                return getattr(real, name)

        cat._db = WriteBetweenStatements()
        _, during = cat.vectors(sid)
        self.assertTrue(cat._db.fired)
        cat._db = real
        self.assertEqual(during.tobytes(), before.tobytes(), "the vectors must come from the snapshot the request began")
        _, after = cat.vectors(sid)
        self.assertFalse(after.any(), "the writer's commit shows in the next request")
        self.assertTrue(before.any())

    def test_context_manager_closes(self):
        with net2vec.open(self.db) as cat:
            self.assertEqual(len(cat.spaces()), len(self.space_rows))
        with self.assertRaises(sqlite3.ProgrammingError):
            cat.spaces()


if __name__ == "__main__":
    unittest.main()
