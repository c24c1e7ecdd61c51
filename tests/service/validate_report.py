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
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
