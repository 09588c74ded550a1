#!/usr/bin/env bash
# Ingest benchmark: eddy (fsync=always, fsync=always over HTTPS, fsync=interval=100) against
# kinesalite (in-memory) and kinesis-local (kinesis-mock, the engine LocalStack runs; in-memory),
# all driven by eddy's native load client `eddy bench ingest` over loopback.
#
#   bench/ingest_vs_kinesalite.sh                       # EDDY_BIN defaults to build/release/eddy
#   EDDY_BIN=build/dev/eddy EDDY_RECORDS=200000 bench/ingest_vs_kinesalite.sh
#
# Builds nothing. Needs: a built eddy, node + `npm ci` (for node_modules/kinesalite and
# node_modules/kinesis-local).
# Every step is bounded: server start 20 s, each load run RUN_TIMEOUT s (default 600), shutdown 5 s.
# All servers it starts are stopped on exit (trap), by PID.
#
# Knobs (environment, defaults in brackets):
#   EDDY_BIN [build/release/eddy]   EDDY_RECORDS [1000000]   KINESALITE_RECORDS [20000]
#   KINESIS_LOCAL_RECORDS [10000]   SHARDS [4]  CONNECTIONS [8]  BATCH [500]  RECORD_BYTES [100]
#   RUN_TIMEOUT [600]
#   BENCH_OUT [a new temp dir]: where server logs and load-client outputs are kept
#   SKIP_TLS [0]: 1 to leave out eddy over HTTPS
#   TLS_FSYNC [always]: the --fsync settings (comma-separated: always, interval=100) of the HTTPS
#     runs; each is compared with the plain run of the same setting
#   SKIP_KINESALITE [0]: 1 to leave out kinesalite
#   SKIP_KINESIS_LOCAL [0]: 1 to leave out kinesis-local
#
# eddy over HTTPS: `eddy serve --tls-self-signed` (by default with --fsync always, as the plain
# row it is compared with); the load client trusts the certificate the server made with --ca-bundle.
# With --fsync always PutRecords waits for fsync more than for the CPU, so TLS_FSYNC=always,interval=100
# also shows what TLS costs where the CPU is the limit. Over https the load client sends
# through libcurl (one easy handle, so one kept-alive TLS connection, per connection) instead of
# its plain-HTTP Beast client, so the TLS/plain ratio is "TLS + the libcurl client" against
# "plain + the Beast client", both on the same cores as the server.
#
# kinesis-local has no host or port-0 option: it listens on every interface, on the ports
# KINESIS_MOCK_PLAIN_PORT (http) and KINESIS_MOCK_TLS_PORT (https), which this script picks free
# (a small race with other programs picking ports at the same moment), and it prints nothing when
# ready, so readiness is its first answer on the plain port. Stream create/delete delays are set
# to 0 (its default is 500 ms; the load client waits for ACTIVE either way).
#
# Note: the load client and the server share this machine's cores, so the figures are for
# "client + server on N cores"; the machine is printed first.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EDDY_BIN=${EDDY_BIN:-$ROOT/build/release/eddy}
EDDY_RECORDS=${EDDY_RECORDS:-1000000}
KINESALITE_RECORDS=${KINESALITE_RECORDS:-20000}
KINESIS_LOCAL_RECORDS=${KINESIS_LOCAL_RECORDS:-10000}
SHARDS=${SHARDS:-4}
CONNECTIONS=${CONNECTIONS:-8}
BATCH=${BATCH:-500}
RECORD_BYTES=${RECORD_BYTES:-100}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
SKIP_KINESALITE=${SKIP_KINESALITE:-0}
SKIP_KINESIS_LOCAL=${SKIP_KINESIS_LOCAL:-0}
SKIP_TLS=${SKIP_TLS:-0}
TLS_FSYNC=${TLS_FSYNC:-always}
STARTUP_TIMEOUT=20

die() { echo "ingest_vs_kinesalite: $*" >&2; exit 2; }

[[ -x $EDDY_BIN ]] || die "eddy binary not found or not executable: $EDDY_BIN (set EDDY_BIN; this script builds nothing)"
if [[ $SKIP_KINESALITE != 1 ]]; then
  command -v node >/dev/null || die "node is needed for kinesalite (or set SKIP_KINESALITE=1)"
  [[ -f $ROOT/node_modules/kinesalite/index.js ]] || die "kinesalite not installed: run 'npm ci' in $ROOT (or set SKIP_KINESALITE=1)"
fi
KINESIS_LOCAL_DIR=$ROOT/node_modules/kinesis-local
if [[ $SKIP_KINESIS_LOCAL != 1 ]]; then
  command -v node >/dev/null || die "node is needed for kinesis-local (or set SKIP_KINESIS_LOCAL=1)"
  [[ -f $KINESIS_LOCAL_DIR/main.js ]] || die "kinesis-local not installed: run 'npm ci' in $ROOT (or set SKIP_KINESIS_LOCAL=1)"
  command -v curl >/dev/null || die "curl is needed to see kinesis-local answer (or set SKIP_KINESIS_LOCAL=1)"
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

SERVER_SCHEME=http
SERVER_CA=

start_eddy() { # start_eddy TAG FSYNC [tls]
  local tag=$1 fsync=$2 tls=${3:-} dir=$WORK/data-$1 log=$OUT/server-$1.log line
  local -a extra=()
  mkdir -p "$dir"
  SERVER_SCHEME=http
  SERVER_CA=
  if [[ $tls == tls ]]; then
    extra=(--tls-self-signed)
    SERVER_SCHEME=https
    SERVER_CA=$dir/tls/cert.pem
  fi
  "$EDDY_BIN" serve --host 127.0.0.1 --port 0 --data-dir "$dir" --fsync "$fsync" "${extra[@]}" >"$log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  line=$(wait_for_line "$log" "listening on $SERVER_SCHEME://127\.0\.0\.1:[0-9]+" "$SERVER_PID") || return 1
  SERVER_PORT=${line##*:}
  if [[ -n $SERVER_CA && ! -s $SERVER_CA ]]; then echo "!!! $tag: no certificate at $SERVER_CA" >&2; return 1; fi
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

# free_port: a TCP port free on 127.0.0.1 right now (bound to port 0 and released)
free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# kinesis-local (kinesis-mock compiled to JavaScript), in memory. Its server.json (self-signed
# certificate for its https port) is found through KINESIS_MOCK_CERT_PATH; without it, main.js looks
# in the working directory and exits.
start_kinesis_local() {
  local log=$OUT/server-kinesis-local.log plain tls deadline=$((SECONDS + STARTUP_TIMEOUT))
  plain=$(free_port) && tls=$(free_port) || return 1
  [[ $plain != "$tls" ]] || tls=$(free_port)
  KINESIS_MOCK_PLAIN_PORT=$plain KINESIS_MOCK_TLS_PORT=$tls \
    KINESIS_MOCK_CERT_PATH=$KINESIS_LOCAL_DIR/server.json \
    CREATE_STREAM_DURATION=0ms DELETE_STREAM_DURATION=0ms SHARD_LIMIT=1000 \
    SHOULD_PERSIST_DATA=false LOG_LEVEL=WARN \
    node "$KINESIS_LOCAL_DIR/main.js" </dev/null >"$log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  SERVER_SCHEME=http
  SERVER_CA=
  # Ready when it answers on the plain port (an unsigned request gets a JSON error back).
  while ((SECONDS < deadline)); do
    if curl -s -m 2 -o /dev/null -X POST -H 'Content-Type: application/x-amz-json-1.1' \
        -H 'X-Amz-Target: Kinesis_20131202.ListStreams' -d '{}' "http://127.0.0.1:$plain/"; then
      SERVER_PORT=$plain
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "kinesis-local exited early; log:" >&2; tail -n 30 "$log" >&2; return 1; }
    sleep 0.2
  done
  echo "kinesis-local did not answer within ${STARTUP_TIMEOUT}s; log:" >&2
  tail -n 30 "$log" >&2
  return 1
}

stop_server() {
  [[ -n $SERVER_PID ]] && stop_pid "$SERVER_PID"
  SERVER_PID=
  SERVER_SCHEME=http # the next server is plain unless its start says otherwise
  SERVER_CA=
}

# run_load TAG RECORDS: run the native load client against SERVER_PORT, keep its RESULT line
declare -A RESULT_LINE=()
run_load() {
  local tag=$1 records=$2 out=$OUT/bench-$1.txt rc=0 load_pid tail_pid
  local -a ca=()
  [[ -n $SERVER_CA ]] && ca=(--ca-bundle "$SERVER_CA")
  echo
  echo "=== $tag: $records records, $SHARDS shards, $CONNECTIONS connections, batch $BATCH, $RECORD_BYTES B/record, $SERVER_SCHEME (limit ${RUN_TIMEOUT}s)"
  # In the background + `wait`, so that INT/TERM reach our trap at once (bash defers traps while a
  # foreground command runs); `timeout` also forwards the TERM our cleanup sends it.
  : >"$out"
  timeout --signal=INT --kill-after=10 "$RUN_TIMEOUT" \
    "$EDDY_BIN" "${ca[@]}" bench ingest --endpoint "$SERVER_SCHEME://127.0.0.1:$SERVER_PORT" --stream bench \
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
if [[ $SKIP_KINESIS_LOCAL != 1 ]]; then
  echo "kinesis-local: $(node -p 'require(process.argv[1]).version' "$KINESIS_LOCAL_DIR/package.json" 2>/dev/null) on node $(node --version)"
fi
echo "output:     $OUT"

# ---------------------------------------------------------------------------------------------
# runs

TAGS=()
FAILED=0

run_eddy() { # run_eddy TAG FSYNC [tls]
  TAGS+=("$1")
  if start_eddy "$1" "$2" "${3:-}"; then
    run_load "$1" "$EDDY_RECORDS" || FAILED=1
  else
    echo "!!! $1: eddy did not start" >&2
    FAILED=1
  fi
  stop_server
  rm -rf "$WORK/data-$1"
}

tls_wanted() { [[ $SKIP_TLS != 1 && ,$TLS_FSYNC, == *",$1,"* ]]; }
TLS_PAIRS=() # "plain-tag tls-tag fsync"
run_eddy eddy-fsync-always always
if tls_wanted always; then
  run_eddy eddy-fsync-always-tls always tls
  TLS_PAIRS+=("eddy-fsync-always eddy-fsync-always-tls always")
fi
run_eddy eddy-fsync-interval100 interval=100
if tls_wanted interval=100; then
  run_eddy eddy-fsync-interval100-tls interval=100 tls
  TLS_PAIRS+=("eddy-fsync-interval100 eddy-fsync-interval100-tls interval=100")
fi

if [[ $SKIP_KINESALITE != 1 ]]; then
  TAGS+=(kinesalite)
  if start_kinesalite; then
    run_load kinesalite "$KINESALITE_RECORDS" || FAILED=1
  else
    FAILED=1
  fi
  stop_server
fi

if [[ $SKIP_KINESIS_LOCAL != 1 ]]; then
  TAGS+=(kinesis-local)
  if start_kinesis_local; then
    run_load kinesis-local "$KINESIS_LOCAL_RECORDS" || FAILED=1
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

ratio2() { # ratio2 A B -> A/B with 2 decimals, or "-"
  awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.eE+-]+$/ && b ~ /^[0-9.eE+-]+$/ && b + 0 > 0) printf "%.2f", a / b; else printf "-" }'
}

echo
echo "=== summary (PutRecords, $BATCH records/request, $RECORD_BYTES B records, $SHARDS shards, $CONNECTIONS connections)"
printf '%-28s %10s %14s %10s %10s %10s %14s %14s %14s\n' \
  target records put_rec/s put_MB/s p50_ms p99_ms get_rec/s vs_kinesalite vs_kinesis-local
KL=$(field kinesalite put_records_per_s)
KM=$(field kinesis-local put_records_per_s)
for tag in "${TAGS[@]}"; do
  case $tag in
    kinesalite) n=$KINESALITE_RECORDS ;;
    kinesis-local) n=$KINESIS_LOCAL_RECORDS ;;
    *) n=$EDDY_RECORDS ;;
  esac
  if [[ -z ${RESULT_LINE[$tag]:-} ]]; then
    printf '%-28s %10s %14s\n' "$tag" "$n" FAILED
    continue
  fi
  pr=$(field "$tag" put_records_per_s)
  printf '%-28s %10s %14s %10s %10s %10s %14s %14s %14s\n' "$tag" "$n" "$pr" \
    "$(field "$tag" put_mb_per_s)" "$(field "$tag" put_p50_ms)" "$(field "$tag" put_p99_ms)" \
    "$(field "$tag" get_records_per_s)" "$(ratio "$pr" "$KL")" "$(ratio "$pr" "$KM")"
done
if ((${#TLS_PAIRS[@]})); then echo; fi
for pair in "${TLS_PAIRS[@]}"; do
  read -r plain tls fsync <<<"$pair"
  [[ -n ${RESULT_LINE[$plain]:-} && -n ${RESULT_LINE[$tls]:-} ]] || continue
  echo "TLS/plain (eddy --fsync $fsync, same run): PutRecords $(ratio2 "$(field "$tls" put_records_per_s)" "$(field "$plain" put_records_per_s)")," \
    "GetRecords $(ratio2 "$(field "$tls" get_records_per_s)" "$(field "$plain" get_records_per_s)")"
done

if ((FAILED)); then
  KEEP_LOGS=1
  echo "some runs failed; logs in $OUT" >&2
  exit 1
fi
