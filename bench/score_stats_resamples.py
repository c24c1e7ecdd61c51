#!/usr/bin/env python3
"""How many bootstrap resamples the val intervals need (docs/PERFORMANCE.md, "Intervals and
chance"): for the segmentation concepts of a catalog space, the percentile interval of the set
IoU is drawn again with S seeds at each resample count B, and the Monte Carlo spread of its
endpoints (standard deviation over the seeds) is reported relative to the interval's width.
Reads the per-image intersections and unions ingest stores (schema version 7).

    python3 bench/score_stats_resamples.py CATALOG SPACE [--concepts 40] [--seeds 20]
"""
import argparse
import random
import sqlite3
import statistics


def interval(inter, union, resamples, rng):
    n = len(inter)
    values = []
    for _ in range(resamples):
        i = u = 0.0
        for _ in range(n):
            k = rng.randrange(n)
            i += inter[k]
            u += union[k]
        values.append(i / u if u > 0 else 0.0)
    values.sort()

    def at(q):  # linear interpolation between order statistics, as src/training does
        pos = q * (len(values) - 1)
        j = int(pos)
        return values[j] + (pos - j) * (values[j + 1] - values[j]) if j + 1 < len(values) else values[j]

    return at(0.025), at(0.975)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("catalog")
    ap.add_argument("space")
    ap.add_argument("--concepts", type=int, default=40)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--resamples", default="100,200,500,1000,2000")
    a = ap.parse_args()
    db = sqlite3.connect(a.catalog)
    rows = db.execute(
        "SELECT e.id, i.learned_inter, i.learned_union FROM image_iou i JOIN embedding e ON e.id = i.embedding_id"
        " WHERE e.space_id = ? AND i.learned_union IS NOT NULL ORDER BY e.id", (a.space,)).fetchall()
    by = {}
    for eid, inter, union in rows:
        by.setdefault(eid, ([], []))
        by[eid][0].append(inter)
        by[eid][1].append(union)
    concepts = [v for v in by.values() if len(v[0]) >= 5][: a.concepts]
    if not concepts:
        raise SystemExit(f"{a.catalog}: space {a.space} has no per-image intersections and unions (schema 7)")
    sizes = sorted(len(c[0]) for c in concepts)
    print(f"{a.space}: {len(concepts)} concepts, val images per concept median {sizes[len(sizes) // 2]}"
          f" (min {sizes[0]}, max {sizes[-1]}), {a.seeds} seeds")
    print("resamples  median sd(endpoint)/width  max")
    for b in map(int, a.resamples.split(",")):
        rel = []
        for ci, (inter, union) in enumerate(concepts):
            ends = [interval(inter, union, b, random.Random(1000 * ci + s)) for s in range(a.seeds)]
            width = statistics.mean(h for _, h in ends) - statistics.mean(lo for lo, _ in ends)
            if width <= 0:
                continue
            sd = max(statistics.stdev(lo for lo, _ in ends), statistics.stdev(h for _, h in ends))
            rel.append(sd / width)
        rel.sort()
        print(f"{b:9d}  {rel[len(rel) // 2]:26.3f}  {rel[-1]:.3f}")


if __name__ == "__main__":
    main()
