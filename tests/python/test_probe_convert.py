"""net2vec-probe's converters end to end on small synthetic sources: coco, labelmap, folders,
merge; the split, --min-images, the numbering and the refusals of bad input.

Each converted set is read back from disk (index.csv, label.csv, the mask PNGs as net2vec
reads them: label = R + 256*G) and every concept's target mask (the union over its image's
mask files, as src/probe/annotations.cpp builds it) is compared with one drawn by hand.
Exits 77 without numpy or PIL.
"""

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))

try:
    import numpy as np
    from PIL import Image
    from net2vec.probe import broden, cli, imageio, rle
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"tests/python/test_probe_convert.py: {e}: skipped")
    sys.exit(77)

TOOL = os.path.join(REPO, "tools", "net2vec-probe")


def drawn(text: str) -> np.ndarray:
    rows = [r.strip() for r in text.strip().splitlines()]
    return np.array([[c == "#" for c in r] for r in rows], dtype=bool)


def run(argv):
    """net2vec.probe's main in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def save_rgb(path, h, w, colour=(90, 90, 90)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    a = np.zeros((h, w, 3), np.uint8)
    a[:] = colour
    Image.fromarray(a).save(path)


class ReadBack:
    """A written probe set as net2vec sees it."""

    def __init__(self, d):
        self.dir = d
        self.set = broden.read(d)
        self.by_name = {lab.name: lab for lab in self.set.labels.values()}
        self.rows = {r.image: r for r in self.set.rows}

    def label_rows(self, name):
        with open(os.path.join(self.dir, "label.csv"), newline="") as f:
            return [r for r in csv.DictReader(f) if r["name"] == name]

    def target(self, image, name):
        """The union over the image's mask files of (label == concept)."""
        row = self.rows[image]
        number = self.by_name[name].number
        m = np.zeros((row.sh, row.sw), bool)
        for files in row.masks.values():
            for rel in files:
                m |= imageio.read_label_png(os.path.join(self.dir, "images", rel), rel) == number
        return m

    def whole(self, image):
        row = self.rows[image]
        return sorted(self.set.labels[n].name for ns in row.whole.values() for n in ns)


class ConvertTestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="n2v-probe-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def convert(self, argv):
        code, out, err = run(argv)
        self.assertEqual(code, 0, f"{argv}\n{out}{err}")
        return out, err

    def assertMask(self, got, want):
        show = lambda m: "\n".join("".join("#" if v else "." for v in r) for r in m)  # noqa
        self.assertTrue(np.array_equal(got, want), f"\nexpected:\n{show(want)}\ngot:\n{show(got)}")


# --------------------------------------------------------------------------------------
# COCO

BOX = [1, 1, 5, 1, 5, 4, 1, 4]  # columns 1..4, rows 1..3 on an 8 x 6 image


class CocoTests(ConvertTestCase):
    def write_coco(self, annotations, n_images=2, categories=None):
        images = []
        for i in range(n_images):
            save_rgb(self.path("src", f"im{i}.png"), 6, 8)
            images.append({"id": i + 1, "file_name": f"im{i}.png", "height": 6, "width": 8})
        cats = categories or [{"id": 3, "name": "dog", "supercategory": "animal"},
                              {"id": 7, "name": "cat", "supercategory": "animal"},
                              {"id": 9, "name": "traffic light", "supercategory": "outdoor"}]
        doc = {"images": images, "annotations": annotations, "categories": cats}
        path = self.path("src", "ann.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def coco(self, ann, *extra, out="out"):
        return ["coco", "--annotations", ann, "--images", self.path("src"), "--out",
                self.path(out), "--size", "0", "--mask-scale", "1", "--min-images", "1",
                "-q", *extra]

    def test_polygons_rles_crowd_and_overlaps(self):
        # Image 1: two dog instances overlapping (a box and a triangle, one polygon each), a
        # cat (uncompressed RLE) overlapping the dog box, a traffic light crowd region
        # (compressed RLE) and a second traffic light as two polygons in one annotation.
        cat = drawn("""
            ........
            ........
            ...###..
            ...###..
            ........
            ........
        """)
        crowd = drawn("""
            ......##
            ......##
            ........
            ........
            ........
            ........
        """)
        anns = [
            {"id": 1, "image_id": 1, "category_id": 3, "segmentation": [BOX], "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 3, "segmentation": [[0, 3, 4, 6, 0, 6]]},
            {"id": 3, "image_id": 1, "category_id": 7, "iscrowd": 0,
             "segmentation": {"size": [6, 8], "counts": rle.encode_counts(cat)}},
            {"id": 4, "image_id": 1, "category_id": 9, "iscrowd": 1,
             "segmentation": {"size": [6, 8],
                              "counts": rle.counts_to_string(rle.encode_counts(crowd))}},
            {"id": 5, "image_id": 1, "category_id": 9, "iscrowd": 0,
             "segmentation": [[7, 4, 8, 4, 8, 6, 7, 6], [5, 5, 6, 5, 6, 6, 5, 6]]},
        ]
        ann = self.write_coco(anns)
        self.convert(self.coco(ann))
        got = ReadBack(self.path("out"))
        # Numbering: one category, concepts by name.
        self.assertEqual([(lab.number, lab.name, lab.category) for lab in got.set.labels.values()],
                         [(1, "cat", "object"), (2, "dog", "object"),
                          (3, "traffic light", "object")])
        # The triangle (0,3)-(4,6)-(0,6): rows 3.5, 4.5, 5.5 end at x = 0.67, 2, 3.33.
        self.assertMask(got.target("coco/im0.png", "dog"), drawn("""
            ........
            .####...
            .####...
            #####...
            ##......
            ###.....
        """))
        self.assertMask(got.target("coco/im0.png", "cat"), cat)
        self.assertMask(got.target("coco/im0.png", "traffic light"), drawn("""
            ......##
            ......##
            ........
            ........
            .......#
            .....#.#
        """))
        # dog and cat overlap: two layers of the object column, each concept whole.
        row = got.rows["coco/im0.png"]
        self.assertEqual(row.masks["object"], ["coco/im0_object.png", "coco/im0_object_2.png"])
        # Image 2 has no annotation: kept, without masks (a negative for classification).
        self.assertEqual(got.rows["coco/im1.png"].masks, {})
        with open(self.path("out", "concepts.csv"), newline="") as f:
            concepts = list(csv.DictReader(f))
        self.assertEqual([(c["name"], c["supercategory"], c["source"]) for c in concepts],
                         [("cat", "animal", "coco:7"), ("dog", "animal", "coco:3"),
                          ("traffic light", "outdoor", "coco:9")])
        self.assertEqual(got.label_rows("dog")[0]["category"], "object(1)")
        # The images are copied byte for byte when they keep their size.
        with open(self.path("src", "im0.png"), "rb") as a, \
                open(self.path("out", "images", "coco", "im0.png"), "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_crowd_skip(self):
        crowd = np.zeros((6, 8), bool)
        crowd[0:2, 0:3] = True
        anns = [{"id": 1, "image_id": 1, "category_id": 3, "segmentation": [BOX]},
                {"id": 2, "image_id": 1, "category_id": 3, "iscrowd": 1,
                 "segmentation": {"size": [6, 8], "counts": rle.encode_counts(crowd)}}]
        ann = self.write_coco(anns)
        self.convert(self.coco(ann, out="with"))
        self.convert(self.coco(ann, "--crowd", "skip", out="without"))
        box = np.zeros((6, 8), bool)
        box[1:4, 1:5] = True
        self.assertMask(ReadBack(self.path("with")).target("coco/im0.png", "dog"), box | crowd)
        self.assertMask(ReadBack(self.path("without")).target("coco/im0.png", "dog"), box)

    def test_resize_and_half_size_masks(self):
        # --size 16 on an 8 x 6 image, masks 8 x 8: the box (1,1)-(5,4) scales by 8/8 and
        # 8/6; rows: centres 0.5..7.5 in [1.33, 5.33) -> rows 1..4, columns 1..4.
        ann = self.write_coco([{"id": 1, "image_id": 1, "category_id": 3,
                                "segmentation": [BOX]}])
        argv = self.coco(ann)
        argv[argv.index("--size") + 1] = "16"
        argv[argv.index("--mask-scale") + 1] = "0.5"
        self.convert(argv)
        got = ReadBack(self.path("out"))
        row = got.rows["coco/im0.png"]
        self.assertEqual((row.ih, row.iw, row.sh, row.sw), (16, 16, 8, 8))
        with Image.open(self.path("out", "images", row.image)) as im:
            self.assertEqual(im.size, (16, 16))
        want = np.zeros((8, 8), bool)
        want[1:5, 1:5] = True
        self.assertMask(got.target("coco/im0.png", "dog"), want)


# --------------------------------------------------------------------------------------
# Label maps

class LabelmapTests(ConvertTestCase):
    def test_label_maps_with_categories_shared_names_and_ignore(self):
        ids = np.array([[0, 0, 7, 7, 255],
                        [0, 3, 7, 7, 255],
                        [12, 3, 3, 4, 4],
                        [12, 12, 0, 4, 4]], dtype=np.uint8)
        os.makedirs(self.path("masks", "a"))
        Image.fromarray(ids, "L").save(self.path("masks", "a", "x.png"))
        save_rgb(self.path("imgs", "a", "x.jpg"), 4, 5)
        # A second image whose mask is a palette PNG: its indices are the ids.
        pal = Image.fromarray(np.array([[3, 3, 0, 0, 12]] * 4, np.uint8), "P")
        pal.putpalette([0, 0, 0, 255, 0, 0] * 128)
        pal.save(self.path("masks", "y.png"))
        save_rgb(self.path("imgs", "y.png"), 4, 5)
        with open(self.path("labels.csv"), "w") as f:
            f.write("id,name,category\n0,background,\n3,person,object\n7,sky,stuff\n"
                    "4,person,object\n12,grass,stuff\n")
        self.convert(["labelmap", "--masks", self.path("masks"), "--labels",
                      self.path("labels.csv"), "--images", self.path("imgs"), "--ignore", "255",
                      "--out", self.path("out"), "--size", "0", "--mask-scale", "1",
                      "--min-images", "1", "-q"])
        got = ReadBack(self.path("out"))
        # Categories by first appearance in the CSV (object for the empty cell, then stuff),
        # names sorted within each; ids 3 and 4 share "person".
        self.assertEqual([(lab.number, lab.category, lab.name)
                          for lab in got.set.labels.values()],
                         [(1, "object", "background"), (2, "object", "person"),
                          (3, "stuff", "grass"), (4, "stuff", "sky")])
        self.assertEqual(got.set.categories, ["object", "stuff"])
        img = "labelmap/a/x.jpg"
        self.assertEqual(got.rows[img].masks, {"object": ["labelmap/a/x_object.png"],
                                              "stuff": ["labelmap/a/x_stuff.png"]})
        self.assertMask(got.target(img, "person"), ids_in(ids, 3, 4))
        self.assertMask(got.target(img, "sky"), ids_in(ids, 7))
        self.assertMask(got.target(img, "grass"), ids_in(ids, 12))
        self.assertMask(got.target(img, "background"), ids_in(ids, 0))
        # 255 is unlabelled in every map.
        for files in got.rows[img].masks.values():
            for rel in files:
                labels = imageio.read_label_png(os.path.join(self.path("out"), "images", rel), "")
                self.assertTrue((labels[ids == 255] == 0).all())
        self.assertMask(got.target("labelmap/y.png", "person"),
                        np.array([[1, 1, 0, 0, 0]] * 4, bool))

    def test_cityscapes_suffixes(self):
        os.makedirs(self.path("gt", "city"))
        Image.fromarray(np.full((2, 3), 26, np.uint8), "L").save(
            self.path("gt", "city", "c_000_gtFine_labelIds.png"))
        save_rgb(self.path("left", "city", "c_000_leftImg8bit.png"), 2, 3)
        with open(self.path("labels.csv"), "w") as f:
            f.write("id,name\n26,car\n")
        self.convert(["labelmap", "--masks", self.path("gt"), "--labels", self.path("labels.csv"),
                      "--images", self.path("left"), "--mask-suffix", "_gtFine_labelIds",
                      "--image-suffix", "_leftImg8bit", "--out", self.path("out"), "--size", "0",
                      "--mask-scale", "1", "--min-images", "1", "-q"])
        got = ReadBack(self.path("out"))
        self.assertMask(got.target("labelmap/city/c_000_leftImg8bit.png", "car"),
                        np.ones((2, 3), bool))


def ids_in(ids, *values):
    return np.isin(ids, values)


# --------------------------------------------------------------------------------------
# Image-level concepts

class FoldersTests(ConvertTestCase):
    def test_root_folders(self):
        for concept, n in (("beach", 3), ("forest", 2)):
            for i in range(n):
                save_rgb(self.path("root", concept, f"{i}.jpg"), 10, 12)
        with open(self.path("root", "beach", "notes.txt"), "w") as f:
            f.write("not an image")
        self.convert(["folders", "--root", self.path("root"), "--category", "scene",
                      "--out", self.path("out"), "--size", "20", "--min-images", "1", "-q"])
        got = ReadBack(self.path("out"))
        self.assertEqual(got.set.categories, ["scene"])
        self.assertEqual([(lab.number, lab.name) for lab in got.set.labels.values()],
                         [(1, "beach"), (2, "forest")])
        self.assertEqual(len(got.rows), 5)
        self.assertEqual(got.whole("folders/beach/0.jpg"), ["beach"])
        self.assertEqual(got.whole("folders/forest/1.jpg"), ["forest"])
        row = got.rows["folders/forest/1.jpg"]
        self.assertEqual((row.masks, row.ih, row.iw, row.sh, row.sw), ({}, 20, 20, 10, 10))
        with open(self.path("out", "index.csv")) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "image,split,ih,iw,sh,sw,scene")
        self.assertTrue(any(line.endswith(",20,20,10,10,2") for line in lines), lines)

    def test_csv_multi_label(self):
        for name in ("a.png", "b.png", "sub/c.png"):
            save_rgb(self.path("imgs", name), 4, 4)
        with open(self.path("tags.csv"), "w") as f:
            f.write("image,concept,category\na.png,sunny,weather\na.png,striped,texture\n"
                    "b.png,sunny,weather\nsub/c.png,dotted,texture\n")
        self.convert(["folders", "--csv", self.path("tags.csv"), "--images", self.path("imgs"),
                      "--out", self.path("out"), "--size", "0", "--min-images", "1", "-q"])
        got = ReadBack(self.path("out"))
        self.assertEqual(got.set.categories, ["weather", "texture"])
        self.assertEqual([(lab.number, lab.category, lab.name) for lab in got.set.labels.values()],
                         [(1, "weather", "sunny"), (2, "texture", "dotted"),
                          (3, "texture", "striped")])
        self.assertEqual(got.whole("folders/a.png"), ["striped", "sunny"])
        self.assertEqual(got.whole("folders/sub/c.png"), ["dotted"])


# --------------------------------------------------------------------------------------
# Split, --min-images, merge

def coco_doc(tmp, n_images, spec, size=(6, 8)):
    """A COCO file of n_images images; spec: {category name: image indices with a box}."""
    h, w = size
    images, anns = [], []
    for i in range(n_images):
        save_rgb(os.path.join(tmp, f"im{i:03d}.png"), h, w)
        images.append({"id": i, "file_name": f"im{i:03d}.png", "height": h, "width": w})
    cats = [{"id": k + 1, "name": n} for k, n in enumerate(spec)]
    for k, (name, idx) in enumerate(spec.items()):
        for i in idx:
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": k + 1,
                         "segmentation": [[k % w, 0, k % w + 1, 0, k % w + 1, h, k % w, h]]})
    path = os.path.join(tmp, "ann.json")
    with open(path, "w") as f:
        json.dump({"images": images, "annotations": anns, "categories": cats}, f)
    return path


class SplitMinImagesMergeTests(ConvertTestCase):
    def test_stratified_split_and_seed(self):
        spec = {"common": range(0, 40), "mid": range(0, 40, 2), "rare": [1, 5, 9]}
        ann = coco_doc(self.path("src"), 50, spec)
        base = ["coco", "--annotations", ann, "--images", self.path("src"), "--size", "0",
                "--mask-scale", "1", "--min-images", "3", "-q"]
        self.convert(base + ["--out", self.path("s1")])
        self.convert(base + ["--out", self.path("s1b")])
        self.convert(base + ["--out", self.path("s2"), "--seed", "2"])
        with open(self.path("s1", "concepts.csv"), newline="") as f:
            counts = {r["name"]: (int(r["train"]), int(r["val"])) for r in csv.DictReader(f)}
        # round(0.3 n): rare 3 -> 1, mid 20 -> 6; common 40 -> 12 holds only approximately
        # (its images were partly placed for the rarer concepts first).
        self.assertEqual(counts["rare"], (2, 1))
        self.assertEqual(counts["mid"], (14, 6))
        self.assertLessEqual(abs(counts["common"][1] - 12), 2)
        splits = lambda d: [r.split for r in ReadBack(self.path(d)).set.rows]  # noqa: E731
        self.assertEqual(splits("s1"), splits("s1b"))
        self.assertNotEqual(splits("s1"), splits("s2"))
        # Images without a concept are split too: about 30 % of the 10 of them.
        empty = [r.split for r in ReadBack(self.path("s1")).set.rows
                 if int(r.image[-7:-4]) >= 40]
        self.assertEqual(empty.count("val"), 3)

    def test_min_images_drops_and_renumbers(self):
        # "aa" (in 2 images) is dropped: "bb" and "cc" move from 2, 3 to 1, 2 and the mask
        # pixels follow; the image whose only concept was "aa" keeps no mask file.
        spec = {"aa": [0, 1], "bb": [1, 2, 3], "cc": [2, 3, 4]}
        ann = coco_doc(self.path("src"), 5, spec)
        code, out, err = run(["coco", "--annotations", ann, "--images", self.path("src"),
                              "--size", "0", "--mask-scale", "1", "--min-images", "3",
                              "--out", self.path("out")])
        self.assertEqual(code, 0, err)
        self.assertIn("aa (2)", err)
        got = ReadBack(self.path("out"))
        self.assertEqual([(lab.number, lab.name) for lab in got.set.labels.values()],
                         [(1, "bb"), (2, "cc")])
        self.assertEqual(got.rows["coco/im000.png"].masks.get("object", []), [])
        want_bb = np.zeros((6, 8), bool)
        want_bb[:, 1] = True  # "bb" (second category) is the column x in [1, 2)
        self.assertMask(got.target("coco/im001.png", "bb"), want_bb)
        labels = imageio.read_label_png(self.path("out", "images", "coco", "im002_object.png"), "")
        self.assertEqual(sorted(np.unique(labels).tolist()), [0, 1, 2])
        self.assertFalse(os.path.exists(self.path("out", "images", "coco", "im000_object.png")))

    def test_merge_numbering_masks_and_splits(self):
        os.makedirs(self.path("a_src"))
        os.makedirs(self.path("b_src"))
        ann_a = coco_doc(self.path("a_src"), 4, {"zebra": [0, 1], "dog": [1, 2]})
        ann_b = coco_doc(self.path("b_src"), 3, {"dog": [0], "ant": [1, 2]})
        for src, ann, split in (("a_src", ann_a, "train"), ("b_src", ann_b, "val")):
            self.convert(["coco", "--annotations", ann, "--images", self.path(src), "--size", "0",
                          "--mask-scale", "1", "--min-images", "1", "--split", split, "-q",
                          "--out", self.path(src[0])])
        save_rgb(self.path("tags", "sunny", "0.png"), 6, 8)
        self.convert(["folders", "--root", self.path("tags"), "--category", "weather",
                      "--size", "0", "--mask-scale", "1", "--min-images", "1", "-q",
                      "--out", self.path("f")])
        self.convert(["merge", self.path("a"), self.path("b"), self.path("f"), "--min-images",
                      "1", "-q", "--out", self.path("m")])
        got = ReadBack(self.path("m"))
        # Categories as first met (object from a, weather from f), names sorted; "dog" of a
        # and b is one concept.
        self.assertEqual([(lab.number, lab.category, lab.name) for lab in got.set.labels.values()],
                         [(1, "object", "ant"), (2, "object", "dog"), (3, "object", "zebra"),
                          (4, "weather", "sunny")])
        a, b = ReadBack(self.path("a")), ReadBack(self.path("b"))
        for src, name, image in ((a, "a", "coco/im001.png"), (b, "b", "coco/im000.png"),
                                 (b, "b", "coco/im002.png")):
            for concept in ("dog", "zebra", "ant"):
                if concept in src.by_name:
                    self.assertMask(got.target(f"{name}/{image}", concept),
                                    src.target(image, concept))
        self.assertEqual(got.whole("f/folders/sunny/0.png"), ["sunny"])
        self.assertEqual({r.split for r in got.set.rows if r.image.startswith("a/")}, {"train"})
        self.assertEqual({r.split for r in got.set.rows if r.image.startswith("b/")}, {"val"})
        with open(self.path("m", "concepts.csv"), newline="") as f:
            src = {r["name"]: r["source"] for r in csv.DictReader(f)}
        self.assertEqual(src["dog"], "a:1;b:2")  # dog is 1 in a (dog, zebra), 2 in b (ant, dog)
        # Merging again gives the same tables (the numbering depends on nothing else).
        self.convert(["merge", self.path("a"), self.path("b"), self.path("f"), "--min-images",
                      "1", "-q", "--out", self.path("m2")])
        for table in ("index.csv", "label.csv", "category.csv", "c_object.csv"):
            with open(self.path("m", table)) as x, open(self.path("m2", table)) as y:
                self.assertEqual(x.read(), y.read(), table)


# --------------------------------------------------------------------------------------
# Bad input: a message naming the file and record, a non-zero exit, nothing written

class BadInputTests(ConvertTestCase):
    def refuse(self, argv, code, *fragments):
        before = set(os.listdir(self.tmp))
        got, out, err = run(argv)
        self.assertEqual(got, code, f"{argv}\n{out}{err}")
        for fragment in fragments:
            self.assertIn(fragment, err)
        self.assertFalse(os.path.exists(self.path("out")), "a half-written --out")
        left = sorted(set(os.listdir(self.tmp)) - before)
        self.assertEqual(left, [], "temporary folders left behind")
        return err

    def coco_with(self, annotation=None, doc_patch=None):
        save_rgb(self.path("src", "im0.png"), 6, 8)
        doc = {"images": [{"id": 1, "file_name": "im0.png", "height": 6, "width": 8}],
               "annotations": [], "categories": [{"id": 3, "name": "dog"}]}
        if annotation is not None:
            doc["annotations"].append(dict({"id": 41, "image_id": 1, "category_id": 3},
                                           **annotation))
        if doc_patch:
            doc_patch(doc)
        path = self.path("src", "ann.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        return ["coco", "--annotations", path, "--images", self.path("src"), "--out",
                self.path("out"), "--size", "0", "--min-images", "1", "-q"]

    def test_polygon_with_an_odd_coordinate_count(self):
        argv = self.coco_with({"segmentation": [[1, 1, 5, 1, 5]]})
        self.refuse(argv, 2, "ann.json: annotation id 41 (image id 1)", "odd count")

    def test_rle_counts_not_adding_up(self):
        argv = self.coco_with({"iscrowd": 1, "segmentation": {"size": [6, 8], "counts": [5, 6]}})
        self.refuse(argv, 2, "annotation id 41", "add up to 11, not height x width = 6 x 8 = 48")

    def test_compressed_rle_with_a_bad_character(self):
        argv = self.coco_with({"segmentation": {"size": [6, 8], "counts": "0a~"}})
        self.refuse(argv, 2, "annotation id 41", "outside the RLE alphabet")

    def test_rle_size_differs_from_the_image(self):
        argv = self.coco_with({"segmentation": {"size": [8, 6], "counts": [48]}})
        self.refuse(argv, 2, "annotation id 41: RLE size 8x6 differs from its image's 6x8")

    def test_unknown_category(self):
        argv = self.coco_with({"category_id": 99, "segmentation": [BOX]})
        self.refuse(argv, 2, "annotation id 41: category_id 99 is not in categories")

    def test_missing_image_file(self):
        argv = self.coco_with(None, lambda d: d["images"].append(
            {"id": 2, "file_name": "gone.jpg", "height": 6, "width": 8}))
        self.refuse(argv, 3, "gone.jpg: image not found", "image id 2")

    def test_declared_size_differs_from_the_image(self):
        argv = self.coco_with(None, lambda d: d["images"][0].update(height=7))
        self.refuse(argv, 2, "im0.png: the image is 6x8", "image id 1 declares 7x8")

    def test_invalid_json(self):
        os.makedirs(self.path("src"))
        with open(self.path("src", "ann.json"), "w") as f:
            f.write('{"images": [],\n "annotations": [,]}')
        self.refuse(["coco", "--annotations", self.path("src", "ann.json"), "--images",
                     self.path("src"), "--out", self.path("out")], 2, "ann.json:2:18: not valid JSON")

    def test_labelmap_id_not_in_the_labels(self):
        os.makedirs(self.path("masks"))
        Image.fromarray(np.array([[1, 1], [1, 9]], np.uint8), "L").save(self.path("masks", "x.png"))
        save_rgb(self.path("imgs", "x.png"), 2, 2)
        with open(self.path("labels.csv"), "w") as f:
            f.write("id,name\n1,wall\n")
        self.refuse(["labelmap", "--masks", self.path("masks"), "--labels", self.path("labels.csv"),
                     "--images", self.path("imgs"), "--out", self.path("out"), "--size", "0"],
                    2, "x.png: class id 9 at pixel (y=1, x=1) is not in", "--ignore 9")

    def test_labels_csv_id_twice(self):
        os.makedirs(self.path("masks"))
        with open(self.path("labels.csv"), "w") as f:
            f.write("id,name\n1,wall\n2,floor\n1,door\n")
        self.refuse(["labelmap", "--masks", self.path("masks"), "--labels", self.path("labels.csv"),
                     "--images", self.path("masks"), "--out", self.path("out")],
                    2, "labels.csv:4: id 1 already named on line 2")

    def test_folders_csv_missing_image(self):
        os.makedirs(self.path("imgs"))
        with open(self.path("tags.csv"), "w") as f:
            f.write("image,concept\nnope.jpg,sunny\n")
        self.refuse(["folders", "--csv", self.path("tags.csv"), "--images", self.path("imgs"),
                     "--out", self.path("out")], 3, "tags.csv:2: image", "nope.jpg not found")

    def test_images_of_different_sizes_without_size(self):
        save_rgb(self.path("root", "a", "1.png"), 4, 4)
        save_rgb(self.path("root", "a", "2.png"), 6, 4)
        self.refuse(["folders", "--root", self.path("root"), "--size", "0", "--out",
                     self.path("out")], 2, "2.png: masks would be 3x2 but", "1.png has 2x2",
                    "pass --size N")

    def test_merge_mask_with_an_unknown_label(self):
        ann = coco_doc(self.path("src"), 2, {"dog": [0, 1]})
        self.assertEqual(run(["coco", "--annotations", ann, "--images", self.path("src"),
                              "--size", "0", "--mask-scale", "1", "--min-images", "1", "-q",
                              "--out", self.path("a")])[0], 0)
        imageio.write_label_png(self.path("a", "images", "coco", "im001_object.png"),
                                np.full((6, 8), 5))
        err = self.refuse(["merge", self.path("a"), "--out", self.path("out"), "-q"], 2,
                          "im001_object.png: unknown label number 5 at pixel (y=0, x=0)",
                          "index.csv:3")
        self.assertNotIn("Traceback", err)

    def test_existing_out_needs_force_and_survives_a_failed_run(self):
        os.makedirs(self.path("out"))
        with open(self.path("out", "keep.txt"), "w") as f:
            f.write("mine")
        argv = self.coco_with({"segmentation": [BOX]})
        code, _, err = run(argv)
        self.assertEqual(code, 2)
        self.assertIn("already exists; pass --force", err)
        code, _, err = run(argv + ["--force", "--min-images", "5"])  # fails: no concept left
        self.assertEqual(code, 2)
        self.assertIn("no concept is in at least 5 images", err)
        self.assertTrue(os.path.isfile(self.path("out", "keep.txt")))
        code, _, err = run(argv + ["--force"])
        self.assertEqual(code, 0, err)
        self.assertFalse(os.path.exists(self.path("out", "keep.txt")))
        self.assertEqual(sorted(os.listdir(self.tmp)), ["out", "src"])


class CliTests(ConvertTestCase):
    def test_launcher_help_and_a_run(self):
        r = subprocess.run([TOOL, "coco", "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        for option in ("--annotations", "--images", "--crowd", "--out", "--size", "--mask-scale",
                       "--val-fraction", "--seed", "--min-images", "--split", "--force"):
            self.assertIn(option, r.stdout)
        r = subprocess.run([TOOL, "merge", "--help"], capture_output=True, text=True)
        self.assertIn("keyed by (category, name)", " ".join(r.stdout.split()))
        r = subprocess.run([TOOL, "coco", "--images", "x"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--annotations", r.stderr)
        ann = coco_doc(self.path("src"), 3, {"dog": [0, 1, 2]})
        r = subprocess.run([TOOL, "coco", "--annotations", ann, "--images", self.path("src"),
                            "--min-images", "3", "--out", self.path("out")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("3 images", r.stdout)
        self.assertIn("net2vec-probe coco: 3 / 3 images (100%)", r.stderr)
        self.assertEqual(ReadBack(self.path("out")).rows["coco/im000.png"].sh, 112)


if __name__ == "__main__":
    unittest.main()
