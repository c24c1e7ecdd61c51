"""merge: one probe set from several BRODEN-layout sets (converted ones, or BRODEN itself).

Concepts are keyed by (category, name), the category being a label's primary one: the same
key in two sources is one concept. Numbering is the writer's rule: categories in order of
first appearance (sources in the order given, each in its index.csv column order), concepts
by name within a category, 1.. without gaps. A concept's masks go to its category's column.
Images go to images/<source folder name>/<their path in the source>. Each image keeps its
source's split unless --val-fraction is given (then all are split anew, stratified).
Without --size images and masks keep their sizes, which must then agree across sources.
"""

import os
import sys
from typing import Dict, List

import numpy as np

from . import broden, imageio
from .errors import ProbeError
from .writer import ConceptInfo, Options, Progress, ProbeWriter


def convert(args, opts: Options) -> dict:
    if len(args.sources) < 1:
        raise ProbeError("merge needs at least one probe set folder")
    sets = [broden.read(d) for d in args.sources]
    names: List[str] = []
    for s in sets:
        base = os.path.basename(os.path.abspath(s.dir)) or "set"
        name, k = base, 1
        while name in names:
            k += 1
            name = f"{base}_{k}"
        names.append(name)
    categories: List[str] = []
    for s in sets:
        for cat in s.categories:
            if cat not in categories:
                categories.append(cat)
    extra = sorted({lab.category for s in sets for lab in s.labels.values()} - set(categories))
    categories += extra
    concepts: Dict[tuple, ConceptInfo] = {}
    for s, name in zip(sets, names):
        for lab in s.labels.values():
            key = (lab.category, lab.name)
            src = f"{name}:{lab.number}"
            if key in concepts:
                concepts[key].source += ";" + src
                if not concepts[key].supercategory:
                    concepts[key].supercategory = s.supercategory.get(lab.number, "")
            else:
                concepts[key] = ConceptInfo(lab.category, lab.name,
                                            s.supercategory.get(lab.number, ""), src)
    by_name: Dict[str, List[str]] = {}
    for cat, n in concepts:
        by_name.setdefault(n, []).append(cat)
    twice = sorted(n for n, cats in by_name.items() if len(cats) > 1)
    if twice and not opts.quiet:
        print(f"net2vec-probe merge: {len(twice)} name(s) in several categories stay separate "
              f"concepts (queries by name will see both): {', '.join(twice[:8])}",
              file=sys.stderr)

    writer = ProbeWriter(opts, "", categories, list(concepts.values()))
    try:
        total = sum(len(s.rows) for s in sets)
        progress = Progress("merge", total, opts.quiet)
        done = 0
        for s, name in zip(sets, names):
            number = {lab.number: writer.concept_number(lab.category, lab.name)
                      for lab in s.labels.values()}
            lut = np.zeros(max(s.labels) + 1, dtype=np.int32)
            for old, new in number.items():
                lut[old] = new
            category_of = {n: writer.concepts[n - 1].category for n in number.values()}
            index_path = os.path.join(s.dir, "index.csv")
            for row in s.rows:
                where = f"{index_path}:{row.line}"

                def make(sh, sw, h, w, row=row, s=s, lut=lut, where=where):
                    out: Dict[str, Dict[int, np.ndarray]] = {}
                    for cat in s.categories:
                        for mrel in row.masks.get(cat, []):
                            path = os.path.join(s.dir, "images", mrel)
                            labels = imageio.read_label_png(path, f"row at {where}")
                            if labels.shape != (row.sh, row.sw):
                                raise ProbeError(
                                    f"{path}: mask is {labels.shape[0]}x{labels.shape[1]}, "
                                    f"expected {row.sh}x{row.sw} (sh x sw) (row at {where})")
                            bad = (labels >= len(lut)) | ((labels > 0) &
                                                          (lut[np.minimum(labels, len(lut) - 1)] == 0))
                            if bad.any():
                                y, x = (int(v) for v in np.argwhere(bad)[0])
                                raise ProbeError(
                                    f"{path}: unknown label number {labels[y, x]} at pixel "
                                    f"(y={y}, x={x}), not in label.csv (row at {where})")
                            small = lut[imageio.nearest(labels, sh, sw)]
                            for c in np.unique(small):
                                if c == 0:
                                    continue
                                c = int(c)
                                d = out.setdefault(category_of[c], {})
                                m = small == c
                                d[c] = d[c] | m if c in d else m
                    return out

                whole: Dict[str, set] = {}
                for cat, nums in row.whole.items():
                    for n in nums:
                        new = number[n]
                        whole.setdefault(category_of[new], set()).add(new)
                keep_size = opts.size == 0
                writer.add_image(
                    os.path.join(s.dir, "images", row.image), f"{name}/{row.image}",
                    f"row at {where}", masks=make, whole=whole,
                    split=None if args.val_fraction is not None else row.split,
                    mask_size=(row.sh, row.sw) if keep_size else None)
                done += 1
                progress.tick(done)
        return writer.finish({"sources": [os.path.abspath(s.dir) for s in sets]})
    except BaseException:
        writer.abort()
        raise
