#!/usr/bin/env python3
"""Validates a report.json written by `net2vec report` against docs/report.schema.json
(JSON Schema 2020-12, Debian's python3-jsonschema), then checks that a corrupted copy is
rejected, so that the check itself can fail. Prints "N passed, N failed"."""
import copy
import json
import sys

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
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
