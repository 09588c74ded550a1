#!/usr/bin/env bash
# Ingest benchmark: eddy (fsync=always, fsync=interval=100) against kinesalite (in-memory), all
# driven by eddy's native load client `eddy bench ingest` over loopback.
#
#   bench/ingest_vs_kinesalite.sh                       # EDDY_BIN defaults to build/release/eddy
#   EDDY_BIN=build/dev/eddy EDDY_RECORDS=200000 bench/ingest_vs_kinesalite.sh
#
# Builds nothing. Needs: a built eddy, node + `npm ci` (for node_modules/.bin/kinesalite).
# Every step is bounded: server start 20 s, each load run RUN_TIMEOUT s (default 600), shutdown 5 s.
# All servers it starts are stopped on exit (trap), by PID.
#
# Knobs (environment, defaults in brackets):
#   EDDY_BIN [build/release/eddy]   EDDY_RECORDS [1000000]   KINESALITE_RECORDS [20000]
#   SHARDS [4]  CONNECTIONS [8]  BATCH [500]  RECORD_BYTES [100]  RUN_TIMEOUT [600]
#   BENCH_OUT [a new temp dir]: where server logs and load-client outputs are kept
#   SKIP_KINESALITE [0]: 1 to run the eddy configurations only
#
# Note: the load client and the server share this machine's cores, so the figures are for
# "client + server on N cores"; the machine is printed first.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EDDY_BIN=${EDDY_BIN:-$ROOT/build/release/eddy}
EDDY_RECORDS=${EDDY_RECORDS:-1000000}
KINESALITE_RECORDS=${KINESALITE_RECORDS:-20000}
SHARDS=${SHARDS:-4}
CONNECTIONS=${CONNECTIONS:-8}
BATCH=${BATCH:-500}
RECORD_BYTES=${RECORD_BYTES:-100}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
SKIP_KINESALITE=${SKIP_KINESALITE:-0}
STARTUP_TIMEOUT=20

die() { echo "ingest_vs_kinesalite: $*" >&2; exit 2; }

[[ -x $EDDY_BIN ]] || die "eddy binary not found or not executable: $EDDY_BIN (set EDDY_BIN; this script builds nothing)"
if [[ $SKIP_KINESALITE != 1 ]]; then
  command -v node >/dev/null || die "node is needed for kinesalite (or set SKIP_KINESALITE=1)"
  [[ -f $ROOT/node_modules/kinesalite/index.js ]] || die "kinesalite not installed: run 'npm ci' in $ROOT (or set SKIP_KINESALITE=1)"
fi
command -v timeout >/dev/null || die "coreutils 'timeout' is needed"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/eddy-bench.XXXXXX")
OUT=${BENCH_OUT:-$WORK/out}
mkdir -p "$OUT"

# ---------------------------------------------------------------------------------------------
# process bookkeeping: every server we start is recorded and stopped on exit

PIDS=()
stop_pid() { # stop_pid PID: TERM, up to 5 s, then KILL
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local i
  # newest first: the load client before the server it talks to
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  PIDS=()
  rm -rf "$WORK/data-"* 2>/dev/null || true
  if [[ -z ${BENCH_OUT:-} ]]; then
    # keep logs only if something went wrong; the summary already printed the figures
    if [[ ${KEEP_LOGS:-0} == 1 ]]; then echo "logs kept in $OUT"; else rm -rf "$WORK"; fi
  fi
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# helpers

# wait_for_line FILE REGEX PID: print the first match of REGEX in FILE within STARTUP_TIMEOUT s
wait_for_line() {
  local file=$1 re=$2 pid=$3 deadline=$((SECONDS + STARTUP_TIMEOUT)) m
  while ((SECONDS < deadline)); do
    m=$(grep -oE "$re" "$file" 2>/dev/null | head -n1 || true)
    if [[ -n $m ]]; then echo "$m"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "server exited early; log:" >&2; tail -n 30 "$file" >&2; return 1; }
    sleep 0.1
  done
  echo "server did not become ready within ${STARTUP_TIMEOUT}s; log:" >&2
  tail -n 30 "$file" >&2
  return 1
}

SERVER_PID=
SERVER_PORT=

start_eddy() { # start_eddy TAG FSYNC
  local tag=$1 fsync=$2 dir=$WORK/data-$1 log=$OUT/server-$1.log line
  mkdir -p "$dir"
  "$EDDY_BIN" serve --host 127.0.0.1 --port 0 --data-dir "$dir" --fsync "$fsync" >"$log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  line=$(wait_for_line "$log" 'listening on http://127\.0\.0\.1:[0-9]+' "$SERVER_PID") || return 1
  SERVER_PORT=${line##*:}
}

# kinesalite in memory (no --path), with the options of its CLI (node_modules/.bin/kinesalite:
# --createStreamMs 0 --deleteStreamMs 0 --updateStreamMs 0 --shardLimit 1000), but bound to
# 127.0.0.1 and an ephemeral port: its CLI listens on every interface and cannot take port 0.
start_kinesalite() {
  local log=$OUT/server-kinesalite.log line
  node -e '
    const kinesalite = require(process.argv[1]);
    const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 1000 });
    server.listen(0, "127.0.0.1", () => console.log("Listening at http://127.0.0.1:" + server.address().port));
    process.on("SIGTERM", () => process.exit(0));
  ' "$ROOT/node_modules/kinesalite" >"$log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  line=$(wait_for_line "$log" 'Listening at http://127\.0\.0\.1:[0-9]+' "$SERVER_PID") || return 1
  SERVER_PORT=${line##*:}
}

stop_server() {
  [[ -n $SERVER_PID ]] && stop_pid "$SERVER_PID"
  SERVER_PID=
}

# run_load TAG RECORDS: run the native load client against SERVER_PORT, keep its RESULT line
declare -A RESULT_LINE=()
run_load() {
  local tag=$1 records=$2 out=$OUT/bench-$1.txt rc=0 load_pid tail_pid
  echo
  echo "=== $tag: $records records, $SHARDS shards, $CONNECTIONS connections, batch $BATCH, $RECORD_BYTES B/record (limit ${RUN_TIMEOUT}s)"
  # In the background + `wait`, so that INT/TERM reach our trap at once (bash defers traps while a
  # foreground command runs); `timeout` also forwards the TERM our cleanup sends it.
  : >"$out"
  timeout --signal=INT --kill-after=10 "$RUN_TIMEOUT" \
    "$EDDY_BIN" bench ingest --endpoint "http://127.0.0.1:$SERVER_PORT" --stream bench \
      --shards "$SHARDS" --connections "$CONNECTIONS" --records "$records" --batch "$BATCH" \
      --record-bytes "$RECORD_BYTES" </dev/null >"$out" 2>&1 &
  load_pid=$!
  PIDS+=("$load_pid")
  tail -n +1 -f --pid="$load_pid" "$out" &
  tail_pid=$!
  PIDS+=("$tail_pid")
  wait "$load_pid" || rc=$?
  wait "$tail_pid" 2>/dev/null || true
  if ((rc == 124)); then echo "!!! $tag: load run exceeded ${RUN_TIMEOUT}s and was stopped" >&2; fi
  local line
  line=$(grep -E '^RESULT ' "$out" | tail -n1 || true)
  if [[ -z $line ]]; then
    echo "!!! $tag: no RESULT line (exit status $rc)" >&2
    return 1
  fi
  RESULT_LINE[$tag]=$line
}

field() { # field TAG KEY -> value from that run's RESULT line, or "-"
  local line=${RESULT_LINE[$1]:-} kv
  for kv in $line; do
    if [[ $kv == "$2="* ]]; then echo "${kv#*=}"; return; fi
  done
  echo "-"
}

# ---------------------------------------------------------------------------------------------
# machine

echo "=== machine"
echo "nproc:      $(nproc)"
echo "cpu:        $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)"
echo "memory:     $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null)"
echo "kernel:     $(uname -sr)"
EDDY_VERSION=$(timeout 5 "$EDDY_BIN" --version 2>/dev/null </dev/null | head -n1) || true
echo "eddy:       $EDDY_BIN (${EDDY_VERSION:-version unknown})"
if [[ $SKIP_KINESALITE != 1 ]]; then
  echo "kinesalite: $(node -p 'require(process.argv[1]).version' "$ROOT/node_modules/kinesalite/package.json" 2>/dev/null) on node $(node --version)"
fi
echo "output:     $OUT"

# ---------------------------------------------------------------------------------------------
# runs

TAGS=()
FAILED=0

run_eddy() { # run_eddy TAG FSYNC
  TAGS+=("$1")
  if start_eddy "$1" "$2"; then
    run_load "$1" "$EDDY_RECORDS" || FAILED=1
  else
    echo "!!! $1: eddy did not start" >&2
    FAILED=1
  fi
  stop_server
  rm -rf "$WORK/data-$1"
}

run_eddy eddy-fsync-always always
run_eddy eddy-fsync-interval100 interval=100

if [[ $SKIP_KINESALITE != 1 ]]; then
  TAGS+=(kinesalite)
  if start_kinesalite; then
    run_load kinesalite "$KINESALITE_RECORDS" || FAILED=1
  else
    FAILED=1
  fi
  stop_server
fi

# ---------------------------------------------------------------------------------------------
# summary

ratio() { # ratio A B -> A/B with 1 decimal, or "-"
  awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.eE+-]+$/ && b ~ /^[0-9.eE+-]+$/ && b + 0 > 0) printf "%.1fx", a / b; else printf "-" }'
}

echo
echo "=== summary (PutRecords, $BATCH records/request, $RECORD_BYTES B records, $SHARDS shards, $CONNECTIONS connections)"
printf '%-24s %10s %14s %10s %10s %10s %14s %12s\n' \
  target records put_rec/s put_MB/s p50_ms p99_ms get_rec/s vs_kinesalite
KL=$(field kinesalite put_records_per_s)
for tag in "${TAGS[@]}"; do
  if [[ $tag == kinesalite ]]; then n=$KINESALITE_RECORDS; else n=$EDDY_RECORDS; fi
  if [[ -z ${RESULT_LINE[$tag]:-} ]]; then
    printf '%-24s %10s %14s\n' "$tag" "$n" FAILED
    continue
  fi
  pr=$(field "$tag" put_records_per_s)
  if [[ $tag == kinesalite ]]; then r="1.0x"; else r=$(ratio "$pr" "$KL"); fi
  printf '%-24s %10s %14s %10s %10s %10s %14s %12s\n' "$tag" "$n" "$pr" \
    "$(field "$tag" put_mb_per_s)" "$(field "$tag" put_p50_ms)" "$(field "$tag" put_p99_ms)" \
    "$(field "$tag" get_records_per_s)" "$r"
done

if ((FAILED)); then
  KEEP_LOGS=1
  echo "some runs failed; logs in $OUT" >&2
  exit 1
fi
