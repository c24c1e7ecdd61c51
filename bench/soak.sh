#!/usr/bin/env bash
# A soak of `net2vec serve` under wrk (issue 9, item 5): a mixed load for a bounded time, the
# server's resident memory sampled every second, every response status counted.
#
#   bench/soak.sh [SECONDS] [--db CATALOG] [--threads N] [--connections C]
#
#   SECONDS        how long wrk runs (default 60; at least 15), after a 2 s warm-up
#   --db           the catalog (default: a copy of data/demo/catalog.db made with sqlite3
#                  .backup, else a fresh tests/service catalog from make-service-catalog)
#   --threads      server threads (default 0: the server's own default, one per core)
#   --connections  wrk connections (default 32; wrk -t 1)
#
# The mix (bench/soak.lua, one cycle of 20): 8 GET /api/neighbors, 4 POST /api/analogy,
# 2 GET /api/compare (2 spaces), 3 GET /, 3 GET /js/app.js.
# Prints requests/s, latency p50/p99, non-2xx responses (from wrk, which counts >= 400, and
# from the server's own access log, which has every status), socket errors, the server's
# VmRSS at 10 s and at the end, their growth, and its open descriptors before and after.
# Fails (exit 1) when any response is not 2xx, wrk reports any socket error, RSS grew by 10 %
# or more from 10 s to the end, or the server does not exit 0 on SIGTERM within 10 s.
# The server binds 127.0.0.1 on a free port; NET2VEC=path picks the binary (default
# build/src/apps/net2vec). docs/reliability/load.md has a run.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=60
DB=
THREADS=0
CONNECTIONS=32
while [ $# -gt 0 ]; do
  case "$1" in
    --db) DB=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    [0-9]*) DURATION=$1; shift ;;
    *) echo "soak: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$DURATION" -ge 15 ] || { echo "soak: SECONDS must be at least 15 (RSS is compared from 10 s on)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "soak: wrk is missing (tools/install-deps installs it)" >&2; exit 2; }
NET2VEC=${NET2VEC:-build/src/apps/net2vec}
[ -x "$NET2VEC" ] || { echo "soak: no $NET2VEC (tools/build)" >&2; exit 2; }

WORK=$(mktemp -d)
SERVER_PID=
SAMPLER_PID=
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
  [ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ -z "$DB" ]; then
  if [ -f data/demo/catalog.db ]; then
    DB=$WORK/catalog.db
    sqlite3 data/demo/catalog.db ".backup '$DB'"  # a consistent copy, even while an ingest writes
  else
    DB=$WORK/catalog.db
    build/tests/service/make-service-catalog "$DB" >/dev/null
  fi
fi

# The spaces and concepts to query: the first segmentation space, its first 32 concepts, and
# compare against a second space (another segmentation space, else any other).
read -r SPACE OTHER < <("$NET2VEC" spaces --db "$DB" --json | python3 -c '
import json, sys
s = json.load(sys.stdin)["spaces"]
seg = [x["id"] for x in s if x["task"] == "segmentation"] or [x["id"] for x in s]
rest = [x for x in seg[1:]] or [x["id"] for x in s if x["id"] != seg[0]]
print(seg[0], rest[0])')
NAMES=$("$NET2VEC" concepts --db "$DB" --space "$SPACE" --json |
  python3 -c 'import json,sys; print("|".join(c["name"] for c in json.load(sys.stdin)["concepts"][:32]))')
STATIC=/js/app.js
[ -f web/js/app.js ] || STATIC=/favicon.svg

# Compare is a heavy route (issue 18): by default 1 runs and 8 wait, and 32 connections of
# this mix overflow that queue into 503s (admission control, docs/API.md "Limits"). The soak
# is about staying up and flat, so its queue holds every connection.
"$NET2VEC" serve --db "$DB" --host 127.0.0.1 --port 0 --threads "$THREADS" --heavy-queue "$CONNECTIONS" \
  >"$WORK/url" 2>"$WORK/access.log" &
SERVER_PID=$!
for _ in $(seq 100); do grep -q serving "$WORK/url" && break; sleep 0.1; done
URL=$(sed -n 's/net2vec: serving //p' "$WORK/url")
[ -n "$URL" ] || { echo "soak: the server did not start" >&2; cat "$WORK/access.log" >&2; exit 1; }
URL=${URL%/}
# A 2 s warm-up with the same mix (every server thread opens its catalog connections), so
# that the descriptor count before is the steady one.
wrk -t 1 -c 8 -d 2s -s bench/soak.lua "$URL" -- "$SPACE" "$SPACE,$OTHER" "$NAMES" "$STATIC" >/dev/null 2>&1 || true
sleep 1
WARM_LINES=$(wc -l <"$WORK/access.log")  # the warm-up's responses are not counted
THREADS_USED=$(ls "/proc/$SERVER_PID/task" | wc -l)
FDS_BEFORE=$(ls "/proc/$SERVER_PID/fd" | wc -l)

echo "soak: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "soak: $URL over $DB; space $SPACE, compare $SPACE,$OTHER; static $STATIC"
echo "soak: server --threads $THREADS ($THREADS_USED OS threads in the process); wrk -t 1 -c $CONNECTIONS -d ${DURATION}s"

# RSS sampler: seconds since the start of wrk, VmRSS in kB; one line a second.
(
  start=$(date +%s%N)
  while [ -r "/proc/$SERVER_PID/status" ]; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null) || break
    now=$(date +%s%N)
    ms=$(( (now - start) / 1000000 ))
    printf '%d.%03d %s\n' $((ms / 1000)) $((ms % 1000)) "$rss"
    sleep 1
  done
) >"$WORK/rss" &
SAMPLER_PID=$!

wrk -t 1 -c "$CONNECTIONS" -d "${DURATION}s" --timeout 5s --latency -s bench/soak.lua "$URL" \
  -- "$SPACE" "$SPACE,$OTHER" "$NAMES" "$STATIC" >"$WORK/wrk.out" 2>&1 || true
RSS_END=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
kill "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=
sleep 1  # wrk's connections are closed; the server closes its side
FDS_AFTER=$(ls "/proc/$SERVER_PID/fd" | wc -l)

kill -TERM "$SERVER_PID"
EXIT=timeout
for _ in $(seq 100); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
  sleep 0.1
done
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  set +e; wait "$SERVER_PID"; EXIT=$?; set -e
fi
SERVER_PID=

out=$(cat "$WORK/wrk.out")
requests=$(echo "$out" | awk '/requests in/ {print $1}')
rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
p90=$(echo "$out" | awk '$1 == "90%" {print $2}')
p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
wrk_non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
wrk_non2xx=${wrk_non2xx:-0}
sockerr=$(echo "$out" | sed -n 's/.*Socket errors: //p')
sockerr_total=$(echo "${sockerr:-}" | { grep -o '[0-9]\+' || true; } | awk '{s += $1} END {print s + 0}')
# The server's access log: "METHOD TARGET STATUS Nus", one line per response; the soak's part.
tail -n +"$((WARM_LINES + 1))" "$WORK/access.log" >"$WORK/soak.log"
log_total=$(grep -c 'us$' "$WORK/soak.log" || true)
log_non2xx=$(awk '$NF ~ /us$/ && ($(NF - 1) < 200 || $(NF - 1) > 299)' "$WORK/soak.log" | wc -l)
status_counts=$(awk '$NF ~ /us$/ {n[$(NF - 1)]++} END {for (s in n) printf "%s: %d  ", s, n[s]}' "$WORK/soak.log")
by_route=$(awk '$NF ~ /us$/ {split($2, t, "?"); n[$1 " " t[1]]++} END {for (r in n) printf "%s %d; ", r, n[r]}' "$WORK/soak.log")
rss10=$(awk '$1 >= 10 {print $2; exit}' "$WORK/rss")
rss_first=$(awk 'NR == 1 {print $2}' "$WORK/rss")
rss_max=$(awk 'BEGIN {m = 0} $2 > m {m = $2} END {print m}' "$WORK/rss")
growth=$(awk -v a="$rss10" -v b="$RSS_END" 'BEGIN {printf "%.2f", (b - a) * 100 / a}')

echo
echo "$out" | sed 's/^/  wrk| /'
echo
echo "requests:        $requests in ${DURATION} s, $rps req/s; latency p50 $p50, p90 $p90, p99 $p99"
echo "non-2xx:         wrk $wrk_non2xx (status >= 400); server log $log_non2xx of $log_total responses ($status_counts)"
echo "routes (log):    $by_route"
echo "socket errors:   ${sockerr:-none} (total $sockerr_total)"
echo "RSS (VmRSS):     start of wrk $rss_first kB, at 10 s $rss10 kB, end $RSS_END kB, max $rss_max kB; growth 10 s -> end $growth %"
echo "RSS samples:     $(awk 'NR % 5 == 1 {printf "%d:%d ", $1, $2}' "$WORK/rss")(s:kB, every 5th)"
echo "descriptors:     $FDS_BEFORE before wrk (after a 2 s warm-up), $FDS_AFTER 1 s after it"
echo "SIGTERM:         server exit status $EXIT"

fail=0
[ "$wrk_non2xx" -eq 0 ] && [ "$log_non2xx" -eq 0 ] || { echo "FAIL: non-2xx responses"; fail=1; }
[ "$sockerr_total" -eq 0 ] || { echo "FAIL: socket errors"; fail=1; }
[ "${requests:-0}" -gt 0 ] || { echo "FAIL: no requests completed"; fail=1; }
awk -v g="$growth" 'BEGIN {exit !(g < 10)}' || { echo "FAIL: RSS grew by $growth % (limit < 10 %)"; fail=1; }
[ "$EXIT" = 0 ] || { echo "FAIL: the server's exit status on SIGTERM was $EXIT"; fail=1; }
[ "$fail" = 0 ] && echo "PASS"
exit "$fail"
