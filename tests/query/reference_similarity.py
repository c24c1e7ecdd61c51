#!/usr/bin/env python3
"""An independent check of compare's similarity measures (issue 21 part 2).

A double-precision numpy reference computes D_ij, D_ijc, linear CKA and unbiased CKA
(Song et al. 2012's unbiased HSIC, as Nguyen, Raghu & Kornblith 2021 use it) from the stored
float32 vectors, read with net2vec.catalog (not with net2vec's C++), and `net2vec compare --json`
must agree with it to 1e-6 of each value (double Grams: compare's default at this size), and with
`--precision float` to 1e-6 of each value's range, on
  * the real spaces of the service test catalog (make-service-catalog), and
  * random spaces imported into it with `net2vec reference vectors`: isotropic, with a strong
    common direction (cosines near 1: centring cancels most of each entry), and rank 3.
It also checks what the JSON promises: symmetric matrices, a diagonal of exactly 1, and the
permutation test's p-values on the grid k / (R + 1).

Usage: reference_similarity.py NET2VEC MAKE_SERVICE_CATALOG WORK_DIR
"""

import json
import os
import subprocess
import sys

import numpy as np

import net2vec

# Agreement, 1e-6 relative to each value itself, with double Gram matrices (what compare uses up
# to 2^26 Gram entries, and with --precision double): a CKA near 0 and a D_ijc of nearly equal
# rows included. Values below 1e-12 of their scale (a CKA's 1, a pair's largest D_ijc) are held
# to that absolute level: a float64 computation gets no closer to 0 either.
# With --precision float the agreement is 1e-6 of a value's range, which is what float Grams
# allow: D_ij of itself; a CKA of max(|CKA|, 1) (a CKA near 0 is a small remainder of centring,
# known only to the float Grams' ~1e-7 per entry: unbiased CKA -0.038 on the offset space is off
# by 5e-7, 1.4e-5 of itself); D_ijc of the pair's largest D_ijc (1.8e-6 of itself is seen on the
# real spaces, the float GEMM's bound is ~1e-5, docs/QUERIES.md).
TINY = 1e-12
RTOL = 1e-6


def reference(names, vectors):
    """(D, D_c, CKA, CKA_u) of the spaces over `names`, in float64. vectors: per space a dict
    name -> float32 vector."""
    grams = []
    for v in vectors:
        w = np.stack([np.asarray(v[n], dtype=np.float64) for n in names])
        w /= np.linalg.norm(w, axis=1, keepdims=True)
        grams.append(w @ w.T)
    n = len(names)
    h = np.eye(n) - np.ones((n, n)) / n

    def hsic_u(k, l):
        k = k.copy()
        l = l.copy()
        np.fill_diagonal(k, 0)
        np.fill_diagonal(l, 0)
        one = np.ones(n)
        return (np.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
                - 2.0 / (n - 2) * (one @ k @ l @ one)) / (n * (n - 3))

    m = len(grams)
    out = {}
    for i in range(m):
        for j in range(i + 1, m):
            k, l = grams[i], grams[j]
            diff = (k - l) ** 2
            hk, hl = h @ k @ h, h @ l @ h
            cka = np.sum(hk * hl) / (np.linalg.norm(hk) * np.linalg.norm(hl))
            cka_u = hsic_u(k, l) / np.sqrt(hsic_u(k, k) * hsic_u(l, l)) if n >= 4 else float("nan")
            out[(i, j)] = (diff.sum(), diff.sum(axis=1), cka, cka_u)
    return out


class Checker:
    def __init__(self):
        self.failures = []
        self.checked = 0
        self.worst = {}

    def close(self, what, got, want, rtol=RTOL, floor=1e-300):
        self.checked += 1
        err = abs(got - want) / max(abs(want), floor)
        kind = what.split(" ")[0] if not what.startswith("(float)") else " ".join(what.split(" ")[:2])
        self.worst[kind] = max(self.worst.get(kind, 0.0), err)
        if not err <= rtol:
            self.failures.append(f"{what}: net2vec {got!r}, reference {want!r} (relative error {err:.2e})")

    def true(self, what, ok):
        self.checked += 1
        if not ok:
            self.failures.append(what)


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def check_comparison(check, label, net2vec_bin, db, spaces, permutations, precision="auto"):
    doc = json.loads(run([net2vec_bin, "compare", "--db", db, "--spaces", ",".join(spaces), "--per-concept", "all",
                          "--permutations", str(permutations), "--precision", precision, "--json"]))
    exact = precision != "float"
    check.true(f"{label}: compare says its Grams were {'double' if exact else 'float'}, got {doc['precision']!r}",
               doc["precision"] == ("double" if exact else "float"))
    label += " " + doc["precision"]
    names = [c["name"] for c in doc["concepts"]]
    cat = net2vec.open(db)
    vectors = []
    for s in spaces:
        ns, w = cat.vectors(s)
        vectors.append(dict(zip(ns, w)))
    ref = reference(names, vectors)
    m = len(spaces)
    for pair in doc["pairs"]:
        i, j = pair["i"], pair["j"]
        d, dc, cka, cka_u = ref[(i, j)]
        where = f"{label} {spaces[i]} / {spaces[j]}"
        check.close(f"{'' if exact else '(float) '}D_ij {where}", pair["distance"], d)
        # D_ijc: relative to the pair's largest, as a row whose Gram rows are nearly equal has a
        # D_ijc near zero that no float computation gets to 1e-6 of itself.
        got_c = {e["name"]: e["d"] for e in pair["per_concept"]}
        scale = max(dc)
        # Exact: of each value; float: of the range (see RTOL above).
        floor = TINY if exact else 1.0
        kind = "" if exact else "(float) "
        for c, name in enumerate(names):
            check.close(f"{kind}D_ijc {where} {name}", got_c[name] / scale, dc[c] / scale, RTOL, floor)
        check.close(f"{kind}CKA {where}", pair["cka"], cka, floor=floor)
        check.close(f"{kind}CKA-unbiased {where}", pair["cka_unbiased"], cka_u, floor=floor)
        check.true(f"{where}: a defined CKA has no reason", pair["cka_undefined"] is None
                   and pair["cka_unbiased_undefined"] is None)
        test = pair["permutation"]
        if permutations:
            for key in ("p_distance", "p_cka", "p_cka_unbiased"):
                k = test[key] * (permutations + 1)
                check.true(f"{where}: {key} {test[key]} is k / (R + 1)", abs(k - round(k)) < 1e-9 and 1 <= round(k))
        else:
            check.true(f"{where}: no permutation test asked, none given", test is None)
    for key in ("cka", "cka_unbiased", "distance"):
        mat = doc[key]
        for i in range(m):
            want = 0.0 if key == "distance" else 1.0
            check.true(f"{label} {key}[{i}][{i}] = {mat[i][i]!r}, not exactly {want}", mat[i][i] == want)
            for j in range(m):
                check.true(f"{label} {key} symmetric at {i},{j}", mat[i][j] == mat[j][i])


def write_vectors(path, names, w):
    with open(path, "w") as f:
        for name, row in zip(names, w):
            f.write(name + " " + " ".join(f"{x:.9g}" for x in row) + "\n")


def main():
    net2vec_bin, make_catalog, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    db = os.path.join(work, "catalog.db")
    if os.path.exists(db):
        os.remove(db)
    run([make_catalog, db])
    check = Checker()

    real = [s["id"] for s in json.loads(run([net2vec_bin, "spaces", "--db", db, "--json"]))["spaces"]]
    check_comparison(check, "real", net2vec_bin, db, real, 0)

    # Random spaces over the catalog's concept names.
    names = [c["name"] for c in json.loads(run([net2vec_bin, "concepts", "--db", db, "--space", "wordnet",
                                                 "--json"]))["concepts"]]
    rng = np.random.default_rng(21)
    n = len(names)
    shapes = {
        "random-iso": rng.standard_normal((n, 24)),
        "random-iso2": rng.standard_normal((n, 24)),
        # Every vector near one direction: cosines ~0.9, the centred Grams a small remainder.
        "random-offset": rng.standard_normal((n, 24)) * 0.3 + 1.0,
        "random-rank3": rng.standard_normal((n, 3)),
    }
    for space, w in shapes.items():
        path = os.path.join(work, space + ".txt")
        write_vectors(path, names, w)
        run([net2vec_bin, "reference", "vectors", "--db", db, "--name", space, "--file", path, "--format", "text"])
    check_comparison(check, "random", net2vec_bin, db, list(shapes) + ["wordnet"], 19)
    # The float Grams (what larger comparisons use) against the same reference, to their range.
    check_comparison(check, "real", net2vec_bin, db, real, 0, "float")
    check_comparison(check, "random", net2vec_bin, db, list(shapes) + ["wordnet"], 0, "float")

    # A space whose concepts all point one way: both CKAs undefined, null with the reason in JSON,
    # '-' and the reason in text, never a number.
    flat = os.path.join(work, "flat.txt")
    write_vectors(flat, names, np.tile(rng.standard_normal(8), (n, 1)))
    run([net2vec_bin, "reference", "vectors", "--db", db, "--name", "flat", "--file", flat, "--format", "text"])
    doc = json.loads(run([net2vec_bin, "compare", "--db", db, "--spaces", "random-iso,flat", "--json"]))
    pair = doc["pairs"][0]
    for key in ("cka", "cka_unbiased"):
        check.true(f"flat: {key} is null, got {pair[key]!r}", pair[key] is None)
        check.true(f"flat: {key}_undefined names the space: {pair[key + '_undefined']!r}",
                   "'flat'" in (pair[key + "_undefined"] or ""))
        check.true(f"flat: {key}'s diagonal is null for flat, 1 for the other", doc[key][1][1] is None and doc[key][0][0] == 1.0)
    check.true(f"flat: p of a CKA is null, got {pair['permutation']}",
               pair["permutation"]["p_cka"] is None and pair["permutation"]["p_cka_unbiased"] is None)
    text = run([net2vec_bin, "compare", "--db", db, "--spaces", "random-iso,flat"])
    check.true("flat: the text says why each CKA is undefined",
               "linear CKA: the centred Gram of 'flat' is zero" in text and "unbiased CKA: the unbiased HSIC of 'flat'" in text)
    check.true("flat: the text prints no nan", "nan" not in text.lower())

    print(f"{check.checked} checks; largest relative error by measure: "
          + ", ".join(f"{k} {v:.2e}" for k, v in sorted(check.worst.items())))
    if check.failures:
        print(f"{len(check.failures)} failures:")
        for f in check.failures[:40]:
            print("  " + f)
        sys.exit(1)


if __name__ == "__main__":
    main()
