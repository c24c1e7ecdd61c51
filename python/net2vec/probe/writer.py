"""Writes a probe set in BRODEN's layout, as src/probe/probe_set.h reads it.

    OUT/index.csv      image,split,ih,iw,sh,sw,<category>...
    OUT/label.csv      number,name,category,frequency,coverage,syns
    OUT/category.csv   name,first,last,count,frequency
    OUT/c_<cat>.csv    code,number,name,frequency,coverage
    OUT/images/...     the images and their mask PNGs (label = R + 256*G, 0 = none)
    OUT/concepts.csv   not BRODEN: number,category,name,images,train,val,supercategory,source
    OUT/net2vec-probe.json   not BRODEN: how the set was made

Everything is written into a temporary folder beside OUT (.OUT.tmp-PID), renamed to OUT
only when complete; an error or an interrupt removes it, so OUT is never half-written.

Concept numbers: categories in the converter's order, concepts within a category by name
(Python's string order: Unicode code points), numbered 1, 2, ... without gaps, after
--min-images has dropped the rare ones. Mask pixels are first written with provisional
numbers (the same rule before dropping) and rewritten only when a concept was dropped.
"""

import csv
import json
import math
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from . import imageio
from .errors import EXIT_IO, ProbeError

TOOL = "net2vec-probe"
VERSION = "0.1.0"
FIXED_COLUMNS = ("image", "split", "ih", "iw", "sh", "sw")
MAX_LABEL = 65535  # a mask PNG holds R + 256*G


@dataclass
class Options:
    out: str
    force: bool = False
    size: int = 224              # 0: keep each image's size
    mask_scale: float = 0.5
    val_fraction: float = 0.3
    seed: int = 1
    min_images: int = 10
    split: str = "auto"          # auto | train | val
    quiet: bool = False
    command: Sequence[str] = ()


@dataclass
class ConceptInfo:
    category: str
    name: str
    supercategory: str = ""
    source: str = ""             # where it came from: "coco:18", "labels.csv:4", ...


@dataclass
class _Row:
    image: str
    split: Optional[str]
    ih: int
    iw: int
    sh: int
    sw: int
    masks: Dict[str, List[str]] = field(default_factory=dict)   # category -> mask paths
    whole: Dict[str, List[int]] = field(default_factory=dict)   # category -> label numbers
    present: Set[int] = field(default_factory=set)


def check_category_name(name: str, where: str) -> str:
    """Category names become index.csv columns and c_<name>.csv file names."""
    ok = name and all(c.isalnum() or c in "_-" for c in name) and name.isascii()
    if not ok or name in FIXED_COLUMNS:
        raise ProbeError(f"{where}: category '{name}' must be letters, digits, '_' or '-' "
                         f"(it names an index.csv column and c_{name}.csv) and not one of "
                         f"{', '.join(FIXED_COLUMNS)}")
    return name


def check_concept_name(name: str, where: str) -> str:
    name = name.strip()
    if not name or any(c in name for c in "\r\n\t"):
        raise ProbeError(f"{where}: concept name {name!r} is empty or holds a line break or tab")
    return name


def safe_relpath(rel: str) -> str:
    """A relative path of output files: each part kept to letters, digits, '.', '_', '-'
    (index.csv splits cells on ',' and ';'), no empty, '.' or '..' part."""
    parts = []
    for part in rel.replace("\\", "/").split("/"):
        if part in ("", ".", ".."):
            continue
        clean = "".join(c if (c.isascii() and (c.isalnum() or c in "._-")) else "_" for c in part)
        parts.append(clean)
    return "/".join(parts) or "image"


class Progress:
    """Progress lines on stderr, at most one every 2 s, and one at the end."""

    def __init__(self, label: str, total: int, quiet: bool):
        self.label, self.total, self.quiet = label, total, quiet
        self.start = self.last = time.monotonic()

    def tick(self, done: int) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if now - self.last >= 2.0 or done == self.total:
            self.last = now
            pct = f" ({100 * done / self.total:.0f}%)" if self.total else ""
            print(f"{TOOL} {self.label}: {done:,} / {self.total:,} images{pct}, "
                  f"{now - self.start:.0f} s", file=sys.stderr, flush=True)


def round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def stratified_split(present: Sequence[Set[int]], fixed: Sequence[Optional[str]],
                     val_fraction: float, seed: int) -> List[str]:
    """train / val of every image. Images with a fixed split keep it. Then concept by concept,
    rarest first (ties by number), the concept's unassigned images, shuffled with
    random.Random(seed), go to val until the concept has round(val_fraction * n) val images
    (at least 1 and at most n - 1 when it has n >= 2 images and 0 < val_fraction < 1), the rest
    to train. Images with no concept are split the same way as one group."""
    rng = random.Random(seed)
    split: List[Optional[str]] = list(fixed)
    members: Dict[int, List[int]] = {}
    for i, labels in enumerate(present):
        for c in labels:
            members.setdefault(c, []).append(i)

    def assign(group: List[int]) -> None:
        n = len(group)
        target = round_half_up(val_fraction * n)
        if n >= 2 and 0 < val_fraction < 1:
            target = min(max(target, 1), n - 1)
        have = sum(1 for i in group if split[i] == "val")
        free = [i for i in group if split[i] is None]
        rng.shuffle(free)
        need = max(0, min(len(free), target - have))
        for k, i in enumerate(free):
            split[i] = "val" if k < need else "train"

    for c in sorted(members, key=lambda c: (len(members[c]), c)):
        assign(members[c])
    assign([i for i in range(len(present)) if split[i] is None])
    return [s or "train" for s in split]


class ProbeWriter:
    """Collects images and their concept masks; finish() writes the tables and renames the
    temporary folder to --out."""

    def __init__(self, opts: Options, fmt: str, categories: Sequence[str],
                 concepts: Sequence[ConceptInfo]):
        self.opts, self.fmt = opts, fmt
        self.categories = list(dict.fromkeys(categories))
        order = {c: i for i, c in enumerate(self.categories)}
        for c in concepts:
            if c.category not in order:
                raise AssertionError(f"concept {c.name} of unknown category {c.category}")
        keys = {}
        for c in concepts:
            keys.setdefault((c.category, c.name), c)
        ranked = sorted(keys.values(), key=lambda c: (order[c.category], c.name))
        if len(ranked) > MAX_LABEL:
            raise ProbeError(f"{len(ranked)} concepts: a mask PNG holds at most {MAX_LABEL}")
        self.concepts: List[ConceptInfo] = ranked          # provisional number = index + 1
        self.number = {(c.category, c.name): i + 1 for i, c in enumerate(ranked)}
        self.rows: List[_Row] = []
        self.images = np.zeros(len(ranked) + 1, dtype=np.int64)
        self.coverage = np.zeros(len(ranked) + 1, dtype=np.float64)
        self.used_paths: Set[str] = set()
        self.mask_size: Optional[Tuple[int, int, str]] = None
        self.out = os.path.abspath(opts.out.rstrip("/") or "/")
        parent, base = os.path.split(self.out)
        self.tmp = os.path.join(parent, f".{base}.tmp-{os.getpid()}")
        self._check_out()
        if not os.path.isdir(parent):
            raise ProbeError(f"{parent}: the folder of --out does not exist", 3)
        try:
            os.makedirs(os.path.join(self.tmp, "images"))
        except OSError as e:
            raise ProbeError(f"{self.tmp}: cannot create the temporary folder: {e}",
                             EXIT_IO) from None

    # -- the output folder -------------------------------------------------------------

    def _check_out(self) -> None:
        if os.path.exists(self.out) and not self.opts.force:
            if not (os.path.isdir(self.out) and not os.listdir(self.out)):
                raise ProbeError(f"{self.out}: already exists; pass --force to replace it")

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _unique(self, rel: str) -> str:
        base, ext = os.path.splitext(rel)
        k, cand = 1, rel
        while cand in self.used_paths:
            k += 1
            cand = f"{base}_{k}{ext}"
        self.used_paths.add(cand)
        return cand

    # -- images --------------------------------------------------------------------------

    def concept_number(self, category: str, name: str) -> int:
        return self.number[(category, name)]

    def add_image(self, source: str, rel: str, where: str,
                  masks: Optional[Callable[[int, int, int, int], Dict[str, Dict[int, np.ndarray]]]] = None,
                  whole: Optional[Dict[str, Set[int]]] = None, split: Optional[str] = None,
                  expect_size: Optional[Tuple[int, int]] = None,
                  mask_size: Optional[Tuple[int, int]] = None) -> None:
        """Adds one image. masks(sh, sw, h, w) returns {category: {number: bool (sh, sw)}} for
        an image of h x w pixels; whole is {category: {number}} (whole-image labels);
        expect_size the (height, width) the annotations declare."""
        im = imageio.open_image(source, where)
        h, w = im.height, im.width
        if expect_size is not None and (h, w) != tuple(expect_size):
            raise ProbeError(f"{source}: the image is {h}x{w} (height x width) but {where} "
                             f"declares {expect_size[0]}x{expect_size[1]}")
        n = self.opts.size
        oh, ow = (n, n) if n > 0 else (h, w)
        if mask_size is not None:
            sh, sw = mask_size
        else:
            sh = max(1, int(oh * self.opts.mask_scale))
            sw = max(1, int(ow * self.opts.mask_scale))
        # net2vec stacks the targets of all images: one mask size for the whole set.
        if self.mask_size is None:
            self.mask_size = (sh, sw, source)
        elif (sh, sw) != self.mask_size[:2]:
            first = self.mask_size
            raise ProbeError(
                f"{source}: masks would be {sh}x{sw} but {first[2]} has {first[0]}x{first[1]}; "
                f"net2vec needs one mask size for the whole set: pass --size N to resize every "
                f"image to N x N (BRODEN: 224 or 227)")

        ext, _ = imageio.output_ext(im, source, (oh, ow))
        image_rel = self._unique(os.path.splitext(safe_relpath(f"{self.fmt}/{rel}"))[0] + ext)
        stem = os.path.splitext(image_rel)[0]
        dest = os.path.join(self.tmp, "images", image_rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        imageio.save_image(im, source, dest, (oh, ow))
        im.close()
        row = _Row(image=image_rel, split=split, ih=oh, iw=ow, sh=sh, sw=sw)

        per_category = masks(sh, sw, h, w) if masks is not None else {}
        for category in self.categories:
            layers = self._layers(per_category.get(category, {}), sh, sw, row)
            for k, labels in enumerate(layers):
                suffix = f"_{category}" if k == 0 else f"_{category}_{k + 1}"
                mrel = self._unique(stem + suffix + ".png")
                imageio.write_label_png(os.path.join(self.tmp, "images", mrel), labels)
                row.masks.setdefault(category, []).append(mrel)
        for category, numbers in (whole or {}).items():
            if numbers:
                row.whole[category] = sorted(numbers)
                for c in numbers:
                    if c not in row.present:
                        row.present.add(c)
                        self.images[c] += 1
                        self.coverage[c] += 1.0
        self.rows.append(row)

    def _layers(self, masks: Dict[int, np.ndarray], sh: int, sw: int, row: _Row) -> List[np.ndarray]:
        """Concept masks of one category as label maps. A pixel of a map holds one label, so
        concepts that overlap go to further maps (layers, as BRODEN's parts): each concept,
        by number, into the first map where none of its pixels is taken."""
        layers: List[np.ndarray] = []
        for c in sorted(masks):
            m = masks[c]
            px = int(m.sum())
            if px == 0:
                continue  # too small to show at this mask size: not present
            if c not in row.present:
                row.present.add(c)
                self.images[c] += 1
            self.coverage[c] += px / (sh * sw)
            for labels in layers:
                if not labels[m].any():
                    labels[m] = c
                    break
            else:
                labels = np.zeros((sh, sw), dtype=np.int32)
                labels[m] = c
                layers.append(labels)
        return layers

    # -- the tables ----------------------------------------------------------------------

    def finish(self, extra: Optional[dict] = None) -> dict:
        opts = self.opts
        if not self.rows:
            raise ProbeError("no images to write")
        kept = [c for c in range(1, len(self.concepts) + 1) if self.images[c] >= opts.min_images]
        dropped = [c for c in range(1, len(self.concepts) + 1)
                   if 0 < self.images[c] < opts.min_images]
        if not kept:
            best = int(self.images.max()) if len(self.images) > 1 else 0
            raise ProbeError(f"no concept is in at least {opts.min_images} images (--min-images; "
                             f"the most frequent is in {best}): nothing to write")
        if dropped and not opts.quiet:
            names = ", ".join(f"{self.concepts[c - 1].name} ({self.images[c]})" for c in dropped[:8])
            more = f", ... ({len(dropped) - 8} more)" if len(dropped) > 8 else ""
            print(f"{TOOL} {self.fmt}: {len(dropped)} concept(s) in fewer than {opts.min_images} "
                  f"images left out (--min-images): {names}{more}", file=sys.stderr)
        remap = np.zeros(len(self.concepts) + 1, dtype=np.int32)
        for new, old in enumerate(kept, start=1):
            remap[old] = new
        identity = all(remap[c] == c for c in range(1, len(self.concepts) + 1) if self.images[c] > 0)
        progress = Progress("renumbering masks", len(self.rows), opts.quiet or identity)
        for i, row in enumerate(self.rows):
            row.present = {int(remap[c]) for c in row.present if remap[c]}
            for category in list(row.whole):
                row.whole[category] = [int(remap[c]) for c in row.whole[category] if remap[c]]
            if not identity:
                self._remap_masks(row, remap)
            progress.tick(i + 1)

        concepts = [self.concepts[c - 1] for c in kept]
        images = [int(self.images[c]) for c in kept]
        coverage = [float(self.coverage[c]) for c in kept]
        fixed = [opts.split if opts.split in ("train", "val") else row.split for row in self.rows]
        splits = stratified_split([r.present for r in self.rows], fixed, opts.val_fraction,
                                  opts.seed)
        for row, s in zip(self.rows, splits):
            row.split = s
        train = [0] * (len(kept) + 1)
        val = [0] * (len(kept) + 1)
        for row in self.rows:
            for c in row.present:
                (val if row.split == "val" else train)[c] += 1

        categories = [cat for cat in self.categories if any(c.category == cat for c in concepts)]
        self._write_tables(categories, concepts, images, coverage, train, val, extra or {})
        self._rename()
        return {"out": self.out, "images": len(self.rows),
                "train": sum(r.split == "train" for r in self.rows),
                "val": sum(r.split == "val" for r in self.rows),
                "concepts": len(kept), "dropped": len(dropped),
                "categories": categories, "mask_size": self.mask_size[:2]}

    def _remap_masks(self, row: _Row, remap: np.ndarray) -> None:
        for category in list(row.masks):
            keep = []
            for mrel in row.masks[category]:
                path = os.path.join(self.tmp, "images", mrel)
                labels = remap[imageio.read_label_png(path, "a mask being renumbered")]
                if labels.any():
                    imageio.write_label_png(path, labels)
                    keep.append(mrel)
                else:
                    os.remove(path)
            row.masks[category] = keep

    def _write_tables(self, categories, concepts, images, coverage, train, val, extra) -> None:
        t = self.tmp
        n_per_cat = {cat: 0 for cat in categories}
        for row in self.rows:
            for cat in categories:
                if row.masks.get(cat) or row.whole.get(cat):
                    n_per_cat[cat] += 1
        _write_csv(os.path.join(t, "label.csv"),
                   ["number", "name", "category", "frequency", "coverage", "syns"],
                   [[i + 1, c.name, f"{c.category}({images[i]})", images[i],
                     f"{coverage[i]:.6f}", ""] for i, c in enumerate(concepts)])
        cat_rows = []
        for cat in categories:
            nums = [i + 1 for i, c in enumerate(concepts) if c.category == cat]
            cat_rows.append([cat, nums[0], nums[-1], len(nums), n_per_cat[cat]])
            _write_csv(os.path.join(t, f"c_{cat}.csv"),
                       ["code", "number", "name", "frequency", "coverage"],
                       [[k + 1, n, concepts[n - 1].name, images[n - 1], f"{coverage[n - 1]:.6f}"]
                        for k, n in enumerate(nums)])
        _write_csv(os.path.join(t, "category.csv"), ["name", "first", "last", "count", "frequency"],
                   cat_rows)
        _write_csv(os.path.join(t, "concepts.csv"),
                   ["number", "category", "name", "images", "train", "val", "supercategory",
                    "source"],
                   [[i + 1, c.category, c.name, images[i], train[i + 1], val[i + 1],
                     c.supercategory, c.source] for i, c in enumerate(concepts)])
        index = []
        for row in self.rows:
            cells = []
            for cat in categories:
                values = list(row.masks.get(cat, [])) + [str(v) for v in row.whole.get(cat, [])]
                cells.append(";".join(values))
            index.append([row.image, row.split, row.ih, row.iw, row.sh, row.sw] + cells)
        _write_csv(os.path.join(t, "index.csv"), list(FIXED_COLUMNS) + categories, index)
        o = self.opts
        info = {"tool": TOOL, "version": VERSION, "format": self.fmt,
                "command": list(o.command),
                "options": {"size": o.size, "mask_scale": o.mask_scale,
                            "val_fraction": o.val_fraction, "seed": o.seed,
                            "min_images": o.min_images, "split": o.split},
                "images": len(self.rows), "concepts": len(concepts),
                "numbering": "categories in source order, concepts by name within a category, "
                             "1.. without gaps (docs/PROBES.md)"}
        info.update(extra)
        with open(os.path.join(t, "net2vec-probe.json"), "w", encoding="utf-8") as f:
            json.dump(info, f, indent=1)
            f.write("\n")

    def _rename(self) -> None:
        self._check_out()
        old = None
        try:
            if os.path.isdir(self.out) and not os.listdir(self.out):
                os.rmdir(self.out)
            elif os.path.exists(self.out):
                old = self.tmp.replace(".tmp-", ".old-")
                os.rename(self.out, old)
            os.rename(self.tmp, self.out)
        except OSError as e:
            if old and not os.path.exists(self.out):
                os.rename(old, self.out)  # put the previous set back
            raise ProbeError(f"{self.out}: cannot move the new probe set in place: {e}",
                             EXIT_IO) from None
        if old:
            shutil.rmtree(old, ignore_errors=True)


def _write_csv(path: str, header: Sequence[str], rows) -> None:
    try:
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)
    except OSError as e:
        raise ProbeError(f"{path}: cannot write: {e}", EXIT_IO) from None
