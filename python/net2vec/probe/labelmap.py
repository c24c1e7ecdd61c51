"""Label-map annotations (ADE20K, Pascal-Context, Cityscapes style) -> a probe set.

--masks DIR holds one PNG per image whose pixel values are class ids (8-bit grey, palette
indices or 16-bit grey). --labels F.csv names them:

    id,name,category
    1,wall,object
    7,road,object

(category optional: --category, default object). Several ids may share one (category, name):
they are one concept. Pixels of an --ignore value are unlabelled; any other id missing from
the CSV is an error. A mask DIR/a/b.png (b + --mask-suffix) belongs to the image
IMAGES/a/b(+ --image-suffix).jpg, .jpeg or .png (either case).
"""

import csv
import os
from typing import Dict, List, Tuple

import numpy as np

from . import imageio
from .errors import ProbeError, not_found
from .writer import ConceptInfo, Options, Progress, ProbeWriter, check_category_name, \
    check_concept_name

MAX_ID = 65535  # ids index a lookup table; 16-bit PNGs hold up to this
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")


def read_csv_rows(path: str, required: Tuple[str, ...], what: str):
    """(header, [(line, {column: value})]) of a CSV file with a header line; ProbeError
    naming the file and line on a malformed one."""
    if not os.path.isfile(path):
        raise not_found(f"{path}: {what} not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = None
            rows = []
            for fields in reader:
                if not any(x.strip() for x in fields):
                    continue
                fields = [x.strip() for x in fields]
                if header is None:
                    header = fields
                    missing = [c for c in required if c not in header]
                    if missing:
                        raise ProbeError(f"{path}:{reader.line_num}: header lacks the "
                                         f"column(s) {', '.join(missing)} (expected "
                                         f"{','.join(required)}, got {','.join(header)})")
                    continue
                if len(fields) != len(header):
                    raise ProbeError(f"{path}:{reader.line_num}: {len(fields)} fields, the "
                                     f"header has {len(header)}")
                rows.append((reader.line_num, dict(zip(header, fields))))
    except UnicodeDecodeError as e:
        raise ProbeError(f"{path}: not UTF-8 text: {e}") from None
    except csv.Error as e:
        raise ProbeError(f"{path}: malformed CSV: {e}") from None
    if header is None:
        raise ProbeError(f"{path}: empty file, expected a header line "
                         f"({','.join(required)})")
    return header, rows


def read_labels(path: str, default_category: str):
    """{class id: ConceptInfo} and the categories in order of first appearance."""
    header, rows = read_csv_rows(path, ("id", "name"), "labels file (--labels)")
    by_id: Dict[int, ConceptInfo] = {}
    lines: Dict[int, int] = {}
    categories: List[str] = []
    for line, r in rows:
        where = f"{path}:{line}"
        text = r["id"]
        if not text.isdigit() or int(text) > MAX_ID:
            raise ProbeError(f"{where}: id '{text}' is not an integer in 0..65535")
        cid = int(text)
        if cid in by_id:
            raise ProbeError(f"{where}: id {cid} already named on line {lines[cid]}")
        name = check_concept_name(r["name"], where)
        cat = r.get("category") or default_category
        check_category_name(cat, where)
        if cat not in categories:
            categories.append(cat)
        by_id[cid] = ConceptInfo(cat, name, "", f"labels:{cid}")
        lines[cid] = line
    if not by_id:
        raise ProbeError(f"{path}: no labels")
    return by_id, categories


def find_masks(root: str) -> List[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if f.lower().endswith(".png") and not f.startswith("."):
                out.append(os.path.relpath(os.path.join(dirpath, f), root))
    return out


def convert(args, opts: Options) -> dict:
    default_category = check_category_name(args.category, "--category")
    by_id, categories = read_labels(args.labels, default_category)
    for d, opt in ((args.masks, "--masks"), (args.images, "--images")):
        if not os.path.isdir(d):
            raise not_found(f"{d}: folder not found ({opt})")
    masks = find_masks(args.masks)
    if not masks:
        raise not_found(f"{args.masks}: no PNG masks in this folder (--masks)")
    ignore = set(args.ignore or [])
    for v in ignore:
        if not 0 <= v <= 65535:
            raise ProbeError(f"--ignore {v}: not a class id (0..65535)")
        if v in by_id:
            raise ProbeError(f"--ignore {v}: id {v} is also named in {args.labels}")
    writer = ProbeWriter(opts, "labelmap", categories, list(by_id.values()))
    try:
        # Class id -> concept number per category; -1 marks ids the CSV does not name.
        lut = {cat: np.zeros(65536, dtype=np.int32) for cat in categories}
        known = np.full(65536, False)
        for cid, info in by_id.items():
            lut[info.category][cid] = writer.concept_number(info.category, info.name)
            known[cid] = True
        for v in ignore:
            known[v] = True
        progress = Progress("labelmap", len(masks), opts.quiet)
        for k, rel in enumerate(masks):
            mask_path = os.path.join(args.masks, rel)
            stem = os.path.splitext(rel)[0]
            if args.mask_suffix:
                if not stem.endswith(args.mask_suffix):
                    raise ProbeError(f"{mask_path}: the name does not end with --mask-suffix "
                                     f"'{args.mask_suffix}'")
                stem = stem[: -len(args.mask_suffix)]
            stem += args.image_suffix or ""
            candidates = [os.path.join(args.images, stem + e) for e in IMAGE_EXTS]
            image = next((c for c in candidates if os.path.isfile(c)), None)
            if image is None:
                raise not_found(f"{mask_path}: no image for this mask (looked for "
                                f"{os.path.join(args.images, stem)}.jpg/.jpeg/.png)")

            def make(sh, sw, h, w, mask_path=mask_path, image=image):
                ids = imageio.read_class_png(mask_path, f"the label map of {image}")
                if ids.shape != (h, w):
                    raise ProbeError(f"{mask_path}: the mask is {ids.shape[0]}x{ids.shape[1]} "
                                     f"but its image {image} is {h}x{w}")
                inside = (ids >= 0) & (ids <= MAX_ID)
                bad = ~inside
                bad[inside] = ~known[ids[inside]]
                if bad.any():
                    y, x = (int(v) for v in np.argwhere(bad)[0])
                    values = np.unique(ids[bad])
                    listed = ", ".join(str(v) for v in values[:10])
                    raise ProbeError(f"{mask_path}: class id {ids[y, x]} at pixel (y={y}, "
                                     f"x={x}) is not in {args.labels} (ids not named: {listed}"
                                     f"{', ...' if len(values) > 10 else ''}); name it there "
                                     f"or pass --ignore {ids[y, x]}")
                small = imageio.nearest(ids, sh, sw)
                out = {}
                for cat in categories:
                    numbers = lut[cat][small]
                    out[cat] = {int(c): numbers == c for c in np.unique(numbers) if c > 0}
                return out

            writer.add_image(image, os.path.relpath(image, args.images),
                             f"the image of mask {mask_path}", masks=make)
            progress.tick(k + 1)
        return writer.finish({"masks_dir": os.path.abspath(args.masks),
                              "labels": os.path.abspath(args.labels),
                              "images_dir": os.path.abspath(args.images),
                              "ignore": sorted(ignore)})
    except BaseException:
        writer.abort()
        raise
