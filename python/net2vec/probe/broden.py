"""A reader of BRODEN-layout probe sets, following src/probe/probe_set.cpp (for merge and
the tests): index.csv columns by header name, label.csv's primary category (the highest
count, ties to the first listed), a cell's integers are whole-image labels (0 dropped) and
anything else a mask path under images/."""

import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from .errors import ProbeError
from .labelmap import read_csv_rows
from .writer import FIXED_COLUMNS


@dataclass
class Label:
    number: int
    name: str
    category: str                       # primary category
    categories: List[Tuple[str, int]]   # the label.csv cell parsed


@dataclass
class Row:
    line: int
    image: str
    split: str
    ih: int
    iw: int
    sh: int
    sw: int
    masks: Dict[str, List[str]] = field(default_factory=dict)
    whole: Dict[str, List[int]] = field(default_factory=dict)


@dataclass
class BrodenSet:
    dir: str
    categories: List[str]
    labels: Dict[int, Label]
    rows: List[Row]
    supercategory: Dict[int, str]


def _categories(cell: str, where: str) -> List[Tuple[str, int]]:
    out = []
    for item in (s.strip() for s in cell.split(";")):
        if not item:
            continue
        m = re.fullmatch(r"([^()]+?)\s*(?:\((\d+)\))?", item)
        if not m:
            raise ProbeError(f"{where}: malformed category '{item}' (expected name(count))")
        out.append((m.group(1).strip(), int(m.group(2) or 0)))
    return out


def read(dir_: str) -> BrodenSet:
    if not os.path.isdir(dir_):
        raise ProbeError(f"{dir_}: probe set folder not found", 3)
    index_path = os.path.join(dir_, "index.csv")
    label_path = os.path.join(dir_, "label.csv")
    header, index_rows = read_csv_rows(index_path, FIXED_COLUMNS, "index.csv of a probe set")
    _, label_rows = read_csv_rows(label_path, ("number", "name", "category"),
                                  "label.csv of a probe set")
    labels: Dict[int, Label] = {}
    for line, r in label_rows:
        where = f"{label_path}:{line}"
        if not r["number"].isdigit() or int(r["number"]) < 1:
            raise ProbeError(f"{where}: label number '{r['number']}' is not a positive integer")
        number = int(r["number"])
        if number in labels:
            raise ProbeError(f"{where}: label number {number} defined twice")
        cats = _categories(r["category"], where)
        if not r["name"] or not cats:
            raise ProbeError(f"{where}: label {number} has no name or no category")
        best = cats[0]
        for c in cats:
            if c[1] > best[1]:
                best = c
        labels[number] = Label(number, r["name"], best[0], cats)
    categories = [c for c in header if c and c not in FIXED_COLUMNS]
    rows: List[Row] = []
    for line, r in index_rows:
        where = f"{index_path}:{line}"
        if r["split"] not in ("train", "val"):
            raise ProbeError(f"{where}: split '{r['split']}' is neither train nor val")
        sizes = []
        for col in ("ih", "iw", "sh", "sw"):
            if not r[col].isdigit() or int(r[col]) < 1:
                raise ProbeError(f"{where}: {col} '{r[col]}' is not a positive integer")
            sizes.append(int(r[col]))
        if not r["image"]:
            raise ProbeError(f"{where}: empty image path")
        row = Row(line, r["image"], r["split"], *sizes)
        for cat in categories:
            for value in (v.strip() for v in r.get(cat, "").split(";")):
                if not value:
                    continue
                if value.isdigit():
                    n = int(value)
                    if n == 0:
                        continue  # BRODEN's scene = 0 quirk: no label
                    if n not in labels:
                        raise ProbeError(f"{where}: unknown label number {n} in column "
                                         f"'{cat}' (not in label.csv)")
                    row.whole.setdefault(cat, []).append(n)
                else:
                    row.masks.setdefault(cat, []).append(value)
        rows.append(row)
    if not rows:
        raise ProbeError(f"{index_path}: no images")
    supercategory: Dict[int, str] = {}
    concepts_path = os.path.join(dir_, "concepts.csv")
    if os.path.isfile(concepts_path):
        _, crows = read_csv_rows(concepts_path, ("number",), "concepts.csv")
        for _, r in crows:
            if r["number"].isdigit() and r.get("supercategory"):
                supercategory[int(r["number"])] = r["supercategory"]
    return BrodenSet(dir_, categories, labels, rows, supercategory)
