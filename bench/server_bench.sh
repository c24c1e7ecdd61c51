#!/usr/bin/env bash
# The HTTP server under load: wrk (Debian) against `net2vec serve` on loopback, both on this
# machine's cores. Prints requests/s, p50, p99 and errors per endpoint; asserts nothing.
#
#   bench/server_bench.sh [--db CATALOG] [--threads N] [--seconds S] [--connections C]
#
#   --db       the catalog to serve (default data/demo/catalog.db, from tools/run-demo); its
#              first segmentation space and 'wordnet'/'glove-100d' are queried when present
#   --threads  server threads (default: the number of cores)
# Then the same against a synthetic 1,200 x 1,024 space written by net2vec-query-bench,
# whose in-process figures (printed first, same run) give the ratio the server should reach:
# requests/s >= 70 % of (1e6 / in-process p50 us) x server threads.
# Every run is bounded (wrk -d); the server is stopped at the end. docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DB=data/demo/catalog.db
THREADS=$(nproc)
SECONDS_EACH=10
CONNECTIONS=16
while [ $# -gt 0 ]; do
  case "$1" in
    --db) DB=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --seconds) SECONDS_EACH=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "server_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
NET2VEC=build/src/apps/net2vec
BENCH=build/bench/net2vec-query-bench
[ -x "$NET2VEC" ] && [ -x "$BENCH" ] || tools/build
WORK=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

serve() {  # catalog -> sets URL
  [ -n "$SERVER_PID" ] && { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; }
  "$NET2VEC" serve --db "$1" --host 127.0.0.1 --port 0 --threads "$THREADS" --quiet >"$WORK/url" &
  SERVER_PID=$!
  for _ in $(seq 50); do grep -q serving "$WORK/url" && break; sleep 0.1; done
  URL=$(sed -n 's/net2vec: serving //p' "$WORK/url")
  URL=${URL%/}
}

# A Lua script for wrk: cycles through request targets (and a POST body template).
lua_rotating() {  # file method targets... (targets from stdin, one per line)
  local file=$1 method=$2
  {
    echo "local targets = {}"
    # Long-bracket strings need no escaping.
    while IFS= read -r t; do echo "targets[#targets + 1] = [==[$t]==]"; done
    echo 'local i = 0'
    if [ "$method" = POST ]; then
      echo 'wrk.method = "POST"'
      echo 'wrk.headers["Content-Type"] = "application/json"'
      echo 'request = function() i = i + 1; local t = targets[i % #targets + 1]; return wrk.format("POST", "/api/analogy", nil, t) end'
    else
      echo 'request = function() i = i + 1; return wrk.format("GET", targets[i % #targets + 1]) end'
    fi
  } >"$file"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }  # the server's user + system time

run_wrk() {  # label lua-file
  local label=$1 script=$2 out before after
  before=$(cpu_ticks)
  out=$(wrk -t 1 -c "$CONNECTIONS" -d "${SECONDS_EACH}s" --latency -s "$script" "$URL" 2>&1)
  after=$(cpu_ticks)
  local rps p50 p99 non2xx errors
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  errors=$(echo "$out" | awk '/Socket errors/ {print $0}' | sed 's/.*Socket errors: //')
  local requests cpu_us
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  # Server CPU per request (wrk and the kernel's loopback share the same cores: this is what
  # the server itself spends).
  cpu_us=$(awk -v t=$((after - before)) -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", t / hz * 1e6 / n}')
  printf '  %-44s %10s req/s  p50 %8s  p99 %8s  non-2xx %s  socket errors %s  server CPU %s us/req\n' "$label" "$rps" \
    "$p50" "$p99" "${non2xx:-0}" "${errors:-none}" "$cpu_us"
}

names_of() {  # space -> up to 64 concept names, one per line
  "$NET2VEC" concepts --db "$DB" --space "$1" --json |
    python3 -c 'import json,sys; [print(c["name"]) for c in json.load(sys.stdin)["concepts"][:64]]'
}
urlencode() { python3 -c 'import sys,urllib.parse; [print(urllib.parse.quote(l.rstrip("\n"))) for l in sys.stdin]'; }

echo "server_bench: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores;" \
  "server threads $THREADS; wrk -t 1 -c $CONNECTIONS -d ${SECONDS_EACH}s; load $(cut -d' ' -f1-2 /proc/loadavg)"

if [ -f "$DB" ]; then
  SPACE=$("$NET2VEC" spaces --db "$DB" --json | python3 -c 'import json,sys; print([s["id"] for s in json.load(sys.stdin)["spaces"] if s["task"]=="segmentation"][0])')
  serve "$DB"
  echo
  echo "Catalog $DB (space $SPACE, $("$NET2VEC" spaces --db "$DB" --json | python3 -c 'import json,sys; s=[x for x in json.load(sys.stdin)["spaces"] if x["task"]=="segmentation"][0]; print(s["concept_count"], "concepts x", s["dim"])'))"
  names_of "$SPACE" | urlencode | sed "s|^|/api/neighbors?space=$SPACE\&k=10\&concept=|" | lua_rotating "$WORK/nb.lua" GET
  run_wrk "GET /api/neighbors (k 10)" "$WORK/nb.lua"
  names_of "$SPACE" | python3 -c '
import json,sys
n=[l.strip() for l in sys.stdin]
for i in range(len(n)):
    print(json.dumps({"space": sys.argv[1], "positive": [n[i], n[(i+1)%len(n)]], "negative": [n[(i+2)%len(n)]], "k": 10}))' "$SPACE" |
    lua_rotating "$WORK/an.lua" POST
  run_wrk "POST /api/analogy (a + b - c, k 10)" "$WORK/an.lua"
  others=$("$NET2VEC" spaces --db "$DB" --json | python3 -c 'import json,sys; print(",".join(s["id"] for s in json.load(sys.stdin)["spaces"] if s["task"]=="segmentation" or s["kind"]=="reference"))')
  echo "/api/compare?spaces=$others&per_concept=5" | lua_rotating "$WORK/cmp.lua" GET
  run_wrk "GET /api/compare ($(echo "$others" | tr ',' '\n' | wc -l) spaces)" "$WORK/cmp.lua"
else
  echo "(no $DB: run tools/run-demo first for the demo-catalog figures)"
fi

echo
echo "Synthetic space, 1,200 x 1,024 (in-process figures first, from net2vec-query-bench):"
"$BENCH" --db "$WORK/synthetic.db" --queries 2000 --spaces 2 --shared 100 --repeats 1 | sed -n '/streaming/,/brute-force/p'
DB=$WORK/synthetic.db
serve "$DB"
SPACE=bench.l.seg
for i in $(seq 1 64); do echo "/api/neighbors?space=$SPACE&k=10&concept=concept$((i * 17 % 1200 + 1))"; done |
  lua_rotating "$WORK/syn.lua" GET
run_wrk "GET /api/neighbors on 1,200 x 1,024 (k 10)" "$WORK/syn.lua"
