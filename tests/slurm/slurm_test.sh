#!/usr/bin/env bash
# tools/slurm end to end (issue 11, item 3): a single-node Slurm (Debian's slurmctld, slurmd,
# munge) on loopback, started from a throw-away config; tools/slurm/submit runs a 4-task
# array on the toy fixture (2 networks x 2 layers) and the merge job; the merged catalog must
# hold exactly what a serial ingest of the same plan into one catalog holds: the same spaces,
# vectors, scores, thresholds, F sweeps, per-image IoUs and masks, bit for bit (ingest is
# seeded and deterministic across processes; tests/slurm/dump.sql prints a catalog without
# row ids and times). The shards are compared with the serial catalog too, before the merge.
#
# usage: slurm_test.sh NET2VEC_INGEST NET2VEC MAKE_FIXTURE
# Exit status: 0 passed, 1 failed, 77 skipped (not root, Slurm/munge missing, an unresolvable
# hostname, no merge); the
# reason is printed. N2V_SLURM_KEEP=1 keeps the temporary directory (logs, catalogs).
set -euo pipefail

ingest=${1:?usage: slurm_test.sh NET2VEC_INGEST NET2VEC MAKE_FIXTURE}
net2vec=${2:?usage}
make_fixture=${3:?usage}
abs() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }  # jobs run elsewhere
ingest=$(abs "$ingest") net2vec=$(abs "$net2vec") make_fixture=$(abs "$make_fixture")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
submit=$source_dir/tools/slurm/submit
deadline_s=${N2V_SLURM_DEADLINE:-200}  # for the jobs, after submission

skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*"; exit 1; }

# ---- Can it run here? ----
[ "$(id -u)" -eq 0 ] || skip "not root (slurmd runs jobs as their user and needs root)"
missing=()
for b in munged slurmctld slurmd sbatch squeue sinfo scontrol sqlite3; do
  command -v "$b" >/dev/null 2>&1 || missing+=("$b")
done
[ ${#missing[@]} -eq 0 ] ||
  skip "missing ${missing[*]} (Debian packages slurmctld slurmd slurm-client munge sqlite3; tools/install-deps)"
# slurmctld and slurmd look up this machine's own hostname (NoCtldInAddrAny binds its address):
# a machine whose hostname does not resolve (a bare chroot without /etc/hosts) cannot run them.
getent hosts "$(hostname)" >/dev/null 2>&1 ||
  skip "this machine's hostname '$(hostname)' does not resolve (no /etc/hosts entry?): slurmctld and slurmd cannot start"
# Without the merge subcommand the array still runs and its shards are checked; the final
# comparison needs `net2vec merge`.
have_merge=1
"$net2vec" merge --help 2>&1 | grep -q -- '--into' || have_merge=0

# ---- A private Slurm on loopback ----
T=$(mktemp -d /tmp/n2v-slurm.XXXXXX)
chmod 700 "$T"
mkdir -p "$T/state" "$T/spool" "$T/log"
pids=()
cleanup() {
  local rc=$?
  set +e
  if [ -f "$T/slurm.conf" ] && [ -n "${ctld_pid:-}" ]; then
    SLURM_CONF=$T/slurm.conf timeout 10 scontrol shutdown >/dev/null 2>&1
  fi
  for p in "${pids[@]}"; do  # slurmctld, slurmd, munged: TERM, then KILL after 10 s
    kill "$p" 2>/dev/null
  done
  for p in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  # Job steps (slurmstepd and what they run) left behind by a killed slurmd.
  for p in $(pgrep -f "$T/" 2>/dev/null); do [ "$p" != $$ ] && kill -9 "$p" 2>/dev/null; done
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
    for f in "$T"/log/slurm*.log "$T"/log/munged.out "$T"/shards/logs/*.out; do
      [ -f "$f" ] && { echo "---- tail $f"; tail -n 15 "$f"; }
    done
  fi
  if [ "${N2V_SLURM_KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Two free loopback ports (other Slurms or test runs may hold the default 6817/6818).
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ctld_port="" d_port=""
for _ in $(seq 50); do
  p=$((20000 + RANDOM % 20000))
  if port_free "$p" && port_free $((p + 1)); then ctld_port=$p d_port=$((p + 1)); break; fi
done
[ -n "$ctld_port" ] || fail "no free loopback port pair"

# munged with its own key and socket (never the system's /run/munge).
head -c 1024 /dev/urandom >"$T/munge.key"
chmod 600 "$T/munge.key"
munged -F --force --socket="$T/munge.sock" --key-file="$T/munge.key" \
  --pid-file="$T/munged.pid" --seed-file="$T/munge.seed" --log-file="$T/log/munged.log" \
  >"$T/log/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$T/munge.sock" ] && break; sleep 0.1; done
[ -S "$T/munge.sock" ] || fail "munged did not create its socket"

# SlurmctldHost=localhost is accepted whatever the machine's hostname; NoCtldInAddrAny and
# NoInAddrAny make slurmctld and slurmd bind 127.0.0.1 instead of every interface.
cpus=$(nproc)
cat >"$T/slurm.conf" <<EOF
ClusterName=n2vtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/munge.sock
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$T/jobcomp.txt
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=500 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$T/slurm.conf
# Nothing of an outer Slurm job (when this test itself runs under Slurm) may leak in.
for v in $(compgen -e | grep '^SLURM_' || true); do [ "$v" = SLURM_CONF ] || unset "$v"; done

slurmctld -D -i -f "$T/slurm.conf" >"$T/log/slurmctld.out" 2>&1 &
ctld_pid=$!
pids+=("$ctld_pid")
slurmd -D -N localhost -f "$T/slurm.conf" >"$T/log/slurmd.out" 2>&1 &
pids+=($!)
state=""
for _ in $(seq 60); do
  state=$(timeout 5 sinfo -h -n localhost -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.5
done
[ "$state" = idle ] || fail "the node did not become idle within 30 s (sinfo: '${state}')"
echo "slurm up on 127.0.0.1:$ctld_port/$d_port, $cpus CPUs"

# ---- The toy fixture and a 2 networks x 2 layers plan ----
"$make_fixture" "$T/fx" >/dev/null
opts="--quantile 0.125 --seed 1 --threads 1 --seg-subsets 1,2 --cls-subsets 1,2"
tab=$'\t'
{
  echo "# network${tab}model${tab}layers${tab}tasks${tab}options"
  echo "toy-a${tab}$T/fx/model.pt${tab}features${tab}seg,cls${tab}$opts"
  echo
  echo "toy-a${tab}$T/fx/model.pt${tab}coarse${tab}-${tab}$opts"
  echo "# the same network under a second name"
  echo "toy-b${tab}$T/fx/model.pt${tab}features${tab}seg,cls${tab}$opts"
  echo "toy-b${tab}$T/fx/model.pt${tab}coarse${tab}seg${tab}$opts"
} >"$T/plan.tsv"
expected_spaces="toy-a.coarse.cls toy-a.coarse.seg toy-a.features.cls toy-a.features.seg toy-b.coarse.seg toy-b.features.cls toy-b.features.seg"

# ---- Submit: the array and the merge job ----
start=$(date +%s)
out=$(cd "$T" && "$submit" --plan plan.tsv --probe fx/probe --shards shards --catalog merged.db \
        --ingest "$ingest" --net2vec "$net2vec")
echo "$out"
array_job=$(sed -n 's/^array_job=\([0-9]*\) tasks=\([0-9]*\)$/\1/p' <<<"$out")
tasks=$(sed -n 's/^array_job=[0-9]* tasks=\([0-9]*\)$/\1/p' <<<"$out")
merge_job=$(sed -n 's/^merge_job=\([0-9]*\)$/\1/p' <<<"$out")
[ -n "$array_job" ] && [ -n "$merge_job" ] || fail "submit printed no job ids"
[ "$tasks" = 4 ] || fail "submit counted $tasks tasks in the plan, expected 4"

# Wait until neither job is pending or running (bounded).
while :; do
  active=$(timeout 10 squeue -h -j "$array_job,$merge_job" -o '%i %T' 2>/dev/null |
           grep -E 'PENDING|CONFIGURING|RUNNING|COMPLETING|SUSPENDED' || true)
  [ -z "$active" ] && break
  if [ $(( $(date +%s) - start )) -gt "$deadline_s" ]; then
    fail "jobs still active after ${deadline_s} s: $(tr '\n' ';' <<<"$active")"
  fi
  sleep 1
done
echo "jobs done in $(( $(date +%s) - start )) s"

# Final states from the job-completion log (one line per job, array tasks included).
job_state() { grep -E "^JobId=$1 " "$T/jobcomp.txt" | grep -o 'JobState=[A-Z_]*' | tail -1 | cut -d= -f2; }
for ((i = 0; i < 4; i++)); do
  line=$(grep -E " ArrayJobId=$array_job ArrayTaskId=$i " "$T/jobcomp.txt" || true)
  st=$(grep -o 'JobState=[A-Z_]*' <<<"$line" | cut -d= -f2)
  [ "$st" = COMPLETED ] || fail "array task $i: state '${st:-none}' (log: $T/shards/logs/ingest-${array_job}_$i.out)"
  [ -f "$T/shards/shard-$i.db" ] || fail "array task $i wrote no shard"
done
echo "array $array_job: 4 tasks COMPLETED, 4 shards"

# ---- The same plan, serially, into one catalog ----
# Built here from the plan independently of ingest-array.sbatch: the columns, --tasks, the
# probe, --device cpu (what the array tasks used) and the options.
i=0
while IFS="$tab" read -r network model layers tsk options; do
  cmd=("$ingest" --network "$network" --model "$model" --layer "$layers" --db "$T/serial.db"
       --probe "$T/fx/probe" --device cpu -q)
  [ "$tsk" = - ] || cmd+=(--tasks "$tsk")
  read -ra o <<<"$options"
  (cd "$T" && "${cmd[@]}" "${o[@]}" >"$T/log/serial-$i.out" 2>&1) || fail "serial ingest of line $i: $(tail -3 "$T/log/serial-$i.out")"
  i=$((i + 1))
done < <(grep -vE '^[[:space:]]*(#|$)' "$T/plan.tsv")
[ $i = 4 ] || fail "serial run read $i plan lines, expected 4"

dump() { sqlite3 -readonly "$1" <"$here/dump.sql" | LC_ALL=C sort -u; }
dump "$T/serial.db" >"$T/serial.txt"
spaces=$(sqlite3 -readonly "$T/serial.db" "SELECT id FROM space ORDER BY id" | tr '\n' ' ')
spaces=${spaces% }
[ "$spaces" = "$expected_spaces" ] || fail "serial catalog spaces: $spaces; expected $expected_spaces"
embeddings=$(grep -c '^embedding|' "$T/serial.txt")
[ "$embeddings" -gt 0 ] || fail "serial catalog has no embeddings"

# The shards together hold what the serial catalog holds.
for ((i = 0; i < 4; i++)); do dump "$T/shards/shard-$i.db"; done | LC_ALL=C sort -u >"$T/shards.txt"
if ! cmp -s "$T/serial.txt" "$T/shards.txt"; then
  diff "$T/serial.txt" "$T/shards.txt" | cut -c1-200 | head -20
  fail "the shards differ from the serial catalog (above: < serial, > shards)"
fi
echo "shards = serial: $(wc -l <"$T/serial.txt") rows, 7 spaces, $embeddings embeddings"

# ---- The merge job's catalog ----
if [ $have_merge = 0 ]; then
  skip "net2vec merge not available ('$net2vec merge --help' has no --into): the array and its shards passed, the merged catalog was not checked"
fi
st=$(job_state "$merge_job")
[ "$st" = COMPLETED ] || fail "merge job $merge_job: state '${st:-none}' (log: $T/shards/logs/merge-$merge_job.out)"
[ -f "$T/merged.db" ] || fail "the merge job wrote no $T/merged.db"
dump "$T/merged.db" >"$T/merged.txt"
if ! cmp -s "$T/serial.txt" "$T/merged.txt"; then
  diff "$T/serial.txt" "$T/merged.txt" | cut -c1-200 | head -20
  fail "the merged catalog differs from the serial one (above: < serial, > merged)"
fi
echo "merged = serial: same spaces ($spaces), vectors, scores, thresholds, F sweeps, per-image IoUs, masks"
echo "PASSED in $(( $(date +%s) - start )) s after submission"
