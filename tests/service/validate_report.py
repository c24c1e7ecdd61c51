#!/usr/bin/env python3
"""Validates a report.json written by `net2vec report` against docs/report.schema.json
(JSON Schema 2020-12, Debian's python3-jsonschema), then checks that a corrupted copy is
rejected, so that the check itself can fail. Prints "N passed, N failed"."""
import base64
import copy
import json
import struct
import sys
import zlib

import jsonschema

schema_path, report_path = sys.argv[1], sys.argv[2]
schema = json.load(open(schema_path))
report = json.load(open(report_path))
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   - {name}")
    else:
        failed += 1
        print(f"FAIL - {name}: {detail}")


def png_rgba(uri):
    """Decodes the 8-bit RGBA PNG of a data: URI (what the strips embed) to (height, width, alpha per pixel)."""
    data = base64.b64decode(uri.split(",", 1)[1], validate=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, colour, interlace) == (8, 6, 0), f"IHDR {depth} {colour} {interlace}"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, prev, alpha = zlib.decompress(idat), 4 * width, bytearray(4 * width), []
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a, b = line[i - 4] if i >= 4 else 0, prev[i]
            c = prev[i - 4] if i >= 4 else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        alpha += line[3::4]
        prev = line
    return height, width, alpha


jsonschema.Draft202012Validator.check_schema(schema)
errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(report), key=lambda e: list(e.path))
check("report.json validates", not errors,
      "; ".join(f"{'/'.join(map(str, e.path))}: {e.message[:120]}" for e in errors[:5]))
check("it analyses at least one space", len(report.get("spaces", [])) > 0)
bad = copy.deepcopy(report)
bad["spaces"][0]["learned_vs_single"][0]["share"] = 1.5  # a share above 1
check("a share above 1 is rejected", not jsonschema.Draft202012Validator(schema).is_valid(bad))
bad = copy.deepcopy(report)
bad["spaces"][0]["surprise"] = True  # an undocumented key
check("an undocumented key is rejected", not jsonschema.Draft202012Validator(schema).is_valid(bad))
# Figure 5: every filter counted once (by how many concepts pick it, 0 included), every concept
# with a best filter once. Figures 7 and 8: a row per category, a segmentation space's concepts in them.
for space in report["spaces"]:
    usage = space["filter_usage"]
    if space["kind"] == "network":
        filters = sum(b["filters"] for b in usage["histogram"])
        check(f"{space['space']}: Figure 5 counts each of its {usage['dim']} filters once", filters == usage["dim"],
              f"{filters} filters")
        picks = sum(b["filters"] * b["concepts"] for b in usage["histogram"])
        concepts = next(r["concept_count"] for r in space["learned_vs_single"] if r["category"] is None)
        zero = sum(b["filters"] for b in usage["histogram"] if b["concepts"] == 0)
        check(f"{space['space']}: the 0 bin is the never selected", zero == usage["never_selected"], f"{zero}")
        check(f"{space['space']}: Figure 5's picks are its concepts", 0 < picks <= concepts, f"{picks} of {concepts}")
    by = space["image_iou_by_category"]
    if space["task"] == "segmentation":
        cats = sorted(r["category"] for r in space["learned_vs_single"] if r["category"] is not None)
        check(f"{space['space']}: Figures 7/8 have a row per category", sorted(r["category"] for r in by) == cats,
              f"{[r['category'] for r in by]} vs {cats}")
        check(f"{space['space']}: a non-zero part's mean is an IoU",
              all(0 < r[k] <= 1 for r in by for k in ("learned_mean", "single_mean") if r[k] is not None))
    else:
        check(f"{space['space']}: no per-image IoU outside segmentation", by is None)
    # Figure 8's strip: the images by learned IoU, each PNG the stated size, photos exactly when a
    # folder was matched, the byte count what the document holds.
    strip = space["example_strip"]
    if strip is None:
        continue
    name = f"{space['space']}: strip of {strip['concept']}"
    check(f"{name} only for a network segmentation space", space["kind"] == "network" and space["task"] == "segmentation")
    ious = [-1 if i["learned_iou"] is None else i["learned_iou"] for i in strip["images"]]
    check(f"{name}: images from lowest to highest learned IoU", ious == sorted(ious), f"{ious}")
    wrong = []
    for im in strip["images"]:
        for key in ("learned", "single", "truth"):
            if im[key] is not None:
                h, w, alpha = png_rgba(im[key])
                # The truth is at the probe set's mask size, the predictions at the stored size.
                if len(alpha) != h * w or (key != "truth" and (h, w) != (im["height"], im["width"])):
                    wrong.append(f"row {im['row']} {key}: {h}x{w}")
    check(f"{name}: its mask PNGs decode, the predictions at the stated size", not wrong, "; ".join(wrong))
    photos = [im["photo"] is not None for im in strip["images"] if im["problem"] is None]
    check(f"{name}: photos and ground truth exactly when a probe folder holds the probe set",
          all(photos) and all(im["truth"] is not None for im in strip["images"] if im["problem"] is None)
          if strip["probe_folder"] else not any(photos) and strip["note"] and "--probe" in strip["note"], strip["note"])
    held = sum(len(im[k]) for im in strip["images"] for k in ("learned", "single", "truth", "photo") if im[k] is not None)
    check(f"{name}: embedded_bytes is what it embeds", held == strip["embedded_bytes"], f"{held} vs {strip['embedded_bytes']}")
strips = [s for s in report["spaces"] if s["example_strip"] is not None]
check("a segmentation space has a strip", any(s["task"] == "segmentation" for s in report["spaces"]) <= bool(strips))
if strips:
    bad = copy.deepcopy(report)
    bad["spaces"][report["spaces"].index(strips[0])]["example_strip"]["images"][0]["learned"] = "data:image/gif;base64,R0lG"
    check("a strip mask that is not a PNG data: URI is rejected", not jsonschema.Draft202012Validator(schema).is_valid(bad))
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
