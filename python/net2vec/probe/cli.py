"""The command line of net2vec-probe (tools/net2vec-probe, python -m net2vec.probe)."""

import argparse
import sys
from typing import List, Optional

from .errors import EXIT_INTERNAL, EXIT_INVALID, EXIT_OK, ProbeError
from .writer import TOOL, Options

DESCRIPTION = """\
Convert your own annotations into a probe set in BRODEN's layout (index.csv, label.csv,
category.csv, c_*.csv, images/ with label-coded mask PNGs), which net2vec-ingest reads as it
reads BRODEN. docs/PROBES.md has an example of each format.

  coco      COCO-style instance annotations (polygons, RLE, crowd regions) -> object concepts
  labelmap  one class-id PNG per image + a CSV naming the ids -> concepts with masks
  folders   a folder per concept, or (image, concept) rows -> whole-image concepts
            (classification only, as BRODEN's scene and texture)
  merge     several probe sets -> one, concepts keyed by (category, name)

The output is written to a temporary folder beside --out and renamed when complete: an error
leaves nothing behind. Check the result with `net2vec probe check OUT`, then ingest it with
`net2vec-ingest --probe OUT ...`."""

EPILOG = """\
exit status: 0 written, 1 internal error, 2 invalid input or usage (the message names the file
and the record: annotation id, CSV line, mask pixel), 3 a file or folder not found, 4 I/O
error."""


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"{text} is not in [0, 1)")
    return v


def _scale(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not in (0, 1] (1: masks at image size, "
                                         "0.5: half size as BRODEN)")
    return v


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"'{text}' is not a non-negative integer")
    return int(text)


def _common(p: argparse.ArgumentParser, merge: bool = False) -> None:
    g = p.add_argument_group("output (common to every subcommand)")
    g.add_argument("--out", required=True, metavar="DIR",
                   help="the probe set folder to write; it must not exist (or be empty) "
                        "unless --force")
    g.add_argument("--force", action="store_true",
                   help="replace an existing --out (only once the new set is complete)")
    if merge:
        g.add_argument("--size", type=_count, default=0, metavar="N",
                       help="resize every image to N x N (bilinear) and its masks to "
                            "floor(N * --mask-scale) by nearest neighbour; default 0: keep "
                            "images and masks as the sources have them (their mask sizes "
                            "must then agree)")
    else:
        g.add_argument("--size", type=_count, default=224, metavar="N",
                       help="resize every image to N x N (bilinear, aspect not kept, as "
                            "BRODEN stores its images; default 224; 227 for AlexNet); 0 keeps "
                            "each image's size, which then must be the same for all images, "
                            "as net2vec needs one mask size for the whole set")
    g.add_argument("--mask-scale", type=_scale, default=0.5, metavar="S",
                   help="mask side = floor(image side * S): 0.5 (default) is BRODEN's half "
                        "size (224 -> 112, 227 -> 113), 1 keeps masks at image size. "
                        "Polygons are rasterized on the mask grid directly; RLE and label maps "
                        "are sampled there by nearest neighbour")
    if merge:
        g.add_argument("--val-fraction", type=_fraction, default=None, metavar="F",
                       help="split all images anew, stratified per concept, with this val "
                            "fraction (default: each image keeps its source's split)")
    else:
        g.add_argument("--val-fraction", type=_fraction, default=0.3, metavar="F",
                       help="fraction of each concept's images put in val (default 0.3, "
                            "BRODEN's ~70/30): a stratified split, rarest concept first, "
                            "docs/PROBES.md")
        g.add_argument("--split", choices=("auto", "train", "val"), default="auto",
                       help="auto (default): the stratified split; train or val: every image "
                            "in that split (e.g. COCO's train2017 and val2017 converted apart, "
                            "then merged)")
    g.add_argument("--seed", type=_count, default=1,
                   help="seed of the split's shuffle (default 1): the same input, options "
                        "and seed give the same split")
    g.add_argument("--min-images", type=_count, default=10, metavar="N",
                   help="leave out concepts present in fewer than N images (default 10, as "
                        "BRODEN); their pixels become unlabelled")
    g.add_argument("-q", "--quiet", action="store_true",
                   help="no progress lines or notes on stderr")


def parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog=TOOL, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=fmt)
    sub = p.add_subparsers(dest="command", metavar="SUBCOMMAND")
    sub.required = True

    c = sub.add_parser("coco", epilog=EPILOG,
                       help="COCO-style instance annotations -> object concepts",
                       description="COCO-style instance annotations (a JSON file with images, "
                                   "annotations and categories) -> a probe set. Each category "
                                   "is an object concept (supercategory in concepts.csv); all "
                                   "instances of a category in an image unite into its mask. "
                                   "Segmentations: polygons (pixel centres inside, even-odd "
                                   "rule; docs/PROBES.md), uncompressed RLE (counts list) or "
                                   "compressed RLE (counts string).")
    c.add_argument("--annotations", required=True, metavar="F.json",
                   help="the annotation file (e.g. instances_val2017.json)")
    c.add_argument("--images", required=True, metavar="DIR",
                   help="the folder the images' file_name is relative to")
    c.add_argument("--crowd", choices=("include", "skip"), default="include",
                   help="crowd regions (iscrowd 1, a group of instances as one RLE): include "
                        "(default) counts their pixels as the category's; skip leaves them out")
    c.add_argument("--category", default="object",
                   help="the category of the concepts (default object)")
    _common(c)

    lm = sub.add_parser("labelmap", epilog=EPILOG,
                        help="class-id PNG masks + a labels CSV -> concepts with masks",
                        description="Label maps (one PNG per image whose pixel values are "
                                    "class ids: 8-bit grey, palette indices or 16-bit grey) -> "
                                    "a probe set. --labels names the ids: a CSV with header "
                                    "id,name[,category]; ids sharing a (category, name) are one "
                                    "concept. A mask MASKS/a/b.png belongs to the image "
                                    "IMAGES/a/b.jpg (.jpeg, .png).")
    lm.add_argument("--masks", required=True, metavar="DIR",
                    help="folder of the mask PNGs (searched recursively)")
    lm.add_argument("--labels", required=True, metavar="F.csv",
                    help="CSV naming the class ids: id,name[,category]")
    lm.add_argument("--images", required=True, metavar="DIR",
                    help="folder of the images, laid out as --masks")
    lm.add_argument("--ignore", type=int, action="append", metavar="ID",
                    help="a class id that means unlabelled (e.g. 255, or 0 for ADE20K's "
                         "'other'); repeat for several. Any other id missing from --labels is "
                         "an error")
    lm.add_argument("--category", default="object",
                    help="category of labels whose CSV row has none (default object)")
    lm.add_argument("--mask-suffix", default="", metavar="S",
                    help="mask names end with S before .png (Cityscapes: _gtFine_labelIds)")
    lm.add_argument("--image-suffix", default="", metavar="S",
                    help="image names end with S before the extension (Cityscapes: "
                         "_leftImg8bit)")
    _common(lm)

    f = sub.add_parser("folders", epilog=EPILOG,
                       help="image-level concepts -> whole-image labels (classification only)",
                       description="Image-level concepts -> a probe set of whole-image labels, "
                                   "as BRODEN's scene and texture columns: net2vec learns "
                                   "classification spaces for them, no segmentation. Give "
                                   "--root (a folder per concept) or --csv with --images.")
    src = f.add_mutually_exclusive_group(required=True)
    src.add_argument("--root", metavar="DIR",
                     help="DIR/<concept>/... : every image under a concept's folder carries it")
    src.add_argument("--csv", metavar="F.csv",
                     help="rows image,concept[,category] (header line first); an image on "
                          "several rows carries several concepts")
    f.add_argument("--images", metavar="DIR", help="with --csv: the folder its paths are "
                                                   "relative to")
    f.add_argument("--category", default="scene",
                   help="category of the concepts, or of CSV rows without one (default "
                        "scene, BRODEN's first whole-image category; e.g. texture, weather)")
    _common(f)

    m = sub.add_parser("merge", epilog=EPILOG,
                       help="several probe sets -> one",
                       description="Several probe sets in BRODEN's layout -> one. Concepts are "
                                   "keyed by (category, name); numbers: categories in order of "
                                   "first appearance, concepts by name within each, 1.. "
                                   "without gaps (docs/PROBES.md).")
    m.add_argument("sources", nargs="+", metavar="DIR", help="probe set folders, in order")
    _common(m, merge=True)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser().parse_args(argv)
    except SystemExit as e:  # --help, usage errors: keep main() callable from Python
        return e.code if isinstance(e.code, int) else EXIT_INVALID
    opts = Options(out=args.out, force=args.force, size=args.size, mask_scale=args.mask_scale,
                   val_fraction=args.val_fraction if args.val_fraction is not None else 0.3,
                   seed=args.seed, min_images=args.min_images,
                   split=getattr(args, "split", "auto"), quiet=args.quiet,
                   command=[TOOL] + argv)
    from . import coco, folders, labelmap, merge
    run = {"coco": coco.convert, "labelmap": labelmap.convert, "folders": folders.convert,
           "merge": merge.convert}[args.command]
    try:
        summary = run(args, opts)
    except ProbeError as e:
        print(f"{TOOL} {args.command}: error: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print(f"{TOOL} {args.command}: interrupted; nothing written", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"{TOOL} {args.command}: out of memory; nothing written", file=sys.stderr)
        return EXIT_INTERNAL
    (sh, sw) = summary["mask_size"]
    print(f"{TOOL} {args.command}: wrote {summary['out']}: {summary['images']} images "
          f"({summary['train']} train, {summary['val']} val), {summary['concepts']} concepts "
          f"in {', '.join(summary['categories'])}, masks {sh}x{sw}"
          + (f"; {summary['dropped']} concept(s) under --min-images left out"
             if summary["dropped"] else ""))
    return EXIT_OK


__all__ = ["main", "parser"]
