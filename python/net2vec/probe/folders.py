"""Image-level concepts -> a probe set of whole-image labels (classification only).

--root DIR: a folder per concept, DIR/<concept>/... (images found recursively; files that are
not images by their extension are skipped). --csv F with --images DIR: rows

    image,concept[,category]
    beach/001.jpg,sandy
    beach/001.jpg,sunny

an image on several rows carries several concepts. The concepts go to index.csv as BRODEN's
scene and texture columns do (integer label numbers in the category's column), so net2vec
learns classification spaces for them and no segmentation.
"""

import os
from typing import Dict, List, Set

from .errors import ProbeError, not_found
from .labelmap import read_csv_rows
from .writer import ConceptInfo, Options, Progress, ProbeWriter, check_category_name, \
    check_concept_name

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")


def _images_under(folder: str) -> List[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if not f.startswith(".") and os.path.splitext(f)[1].lower() in IMAGE_EXTS:
                out.append(os.path.join(dirpath, f))
    return out


def convert(args, opts: Options) -> dict:
    default_category = check_category_name(args.category, "--category")
    # image path -> {(category, concept)}, in a stable order
    items: Dict[str, Set[tuple]] = {}
    where: Dict[str, str] = {}
    base = None
    if args.root:
        if not os.path.isdir(args.root):
            raise not_found(f"{args.root}: folder not found (--root)")
        base = args.root
        subdirs = sorted(d for d in os.listdir(args.root)
                         if not d.startswith(".") and os.path.isdir(os.path.join(args.root, d)))
        if not subdirs:
            raise ProbeError(f"{args.root}: no concept folders (expected {args.root}/<concept>/"
                             "<images>)")
        for d in subdirs:
            name = check_concept_name(d, os.path.join(args.root, d))
            for path in _images_under(os.path.join(args.root, d)):
                items.setdefault(path, set()).add((default_category, name))
                where[path] = f"concept folder {os.path.join(args.root, d)}"
        categories = [default_category]
    else:
        if not args.images:
            raise ProbeError("--csv needs --images DIR (the folder its image paths are "
                             "relative to)")
        if not os.path.isdir(args.images):
            raise not_found(f"{args.images}: folder not found (--images)")
        base = args.images
        header, rows = read_csv_rows(args.csv, ("image", "concept"), "concept file (--csv)")
        categories = []
        for line, r in rows:
            w = f"{args.csv}:{line}"
            if not r["image"]:
                raise ProbeError(f"{w}: empty image path")
            name = check_concept_name(r["concept"], w)
            cat = check_category_name(r.get("category") or default_category, w)
            if cat not in categories:
                categories.append(cat)
            path = os.path.join(args.images, r["image"])
            if not os.path.isfile(path):
                raise not_found(f"{w}: image {path} not found")
            items.setdefault(path, set()).add((cat, name))
            where.setdefault(path, w)
    if not items:
        raise ProbeError(f"{args.root or args.csv}: no images found")
    concepts = {}
    for labels in items.values():
        for cat, name in labels:
            concepts.setdefault((cat, name), ConceptInfo(cat, name, "", "folders"))
    writer = ProbeWriter(opts, "folders", categories, list(concepts.values()))
    try:
        paths = sorted(items, key=lambda p: os.path.relpath(p, base))
        progress = Progress("folders", len(paths), opts.quiet)
        for k, path in enumerate(paths):
            whole: Dict[str, Set[int]] = {}
            for cat, name in items[path]:
                whole.setdefault(cat, set()).add(writer.concept_number(cat, name))
            writer.add_image(path, os.path.relpath(path, base), where[path], whole=whole)
            progress.tick(k + 1)
        return writer.finish({"source": os.path.abspath(args.root or args.csv)})
    except BaseException:
        writer.abort()
        raise
