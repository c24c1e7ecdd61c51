#!/bin/sh
# ctest build_without_faiss: FAISS is an optional backend of src/index (issue 18). Configures
# a second build tree with NET2VEC_WITH_FAISS=OFF (and no LibTorch), builds `net2vec`,
# test_index and test_query there, runs both tests (the flat index against the brute-force
# oracle; every query test over net2vec's own index), then asks the same questions of the
# same catalog through both binaries: neighbours in every space and one compare must give
# the same concepts in the same order and scores within 1e-5.
#   build_without_faiss.sh SOURCE_DIR BUILD_DIR NET2VEC_WITH_FAISS_BIN CATALOG_MAKER
set -eu
src=$1 out=$2 main_bin=$3 make_catalog=$4
jobs=${NET2VEC_TEST_JOBS:-2}
mkdir -p "$out"
echo "== configure $out (NET2VEC_WITH_FAISS=OFF, NET2VEC_WITH_TORCH=OFF)"
cmake -S "$src" -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DNET2VEC_WITH_FAISS=OFF -DNET2VEC_WITH_TORCH=OFF -DNET2VEC_BUILD_BENCH=OFF -DNET2VEC_BUILD_TESTS=ON >"$out/configure.log" 2>&1 ||
  { tail -30 "$out/configure.log"; exit 1; }
echo "== build net2vec test_index test_query"
cmake --build "$out" -j "$jobs" --target net2vec test_index test_query >"$out/build.log" 2>&1 ||
  { tail -40 "$out/build.log"; exit 1; }
# Nothing of FAISS may be linked: the point of the option.
if ldd "$out/src/apps/net2vec" | grep -i faiss; then
  echo "FAIL: net2vec of the FAISS-less build links FAISS"; exit 1
fi
"$out/tests/index/test_index" --gtest_brief=1
"$out/tests/query/test_query" --gtest_brief=1

db=$out/catalog.db
rm -f "$db" "$db-wal" "$db-shm"
"$make_catalog" "$db" >/dev/null
python3 - "$main_bin" "$out/src/apps/net2vec" "$db" <<'PY'
import json, subprocess, sys
main_bin, flat_bin, db = sys.argv[1:]
def ask(binary, *args):
    r = subprocess.run([binary, *args, "--db", db, "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: {binary} {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return json.loads(r.stdout)
def hits(answer):
    return [(h["name"], h["score"]) for h in answer["hits"]]
spaces = ask(main_bin, "spaces")["spaces"]
asked = 0
for space in spaces:
    concepts = ask(main_bin, "concepts", "--space", space["id"])["concepts"]
    for c in concepts[:3]:
        q = ("neighbors", "--space", space["id"], "--concept", c["name"], "--k", "8")
        try:
            a = ask(main_bin, *q)
        except SystemExit:
            continue  # e.g. a zero vector: no direction, both builds refuse it alike
        b = ask(flat_bin, *q)
        ha, hb = hits(a), hits(b)
        if [n for n, _ in ha] != [n for n, _ in hb] or any(abs(x - y) > 1e-5 for (_, x), (_, y) in zip(ha, hb)):
            sys.exit(f"FAIL: neighbours of {c['name']} in {space['id']} differ:\n FAISS {ha}\n flat  {hb}")
        asked += 1
if asked == 0:
    sys.exit("FAIL: the catalog gave no neighbours to compare")
network = [s["id"] for s in spaces if s.get("kind") == "network"][:3]
if len(network) >= 2:
    a = ask(main_bin, "compare", "--spaces", ",".join(network))
    b = ask(flat_bin, "compare", "--spaces", ",".join(network))
    if json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True):
        sys.exit("FAIL: compare differs between the FAISS and the FAISS-less build")
print(f"same answers from both builds: {asked} neighbour queries over {len(spaces)} spaces, compare of {len(network)} spaces")
PY
