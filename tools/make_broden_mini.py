#!/usr/bin/python3
"""Builds "broden-mini": a small probe set in BRODEN's on-disk format made of real photos.

Photographic Tux Paint stamps (RGBA cut-outs whose alpha channel is an exact object mask)
are pasted, scaled, flipped, slightly rotated and partly occluding one another, onto crops
of real photos (scikit-image's and OpenCV's sample images). Every image gets:

  object    a mask PNG: the concept of the top-most stamp at each pixel (alpha >= 128 after
            the stamp's resize and rotation); later pastes cover earlier ones.
  color     a mask PNG: one of BRODEN's 11 colour concepts per pixel, named by the rule of
            colour_names() below on the final (JPEG-decoded) image at mask resolution.
  material  a mask PNG on the background pixels no object covers, when the background is one
            of the texture photos (brick, grass, gravel); empty otherwise.

Output (BRODEN layout, read by src/probe/probe_set.h):
  OUT/index.csv     image,split,ih,iw,sh,sw,color,object,material
  OUT/label.csv     number,name,category,frequency,coverage,syns
  OUT/category.csv  name,first,last,count,frequency
  OUT/c_<cat>.csv   code,number,name,frequency,coverage
  OUT/images/mini/NNNNNN.jpg and NNNNNN_{color,object,material}.png  (label = R + 256*G)
  OUT/sources.csv   not BRODEN: which background and stamps made each image (provenance)

The concept tables are the project's own, in data/broden_mini/ (photo_stamps.tsv,
concepts.tsv, backgrounds.tsv); docs/BRODEN_MINI.md describes them and the rules.

Sources (Debian packages, used unpacked, never installed with their dependencies):
  apt-get download tuxpaint-stamps-default python3-skimage opencv-doc
  dpkg -x <each>.deb DIR/<package>        (or run this tool with --fetch)

Deterministic: the same tables, sources, --seed, --images and --size give byte-identical
files (every image draws from its own numpy Generator seeded with (seed, 1, image number),
so the worker count does not matter).

Usage:
  make_broden_mini.py --fetch [--pkgs DIR]                 # download + unpack the sources
  make_broden_mini.py --out DIR [--size 224|299] [--images 2000] [--seed 1]
                      [--pkgs DIR | --stamps DIR --backgrounds DIR...] [--jobs N] [--force]
"""

import argparse
import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
import time

EXIT_SOURCES = 3  # sources, tables or Python modules missing (tests skip on this code)

try:
    import numpy as np
    from PIL import Image
except ImportError as exc:  # pragma: no cover - depends on the machine
    sys.stderr.write(
        f"make_broden_mini: {exc}.\n"
        "  This tool runs with Debian's /usr/bin/python3 and needs python3-numpy and python3-pil:\n"
        "    apt-get install -y --no-install-recommends python3-numpy python3-pil\n")
    sys.exit(EXIT_SOURCES)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TABLES = os.path.join(REPO, "data", "broden_mini")
DEFAULT_PKGS = os.environ.get("NET2VEC_PKGS") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
    "net2vec", "pkgs")

# Debian package -> (directory inside the unpacked package, the same directory when installed)
PACKAGES = {
    "tuxpaint-stamps-default": "usr/share/tuxpaint/stamps",
    "python3-skimage": "usr/lib/python3/dist-packages/skimage/data",
    "opencv-doc": "usr/share/doc/opencv-doc/examples",
}

# BRODEN's colour concepts, in BRODEN's (alphabetical) order; they get label numbers 1-11.
COLOURS = ["black-c", "blue-c", "brown-c", "green-c", "grey-c", "orange-c", "pink-c",
           "purple-c", "red-c", "white-c", "yellow-c"]
CATEGORIES = ["color", "object", "material"]  # index.csv order (BRODEN's, minus part/scene/texture)

# Composition parameters (documented in docs/BRODEN_MINI.md).
PASTES = (3, 7)             # stamps tried per image, inclusive range
LONG_SIDE = (0.28, 0.62)    # stamp's longer side as a fraction of the image side
MAX_UPSCALE = 3.0           # never enlarge a stamp more than this (small stamps stay small)
ROTATE_P, ROTATE_DEG = 0.5, 15.0
OUTSIDE = 0.2               # a stamp may hang over the border by this fraction of its size
KEEP = 0.5                  # each earlier stamp keeps >= this fraction of its pixels visible
MIN_MASK_PIXELS = 30        # ... and >= this many pixels at mask resolution
TRIES = 10                  # placements tried per stamp before it is left out
CROP = (0.55, 1.0)          # background crop side as a fraction of the photo's shorter side
JPEG_QUALITY = 90


class SourceError(Exception):
    """A source (stamps, backgrounds, tables) is missing: exit code EXIT_SOURCES."""


def fetch_hint(package, pkgs_dir):
    return (f"mkdir -p {pkgs_dir} && cd {pkgs_dir} && apt-get download {package} && "
            f"dpkg -x {package}_*.deb {os.path.join(pkgs_dir, package)}"
            f"   (or all three at once: {os.path.abspath(__file__)} --fetch --pkgs {pkgs_dir})")


# ---------------------------------------------------------------------------------------
# Tables

def read_tsv(path):
    if not os.path.isfile(path):
        raise SourceError(f"table not found: {path} (pass --tables DIR, the folder holding "
                          "photo_stamps.tsv, concepts.tsv and backgrounds.tsv)")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def load_tables(tables_dir):
    stamps = read_tsv(os.path.join(tables_dir, "photo_stamps.tsv"))
    concepts = read_tsv(os.path.join(tables_dir, "concepts.tsv"))
    backgrounds = read_tsv(os.path.join(tables_dir, "backgrounds.tsv"))
    known = {row["concept"] for row in concepts}
    used = [r for r in stamps if r["use"] == "1" and r["mirror_or_dup"] == "0"]
    unknown = sorted({r["concept"] for r in used} - known)
    if unknown:
        raise SourceError(f"photo_stamps.tsv uses concepts missing from concepts.tsv: {unknown}")
    used.sort(key=lambda r: (r["concept"], r["path"]))
    backgrounds.sort(key=lambda r: r["file"])
    return used, backgrounds


# ---------------------------------------------------------------------------------------
# Sources

def list_files(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            out.append(os.path.join(dirpath, name))
    return out


def resolve_stamps_dir(args):
    candidates = []
    if args.stamps:
        candidates = [args.stamps, os.path.join(args.stamps, PACKAGES["tuxpaint-stamps-default"])]
    else:
        candidates = [os.path.join(args.pkgs, "tuxpaint-stamps-default",
                                   PACKAGES["tuxpaint-stamps-default"]),
                      "/" + PACKAGES["tuxpaint-stamps-default"]]
    for c in candidates:
        if os.path.isdir(os.path.join(c, "animals")):
            return c
    where = args.stamps or " or ".join(candidates)
    raise SourceError(
        f"Tux Paint stamps not found in {where} (expected a folder with animals/, food/, ...).\n"
        f"  Get them with: {fetch_hint('tuxpaint-stamps-default', args.pkgs)}\n"
        f"  then pass --pkgs {args.pkgs} (or --stamps "
        f"{os.path.join(args.pkgs, 'tuxpaint-stamps-default', PACKAGES['tuxpaint-stamps-default'])})")


def resolve_backgrounds(args, backgrounds):
    if args.backgrounds:
        dirs = args.backgrounds
        for d in dirs:
            if not os.path.isdir(d):
                raise SourceError(
                    f"background folder not found: {d}\n"
                    f"  Get the photos with: {fetch_hint('python3-skimage', args.pkgs)}\n"
                    f"                  and: {fetch_hint('opencv-doc', args.pkgs)}")
    else:
        dirs = []
        for pkg in ("python3-skimage", "opencv-doc"):
            unpacked = os.path.join(args.pkgs, pkg, PACKAGES[pkg])
            dirs.append(unpacked if os.path.isdir(unpacked) else "/" + PACKAGES[pkg])
    files = []
    for d in dirs:
        if os.path.isdir(d):
            files.extend(list_files(os.path.abspath(d)))
    by_name = {}
    for f in files:
        by_name.setdefault(os.path.basename(f), []).append(f)
    found, missing = [], []
    for row in backgrounds:
        rel = row["file"]
        hits = [f for f in files if f.endswith("/" + rel)]
        if not hits and len(by_name.get(os.path.basename(rel), [])) == 1:
            hits = by_name[os.path.basename(rel)]
        if hits:
            found.append(sorted(hits)[0])
        else:
            missing.append(row)
    if missing:
        pkgs = sorted({r["package"] for r in missing})
        lines = "\n".join(f"    {fetch_hint(p, args.pkgs)}" for p in pkgs)
        names = ", ".join(r["file"] for r in missing)
        raise SourceError(
            f"background photos not found in {' '.join(dirs)}: {names}\n"
            f"  They come from the Debian package(s) {', '.join(pkgs)}; get them with:\n{lines}\n"
            f"  then pass --pkgs {args.pkgs} (or --backgrounds with the unpacked folders)")
    return found


def fetch(pkgs_dir):
    os.makedirs(pkgs_dir, exist_ok=True)
    for pkg in PACKAGES:
        target = os.path.join(pkgs_dir, pkg)
        if os.path.isdir(os.path.join(target, PACKAGES[pkg])):
            print(f"{pkg}: already unpacked in {target}")
            continue
        print(f"{pkg}: apt-get download + dpkg -x into {target}", flush=True)
        for old in os.listdir(pkgs_dir):
            if old.startswith(pkg + "_") and old.endswith(".deb"):
                os.remove(os.path.join(pkgs_dir, old))
        subprocess.run(["apt-get", "download", pkg], cwd=pkgs_dir, check=True)
        debs = sorted(f for f in os.listdir(pkgs_dir) if f.startswith(pkg + "_") and f.endswith(".deb"))
        if not debs:
            raise SourceError(f"apt-get download {pkg} left no .deb in {pkgs_dir}")
        subprocess.run(["dpkg", "-x", os.path.join(pkgs_dir, debs[-1]), target], check=True)
        os.remove(os.path.join(pkgs_dir, debs[-1]))


# ---------------------------------------------------------------------------------------
# Colour naming (one rule, applied per pixel at mask resolution)

_SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                         [0.2126729, 0.7151522, 0.0721750],
                         [0.0193339, 0.1191920, 0.9503041]])
_D65 = np.array([0.95047, 1.0, 1.08883])


def srgb_to_lch(rgb):
    """uint8 sRGB (..., 3) -> CIELAB L*, C*ab, hue angle in degrees [0, 360) under D65."""
    c = rgb.astype(np.float64) / 255.0
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = (c @ _SRGB_TO_XYZ.T) / _D65
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    L = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return L, np.hypot(a, b), np.degrees(np.arctan2(b, a)) % 360


def colour_names(rgb):
    """Names each pixel with one of COLOURS (index + 1) or 0 (unsure). The rule, in CIELAB
    LCh (D65), is evaluated in this order:
      1. L* < 12                                  -> black (too dark to show a hue)
      2. chroma C* < 10 (achromatic):  L* < 30 black, L* > 80 white, else grey
      3. 10 <= C* < 16: L* < 30 black, else 0 = unlabelled (unsure: grey or a hue?)
      4. chromatic (C* >= 16), by hue angle h:
           red [350, 48)  orange [48, 85)  yellow [85, 115)  green [115, 190)
           blue [190, 310)  purple [310, 350)
         then two modifiers:
           brown: h in [20, 100) and (L* < 55 or (C* < 45 and L* < 75)) (dark or dull
                  oranges and yellows), except saturated reds (h < 48 and C* >= 50);
           pink:  not brown, (h >= 320 or h < 48) and L* >= 60 (light reds and magentas).
    """
    L, C, h = srgb_to_lch(rgb)
    code = {name: i + 1 for i, name in enumerate(COLOURS)}
    hue = np.full(L.shape, code["red-c"], dtype=np.int32)
    hue[(h >= 48) & (h < 85)] = code["orange-c"]
    hue[(h >= 85) & (h < 115)] = code["yellow-c"]
    hue[(h >= 115) & (h < 190)] = code["green-c"]
    hue[(h >= 190) & (h < 310)] = code["blue-c"]
    hue[(h >= 310) & (h < 350)] = code["purple-c"]
    warm = (h >= 20) & (h < 100)
    brown = warm & ((L < 55) | ((C < 45) & (L < 75))) & ~((h < 48) & (C >= 50))
    hue[brown] = code["brown-c"]
    pink = ((h >= 320) | (h < 48)) & (L >= 60)
    hue[pink & ~brown] = code["pink-c"]

    grey = np.where(L < 30, code["black-c"], np.where(L > 80, code["white-c"], code["grey-c"]))
    unsure = np.where(L < 30, code["black-c"], 0)
    out = np.where(C < 10, grey, np.where(C < 16, unsure, hue))
    out[L < 12] = code["black-c"]
    return out.astype(np.int32)


# Reference colours (CSS names) and the name the rule must give them: a self-check of
# colour_names() (--check-colours), run by tests/probe_mini.
REFERENCE_COLOURS = [
    ((0, 0, 0), "black-c"), ((40, 40, 40), "black-c"), ((0, 0, 128), "blue-c"),
    ((0, 0, 255), "blue-c"), ((135, 206, 235), "blue-c"), ((70, 130, 180), "blue-c"),
    ((150, 75, 0), "brown-c"), ((139, 69, 19), "brown-c"), ((210, 180, 140), "brown-c"),
    ((0, 128, 0), "green-c"), ((0, 255, 0), "green-c"), ((34, 139, 34), "green-c"),
    ((128, 128, 128), "grey-c"), ((105, 105, 105), "grey-c"), ((192, 192, 192), "grey-c"),
    ((255, 128, 0), "orange-c"), ((255, 165, 0), "orange-c"),
    ((255, 192, 203), "pink-c"), ((255, 105, 180), "pink-c"), ((250, 128, 114), "pink-c"),
    ((128, 0, 128), "purple-c"), ((138, 43, 226), "purple-c"), ((75, 0, 130), "purple-c"),
    ((255, 0, 0), "red-c"), ((139, 0, 0), "red-c"), ((220, 20, 60), "red-c"),
    ((255, 255, 255), "white-c"), ((211, 211, 211), "white-c"),
    ((255, 255, 0), "yellow-c"), ((255, 215, 0), "yellow-c"), ((240, 230, 140), "yellow-c"),
]


def check_colours():
    rgb = np.array([c for c, _ in REFERENCE_COLOURS], dtype=np.uint8)
    got = colour_names(rgb)
    bad = [(c, want, COLOURS[g - 1] if g else "unlabelled")
           for (c, want), g in zip(REFERENCE_COLOURS, got) if not g or COLOURS[g - 1] != want]
    for c, want, name in bad:
        print(f"colour rule: sRGB {c} named {name}, expected {want}")
    n = len(REFERENCE_COLOURS)
    print(f"colour rule: {n - len(bad)} of {n} reference colours named as expected")
    return 1 if bad else 0


# ---------------------------------------------------------------------------------------
# Rendering (runs in worker processes; reads the module globals set up before the fork)

G = {}


def load_sources(stamp_rows, stamps_dir, bg_rows, bg_files):
    stamps = []
    for row in stamp_rows:
        path = os.path.join(stamps_dir, row["path"])
        if not os.path.isfile(path):
            raise SourceError(f"stamp listed in photo_stamps.tsv not found: {path}")
        im = Image.open(path)
        im.load()
        im = im.convert("RGBA")
        box = im.getchannel("A").getbbox()
        if box is None:
            raise SourceError(f"stamp is fully transparent: {path}")
        stamps.append(im.crop(box).convert("RGBa"))  # premultiplied: clean resize/rotate edges
    backgrounds = []
    for row, f in zip(bg_rows, bg_files):
        im = Image.open(f)
        im.load()
        backgrounds.append(im.convert("RGB"))
    return stamps, backgrounds


def encode_labels(labels):
    """int label map -> 8-bit RGB array with label = R + 256*G."""
    rgb = np.zeros(labels.shape + (3,), dtype=np.uint8)
    rgb[..., 0] = labels & 255
    rgb[..., 1] = (labels >> 8) & 255
    return rgb


def save_png(path, labels):
    Image.fromarray(encode_labels(labels), "RGB").save(path, format="PNG")


def split_of(image_name):
    """train for ~70% of the names, val for the rest: by the MD5 of the file name."""
    return "train" if int(hashlib.md5(image_name.encode()).hexdigest()[:8], 16) % 100 < 70 else "val"


def offset(rng, side, extent):
    """Top-left coordinate of an `extent`-long stamp on a `side`-long canvas, letting it hang
    over either border by up to OUTSIDE of its extent."""
    low = -int(OUTSIDE * extent)
    high = max(side - int((1 - OUTSIDE) * extent), low)
    return int(rng.integers(low, high + 1))


def render(task):
    """Composes image `index` from its plan; writes its files; returns its index row,
    per-label pixel counts (at mask resolution) and provenance."""
    index, plan = task
    S, M = G["size"], G["mask"]
    rng = np.random.default_rng([G["seed"], 1, index])

    # Background: a random square crop, resized to S x S, maybe mirrored.
    b = int(rng.choice(len(G["backgrounds"]), p=G["bg_weights"]))
    bg = G["backgrounds"][b]
    side = min(bg.size) * rng.uniform(*CROP)
    x0 = rng.uniform(0, bg.size[0] - side)
    y0 = rng.uniform(0, bg.size[1] - side)
    canvas = bg.resize((S, S), Image.LANCZOS, box=(x0, y0, x0 + side, y0 + side))
    bg_flip = bool(rng.random() < 0.5)
    if bg_flip:
        canvas = canvas.transpose(Image.FLIP_LEFT_RIGHT)
    comp = np.asarray(canvas, dtype=np.float32).copy()

    objmap = np.zeros((S, S), dtype=np.int32)  # 1-based paste slot per pixel, 0 = background
    own, visible, placed = [0], [0], []        # per slot: pixels when pasted, pixels still visible
    min_px = MIN_MASK_PIXELS * (S / M) ** 2
    for concept_label, stamp_idx in plan:
        stamp = G["stamps"][stamp_idx]
        for _ in range(TRIES):
            w, h = stamp.size
            scale = min(S * rng.uniform(*LONG_SIDE) / max(w, h), MAX_UPSCALE)
            tw, th = max(1, round(w * scale)), max(1, round(h * scale))
            im = stamp.resize((tw, th), Image.BICUBIC, reducing_gap=3.0)
            if rng.random() < 0.5 and G["stamp_flip"][stamp_idx]:  # not stamps with text
                im = im.transpose(Image.FLIP_LEFT_RIGHT)
            if rng.random() < ROTATE_P:
                angle = float(rng.uniform(-ROTATE_DEG, ROTATE_DEG))
                im = im.rotate(angle, Image.BICUBIC, expand=True)
            arr = np.asarray(im)
            ph, pw = arr.shape[:2]
            px, py = offset(rng, S, pw), offset(rng, S, ph)
            # Clip the stamp to the canvas.
            cx0, cy0 = max(px, 0), max(py, 0)
            cx1, cy1 = min(px + pw, S), min(py + ph, S)
            if cx1 <= cx0 or cy1 <= cy0:
                continue
            part = arr[cy0 - py:cy1 - py, cx0 - px:cx1 - px]
            mask = part[..., 3] >= 128
            n = int(mask.sum())
            if n < min_px:
                continue
            covered = np.bincount(objmap[cy0:cy1, cx0:cx1][mask], minlength=len(own))
            after = np.asarray(visible) - covered
            ok = all(after[k] >= max(KEEP * own[k], min_px) for k in range(1, len(own)))
            if not ok:
                continue
            alpha = part[..., 3:4].astype(np.float32) / 255.0
            region = comp[cy0:cy1, cx0:cx1]
            region *= 1.0 - alpha
            region += part[..., :3]
            objmap[cy0:cy1, cx0:cx1][mask] = len(own)
            visible = list(after) + [n]
            own.append(n)
            placed.append((concept_label, stamp_idx))
            break

    image = Image.fromarray(np.clip(np.rint(comp), 0, 255).astype(np.uint8), "RGB")
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=JPEG_QUALITY)
    jpeg = buf.getvalue()

    # Masks at mask resolution: objects by nearest (pixel-centre) sampling of the full-size
    # map; colours on the decoded JPEG, box-averaged down to M x M.
    centres = ((np.arange(M) + 0.5) * S / M).astype(np.int64)
    slot_labels = np.array([0] + [c for c, _ in placed], dtype=np.int32)
    objects = slot_labels[objmap[np.ix_(centres, centres)]]
    decoded = Image.open(io.BytesIO(jpeg)).convert("RGB").resize((M, M), Image.BOX)
    colours = colour_names(np.asarray(decoded))
    colours[colours > 0] += G["colour_base"] - 1
    material = G["bg_material"][b]
    materials = np.where(objects == 0, material, 0).astype(np.int32) if material else None

    name = f"mini/{index:06d}"
    out = G["images_dir"]
    with open(os.path.join(out, name + ".jpg"), "wb") as f:
        f.write(jpeg)
    cells = {}
    counts = {}
    for cat, labels in (("color", colours), ("object", objects), ("material", materials)):
        if labels is None:
            cells[cat] = ""
            continue
        values, n = np.unique(labels, return_counts=True)
        keep = values > 0
        if not keep.any():
            cells[cat] = ""
            continue
        counts.update(zip(values[keep].tolist(), n[keep].tolist()))
        save_png(os.path.join(out, f"{name}_{cat}.png"), labels)
        cells[cat] = f"{name}_{cat}.png"

    image_name = name + ".jpg"
    split = split_of(image_name)
    row = [image_name, split, S, S, M, M, cells["color"], cells["object"], cells["material"]]
    source = [image_name, G["bg_names"][b],
              f"{x0:.1f};{y0:.1f};{side:.1f};{int(bg_flip)}",
              ";".join(G["stamp_names"][s] for _, s in placed)]
    return row, counts, source


# ---------------------------------------------------------------------------------------
# Driver

def plan_pastes(rng, n_images, concept_stamps):
    """Balanced schedule: concepts are dealt in rounds of a fresh random permutation, and each
    concept cycles through its own photos, so every concept gets nearly the same number of
    pastes whatever its number of photos."""
    counts = rng.integers(PASTES[0], PASTES[1] + 1, size=n_images)
    total = int(counts.sum())
    concepts = sorted(concept_stamps)
    stream = []
    while len(stream) < total:
        stream.extend(concepts[i] for i in rng.permutation(len(concepts)))
    cycles = {c: [concept_stamps[c][i] for i in rng.permutation(len(concept_stamps[c]))]
              for c in concepts}
    used = {c: 0 for c in concepts}
    plans, pos = [], 0
    for k in counts:
        plan = []
        for c in stream[pos:pos + k]:
            plan.append((c, cycles[c][used[c] % len(cycles[c])]))
            used[c] += 1
        plans.append(plan)
        pos += k
    return plans


def prepare_out(out, force):
    ours = ["index.csv", "label.csv", "category.csv", "sources.csv"] + \
           [f"c_{c}.csv" for c in CATEGORIES] + ["images"]
    present = [p for p in ours if os.path.exists(os.path.join(out, p))]
    if present and not force:
        raise SystemExit(f"make_broden_mini: {out} already holds a probe set ({', '.join(present)}); "
                         "pass --force to replace it")
    for p in present:
        full = os.path.join(out, p)
        if os.path.isdir(full):
            shutil.rmtree(full)
        else:
            os.remove(full)
    os.makedirs(os.path.join(out, "images", "mini"), exist_ok=True)


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="output folder (the probe set's root)")
    p.add_argument("--size", type=int, default=224, help="image side: 224 (masks 112) or 299 "
                   "(masks 149); any other side gets masks of side // 2")
    p.add_argument("--images", type=int, default=2000, help="number of images (default 2000)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--pkgs", default=DEFAULT_PKGS,
                   help="folder holding the unpacked Debian packages as <pkgs>/<package>/ "
                        f"(default $NET2VEC_PKGS or {DEFAULT_PKGS}); installed copies under / "
                        "are used when a package is not there")
    p.add_argument("--stamps", help="Tux Paint stamps folder (or the unpacked package root)")
    p.add_argument("--backgrounds", nargs="+", metavar="DIR",
                   help="folders searched for the photos of backgrounds.tsv")
    p.add_argument("--tables", default=DEFAULT_TABLES, help=f"concept tables (default {DEFAULT_TABLES})")
    p.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, 8), help="worker processes")
    p.add_argument("--force", action="store_true", help="replace a probe set already in --out")
    p.add_argument("--fetch", action="store_true",
                   help="apt-get download + dpkg -x the three source packages into --pkgs, then exit "
                        "(or go on and generate when --out is given)")
    p.add_argument("--check-colours", action="store_true",
                   help="check the colour rule on reference colours and exit")
    args = p.parse_args(argv)
    if args.check_colours:
        return check_colours()
    if not args.fetch and not args.out:
        p.error("--out is required (or --fetch)")
    if args.size < 32 or args.images < 1 or args.jobs < 1 or args.seed < 0:
        p.error("--size must be >= 32, --images and --jobs >= 1, --seed >= 0")

    try:
        if args.fetch:
            fetch(args.pkgs)
            if not args.out:
                return 0
        start = time.time()
        stamp_rows, bg_rows = load_tables(args.tables)
        stamps_dir = resolve_stamps_dir(args)
        bg_files = resolve_backgrounds(args, bg_rows)
        stamps, backgrounds = load_sources(stamp_rows, stamps_dir, bg_rows, bg_files)
    except SourceError as exc:
        sys.stderr.write(f"make_broden_mini: {exc}\n")
        return EXIT_SOURCES
    t_load = time.time() - start

    S, M = args.size, args.size // 2
    concepts = sorted({r["concept"] for r in stamp_rows})
    materials = sorted({r["material"] for r in bg_rows if r["material"]})
    # Label numbers are fixed by the tables (not by what a run happens to draw).
    names = COLOURS + concepts + materials
    category_of = ["color"] * len(COLOURS) + ["object"] * len(concepts) + ["material"] * len(materials)
    number = {(category_of[i], n): i + 1 for i, n in enumerate(names)}
    concept_stamps = {}
    for i, r in enumerate(stamp_rows):
        concept_stamps.setdefault(number[("object", r["concept"])], []).append(i)

    weights = np.array([float(r["weight"]) for r in bg_rows])
    G.update(size=S, mask=M, seed=args.seed, stamps=stamps, backgrounds=backgrounds,
             bg_weights=weights / weights.sum(),
             bg_material=[number[("material", r["material"])] if r["material"] else 0 for r in bg_rows],
             bg_names=[r["file"] for r in bg_rows], stamp_names=[r["path"] for r in stamp_rows],
             stamp_flip=[r["flip"] != "0" for r in stamp_rows],
             colour_base=number[("color", COLOURS[0])],
             images_dir=os.path.join(args.out, "images"))
    plans = plan_pastes(np.random.default_rng([args.seed, 0]), args.images, concept_stamps)

    prepare_out(args.out, args.force)
    tasks = list(enumerate(plans))
    if args.jobs == 1:
        results = [render(t) for t in tasks]
    else:
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            results = list(pool.imap(render, tasks, chunksize=8))

    # Label figures: frequency = images holding the label, coverage = sum over those images
    # of the fraction of mask pixels it covers (BRODEN's convention).
    n_labels = len(names)
    freq = np.zeros(n_labels + 1, dtype=np.int64)
    freq_train = np.zeros(n_labels + 1, dtype=np.int64)
    cover = np.zeros(n_labels + 1)
    cat_images = {c: 0 for c in CATEGORIES}
    for row, counts, _ in results:
        for label, px in counts.items():
            freq[label] += 1
            cover[label] += px / (M * M)
            if row[1] == "train":
                freq_train[label] += 1
        for c, cell in zip(CATEGORIES, row[6:9]):
            cat_images[c] += bool(cell)

    write_csv(os.path.join(args.out, "label.csv"),
              ["number", "name", "category", "frequency", "coverage", "syns"],
              [[i + 1, names[i], f"{category_of[i]}({freq[i + 1]})", freq[i + 1],
                f"{cover[i + 1]:.6f}", ""] for i in range(n_labels)])
    cat_rows = []
    for c in CATEGORIES:
        nums = [i + 1 for i in range(n_labels) if category_of[i] == c]
        cat_rows.append([c, nums[0], nums[-1], len(nums), cat_images[c]])
        write_csv(os.path.join(args.out, f"c_{c}.csv"),
                  ["code", "number", "name", "frequency", "coverage"],
                  [[k + 1, n, names[n - 1], freq[n], f"{cover[n]:.6f}"] for k, n in enumerate(nums)])
    write_csv(os.path.join(args.out, "category.csv"),
              ["name", "first", "last", "count", "frequency"], cat_rows)
    write_csv(os.path.join(args.out, "sources.csv"), ["image", "background", "crop", "stamps"],
              [s for _, _, s in results])
    tmp = os.path.join(args.out, "index.csv.tmp")
    write_csv(tmp, ["image", "split", "ih", "iw", "sh", "sw"] + CATEGORIES, [r for r, _, _ in results])
    os.replace(tmp, os.path.join(args.out, "index.csv"))
    elapsed = time.time() - start

    # Summary.
    n_train = sum(r[1] == "train" for r, _, _ in results)
    pastes_planned = sum(len(pl) for pl in plans)
    pastes_placed = sum(len(s[3].split(";")) if s[3] else 0 for _, _, s in results)
    print(f"broden-mini: {args.images} images {S}x{S}, masks {M}x{M}, seed {args.seed} -> {args.out}")
    print(f"  split: {n_train} train, {args.images - n_train} val")
    print(f"  stamps placed: {pastes_placed} of {pastes_planned} planned "
          f"({len(stamp_rows)} photos of {len(concepts)} concepts; {len(bg_rows)} backgrounds)")
    for c in CATEGORIES:
        nums = [i + 1 for i in range(n_labels) if category_of[i] == c]
        f_all = np.array([freq[n] for n in nums])
        f_tr = np.array([freq_train[n] for n in nums])
        print(f"  {c:8s}: {int((f_all > 0).sum()):3d} concepts present of {len(nums)}; images per concept "
              f"min {f_all.min()} median {np.median(f_all):g} max {f_all.max()}; "
              f"train images min {f_tr.min()} median {np.median(f_tr):g}; "
              f"images with a {c} mask: {cat_images[c]}")
    colour_px = sum(cover[i + 1] for i in range(n_labels) if category_of[i] == "color")
    print(f"  colour-named pixels: {100 * colour_px / args.images:.1f}% (the rest: rule unsure)")
    obj = [i + 1 for i in range(n_labels) if category_of[i] == "object"]
    print(f"  object concepts with >= 20 train images: {sum(freq_train[n] >= 20 for n in obj)}")
    rare = sorted(obj, key=lambda n: (freq_train[n], names[n - 1]))[:5]
    print("  fewest train images: " + ", ".join(f"{names[n - 1]} {freq_train[n]}" for n in rare))
    print(f"  time: {elapsed:.1f} s (sources {t_load:.1f} s, {args.jobs} jobs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
