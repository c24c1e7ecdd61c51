"""COCO-style instance annotations -> a BRODEN-layout probe set.

Each COCO category becomes an object concept (category --category, default object); its
supercategory goes to concepts.csv. An annotation's segmentation is a list of polygons
[[x1, y1, x2, y2, ...], ...] (their union; polygon.py has the pixel rule), an uncompressed
RLE {"size": [h, w], "counts": [n0, n1, ...]} or a compressed one ({"counts": "string"}).
All instances of one category in an image unite into one mask; crowd regions (iscrowd 1)
count as the category's pixels unless --crowd skip. Images without annotations stay (as
negatives for classification).
"""

import json
import os
from typing import Dict, List

import numpy as np

from . import imageio, rle
from .errors import ProbeError, not_found
from .polygon import PolygonError, polygon_mask
from .writer import ConceptInfo, Options, Progress, ProbeWriter, check_category_name, \
    check_concept_name


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def load_json(path: str):
    if not os.path.isfile(path):
        raise not_found(f"{path}: annotation file not found")
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8-sig"))
    except json.JSONDecodeError as e:
        raise ProbeError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None
    except UnicodeDecodeError as e:
        raise ProbeError(f"{path}: not UTF-8 text: {e}") from None
    except OSError as e:
        raise ProbeError(f"{path}: cannot read: {e}", 4) from None


class CocoSet:
    """The validated content of a COCO annotation file."""

    def __init__(self, path: str, category: str):
        self.path = path
        data = load_json(path)
        if not isinstance(data, dict):
            raise ProbeError(f"{path}: expected a JSON object with images, annotations and "
                             "categories")
        for key in ("images", "annotations", "categories"):
            if not isinstance(data.get(key), list):
                raise ProbeError(f"{path}: '{key}' is missing or not a list")
        self.category = category
        self.categories: Dict[int, ConceptInfo] = {}
        names: Dict[str, int] = {}
        for k, c in enumerate(data["categories"]):
            where = f"{path}: categories[{k}]"
            if not isinstance(c, dict) or not _is_int(c.get("id")) or \
                    not isinstance(c.get("name"), str):
                raise ProbeError(f"{where}: a category needs an integer id and a string name")
            cid = c["id"]
            where = f"{path}: category id {cid}"
            if cid in self.categories:
                raise ProbeError(f"{where}: id defined twice")
            name = check_concept_name(c["name"], where)
            if name in names:
                raise ProbeError(f"{where}: name '{name}' already used by category id "
                                 f"{names[name]}")
            names[name] = cid
            sup = c.get("supercategory", "")
            self.categories[cid] = ConceptInfo(category, name,
                                               sup if isinstance(sup, str) else str(sup),
                                               f"coco:{cid}")
        self.images: Dict[int, dict] = {}
        for k, im in enumerate(data["images"]):
            ok = isinstance(im, dict) and _is_int(im.get("id")) and \
                isinstance(im.get("file_name"), str) and im["file_name"] and \
                _is_int(im.get("height")) and _is_int(im.get("width")) and \
                im["height"] > 0 and im["width"] > 0
            if not ok:
                ident = im.get("id") if isinstance(im, dict) else None
                raise ProbeError(f"{path}: images[{k}] (id {ident}): an image needs an integer "
                                 "id, a file_name and positive integer height and width")
            if im["id"] in self.images:
                raise ProbeError(f"{path}: image id {im['id']}: id defined twice")
            self.images[im["id"]] = im
        self.by_image: Dict[int, List[dict]] = {i: [] for i in self.images}
        seen = set()
        for k, a in enumerate(data["annotations"]):
            if not isinstance(a, dict) or not _is_int(a.get("id")):
                raise ProbeError(f"{path}: annotations[{k}]: an annotation needs an integer id")
            where = f"{path}: annotation id {a['id']}"
            if a["id"] in seen:
                raise ProbeError(f"{where}: id used twice")
            seen.add(a["id"])
            if a.get("image_id") not in self.images:
                raise ProbeError(f"{where}: image_id {a.get('image_id')!r} is not in images")
            if a.get("category_id") not in self.categories:
                raise ProbeError(f"{where}: category_id {a.get('category_id')!r} is not in "
                                 "categories")
            crowd = a.get("iscrowd", 0)
            if crowd not in (0, 1) or isinstance(crowd, bool):
                raise ProbeError(f"{where}: iscrowd is {crowd!r}, not 0 or 1")
            seg = a.get("segmentation")
            if isinstance(seg, list):
                # An empty list covers nothing (detection-only records): allowed.
                if not all(isinstance(p, list) for p in seg):
                    raise ProbeError(f"{where}: segmentation is not a list of polygons "
                                     "[x1, y1, x2, y2, ...]")
            elif isinstance(seg, dict):
                size, counts = seg.get("size"), seg.get("counts")
                if not (isinstance(size, list) and len(size) == 2 and all(map(_is_int, size))):
                    raise ProbeError(f"{where}: RLE size must be [height, width]")
                img = self.images[a["image_id"]]
                if size != [img["height"], img["width"]]:
                    raise ProbeError(f"{where}: RLE size {size[0]}x{size[1]} differs from its "
                                     f"image's {img['height']}x{img['width']} (image id "
                                     f"{img['id']})")
                if not isinstance(counts, (list, str)):
                    raise ProbeError(f"{where}: RLE counts must be a list (uncompressed) or a "
                                     "string (compressed)")
            else:
                raise ProbeError(f"{where}: no segmentation (polygons or RLE expected)")
            self.by_image[a["image_id"]].append(a)

    def instance_mask(self, a: dict, img: dict, sh: int, sw: int) -> np.ndarray:
        """One annotation's mask on the sh x sw grid of its image."""
        h, w = img["height"], img["width"]
        seg = a["segmentation"]
        where = f"{self.path}: annotation id {a['id']} (image id {img['id']})"
        try:
            if isinstance(seg, list):
                m = np.zeros((sh, sw), dtype=bool)
                for p in seg:
                    m |= polygon_mask(p, sh, sw, sw / w, sh / h)
                return m
            counts = seg["counts"]
            full = (rle.decode_counts(counts, h, w) if isinstance(counts, list)
                    else rle.decode_string(counts, h, w))
        except (PolygonError, rle.RleError) as e:
            raise ProbeError(f"{where}: {e}") from None
        return imageio.nearest(full, sh, sw)


def convert(args, opts: Options) -> dict:
    category = check_category_name(args.category, "--category")
    coco = CocoSet(args.annotations, category)
    if not os.path.isdir(args.images):
        raise not_found(f"{args.images}: images folder not found (--images)")
    writer = ProbeWriter(opts, "coco", [category], list(coco.categories.values()))
    try:
        number = {cid: writer.concept_number(category, c.name)
                  for cid, c in coco.categories.items()}
        ids = sorted(coco.images, key=lambda i: (coco.images[i]["file_name"], i))
        progress = Progress("coco", len(ids), opts.quiet)
        crowd = 0
        for k, iid in enumerate(ids):
            img = coco.images[iid]
            anns = [a for a in coco.by_image[iid]
                    if not (args.crowd == "skip" and a.get("iscrowd", 0) == 1)]
            crowd += sum(a.get("iscrowd", 0) == 1 for a in anns)

            def masks(sh, sw, h, w, img=img, anns=anns):
                out: Dict[int, np.ndarray] = {}
                for a in anns:
                    m = coco.instance_mask(a, img, sh, sw)
                    c = number[a["category_id"]]
                    out[c] = out[c] | m if c in out else m
                return {category: out}

            writer.add_image(os.path.join(args.images, img["file_name"]), img["file_name"],
                             f"{args.annotations}: image id {iid}", masks=masks,
                             expect_size=(img["height"], img["width"]))
            progress.tick(k + 1)
        return writer.finish({"annotations": os.path.abspath(args.annotations),
                              "images_dir": os.path.abspath(args.images),
                              "crowd": args.crowd, "crowd_regions_used": crowd})
    except BaseException:
        writer.abort()
        raise
