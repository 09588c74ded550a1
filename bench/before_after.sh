#!/usr/bin/env bash
# Before/after comparison of two eddy binaries on the ingest benchmark and the seed aggregation,
# run interleaved (before, after, before, after, ...) so that both see the same machine.
#
#   BEFORE=/path/to/old/eddy AFTER=build/release/eddy bench/before_after.sh
#   BEFORE=... AFTER=... ROUNDS=2 EVENTS=100000 INGEST_RECORDS=100000 STREAM_EVENTS=100000 bench/before_after.sh
#
# What it runs, each benchmark in a phase of its own, ROUNDS pairs per phase after WARMUP
# uncounted pairs:
#   ingest  `eddy bench ingest` (as bench/ingest_vs_kinesalite.sh runs it: 4 shards, 8 connections,
#           batches of 500 x ~100 B, then a GetRecords drain) against the binary's own
#           `eddy serve --host 127.0.0.1 --port 0`, a fresh data dir per run; once per --fsync
#           mode in FSYNCS. Figures: the client's RESULT line (PutRecords and GetRecords records/s,
#           PutRecords call p50).
#   seed    the seed application of tests/sql/seed.test (revenue per store per 60 s STEP window on
#           ROWTIME = the "at" field) through `eddy sql run --parallelism SQL_PARALLELISM` over EVENTS
#           sales events from bench/gen_sales.py (the event shape of BENCHMARKS.md's SQL section),
#           generated once into EVENTS_FILE and reused. Figure: wall seconds of the whole process
#           (and its user+sys CPU seconds), input from the page cache. The output rows of every run
#           must equal the first before run's, byte for byte.
#   stream  the same aggregation by an application on the binary's own `eddy serve`
#           (bench/sql_stream_run.py): the first STREAM_EVENTS events are put into a fresh 1-shard
#           stream (`eddy put`, not timed), then the seconds from StartApplication to the last group
#           in the output stream; the revenue total must be equal in every run. SKIP_STREAM=1 skips it.
# Then a table per figure: median, min and max of each binary, after/before of the medians and
# the median of the pair-by-pair ratios (each after run over the before run just ahead of it).
#
# Builds nothing; reads nothing outside this repository but the two binaries and its own temp
# files. Needs python3 (generator, stream client with boto3, statistics), coreutils `timeout`.
# Every step is bounded: server start STARTUP_TIMEOUT s, each run RUN_TIMEOUT s, generation
# GEN_TIMEOUT s. Servers and clients it starts are stopped on exit, by PID.
#
# Knobs (environment, defaults in brackets):
#   BEFORE, AFTER (required): eddy binaries   ROUNDS [5]: counted pairs per benchmark   WARMUP [1]
#   BENCHES ["ingest seed stream"]: which phases, in this order
#   INGEST_RECORDS [1000000]  FSYNCS ["always interval=100"]  SHARDS [4]  CONNECTIONS [8]
#   BATCH [500]  RECORD_BYTES [100]
#   EVENTS [3000000]: seed events (~138 B each)   RATE [1000]: events per simulated second
#   EVENTS_FILE [/tmp/eddy-before-after/sales-EVENTS-RATE.ndjson]: generated once, reused; the
#   seed's SQL and schema are written beside it (seed.sql, seed-schema.json)
#   SQL_PARALLELISM [1]
#   STREAM_EVENTS [2000000]: events put into the stream (first lines of EVENTS_FILE; at most EVENTS)
#   STREAM_PARALLELISM [1]: the server's --parallelism   STREAM_FSYNC [interval=200]   SKIP_STREAM [0]
#   STARTUP_TIMEOUT [20]  RUN_TIMEOUT [600]  GEN_TIMEOUT [600]
#   OUT [a new temp dir]: logs and per-run outputs (removed at the end unless KEEP=1 or a failure)

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-5}
WARMUP=${WARMUP:-1}
BENCHES=${BENCHES:-ingest seed stream}
INGEST_RECORDS=${INGEST_RECORDS:-1000000}
FSYNCS=${FSYNCS:-always interval=100}
SHARDS=${SHARDS:-4}
CONNECTIONS=${CONNECTIONS:-8}
BATCH=${BATCH:-500}
RECORD_BYTES=${RECORD_BYTES:-100}
EVENTS=${EVENTS:-3000000}
RATE=${RATE:-1000}
EVENTS_FILE=${EVENTS_FILE:-/tmp/eddy-before-after/sales-$EVENTS-$RATE.ndjson}
SQL_PARALLELISM=${SQL_PARALLELISM:-1}
STREAM_EVENTS=${STREAM_EVENTS:-2000000}
STREAM_PARALLELISM=${STREAM_PARALLELISM:-1}
STREAM_FSYNC=${STREAM_FSYNC:-interval=200}
SKIP_STREAM=${SKIP_STREAM:-0}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-20}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
GEN_TIMEOUT=${GEN_TIMEOUT:-600}
KEEP=${KEEP:-0}
SEED_TEST=$ROOT/tests/sql/seed.test

die() { echo "before_after: $*" >&2; exit 2; }
posint() { [[ $2 =~ ^[0-9]+$ && $2 -gt 0 ]] || die "$1 must be a positive integer (got '$2')"; }

[[ -n ${BEFORE:-} && -n ${AFTER:-} ]] || die "set BEFORE=<eddy binary> AFTER=<eddy binary>"
BEFORE=$(realpath "$BEFORE") AFTER=$(realpath "$AFTER")
[[ -x $BEFORE ]] || die "BEFORE is not an executable: $BEFORE"
[[ -x $AFTER ]] || die "AFTER is not an executable: $AFTER"
posint ROUNDS "$ROUNDS"; posint INGEST_RECORDS "$INGEST_RECORDS"; posint EVENTS "$EVENTS"
posint STREAM_EVENTS "$STREAM_EVENTS"; posint SQL_PARALLELISM "$SQL_PARALLELISM"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be 0 or more"
((ROUNDS <= 50 && WARMUP <= 5)) || die "ROUNDS at most 50, WARMUP at most 5"
((STREAM_EVENTS <= EVENTS)) || STREAM_EVENTS=$EVENTS
if [[ $SKIP_STREAM == 1 ]]; then BENCHES=${BENCHES//stream/}; fi
read -r -a BENCH_LIST <<<"$BENCHES"
for b in "${BENCH_LIST[@]}"; do [[ $b == ingest || $b == seed || $b == stream ]] || die "BENCHES: unknown '$b'"; done
read -r -a FSYNC_LIST <<<"$FSYNCS"
command -v timeout >/dev/null || die "coreutils 'timeout' is needed"
command -v python3 >/dev/null || die "python3 is needed"
[[ -f $SEED_TEST ]] || die "missing $SEED_TEST"
if [[ " ${BENCH_LIST[*]} " == *" stream "* ]]; then
  python3 -c 'import boto3' 2>/dev/null || die "the stream phase needs python3 with boto3 (or SKIP_STREAM=1)"
fi

if [[ -n ${OUT:-} ]]; then WORK=$OUT; mkdir -p "$WORK"; else WORK=$(mktemp -d "${TMPDIR:-/tmp}/eddy-before-after.XXXXXX"); fi
RESULTS=$WORK/results.tsv  # bench  figure  side  round  value
: >"$RESULTS"

# ---------------------------------------------------------------------------------------------
# process bookkeeping: every process started in the background is stopped on exit, by PID

PIDS=()
FAILED=0
stop_pid() { # TERM, up to 5 s, then KILL
  local pid=$1 i
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
forget_pid() { local keep=() p; for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done; PIDS=(${keep[@]+"${keep[@]}"}); }
cleanup() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  PIDS=()
  rm -rf "$WORK"/data-* 2>/dev/null || true
  if [[ -z ${OUT:-} ]]; then
    if [[ $KEEP == 1 || $FAILED != 0 ]]; then echo "files kept in $WORK"; else rm -rf "$WORK"; fi
  fi
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; FAILED=1; exit 130' INT TERM

# bounded LIMIT CMD...: CMD under `timeout`, in the background + wait so that INT/TERM reach the
# trap at once; stdin /dev/null, the caller redirects output. Sets ELAPSED (wall seconds).
ELAPSED=
bounded() {
  local limit=$1 pid rc=0 t0 t1
  shift
  t0=$EPOCHREALTIME
  timeout --signal=TERM --kill-after=10 "$limit" "$@" </dev/null &
  pid=$!
  PIDS+=("$pid")
  wait "$pid" || rc=$?
  t1=$EPOCHREALTIME
  forget_pid "$pid"
  ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  return "$rc"
}

# start_server BIN DIR LOG ARGS...: `BIN serve` on 127.0.0.1, a free port; sets SERVER_PID, ENDPOINT
SERVER_PID= ENDPOINT=
start_server() {
  local bin=$1 dir=$2 log=$3 deadline line
  shift 3
  rm -rf "$dir"
  mkdir -p "$dir"
  "$bin" serve --host 127.0.0.1 --port 0 --data-dir "$dir" "$@" >"$log" 2>&1 </dev/null &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  deadline=$((SECONDS + STARTUP_TIMEOUT))
  while ((SECONDS < deadline)); do
    line=$(grep -oE 'listening on http://127\.0\.0\.1:[0-9]+' "$log" 2>/dev/null | head -n1 || true)
    if [[ -n $line ]]; then ENDPOINT=http://${line#listening on http://}; return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "!!! server exited early; log:" >&2; tail -n 20 "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "!!! server not ready within ${STARTUP_TIMEOUT}s; log:" >&2
  tail -n 20 "$log" >&2
  return 1
}
stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  stop_pid "$SERVER_PID"
  forget_pid "$SERVER_PID"
  SERVER_PID=
}

record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }  # bench figure side round value
kv() { local k=$1 w; shift; for w in $*; do [[ $w == "$k="* ]] && { echo "${w#*=}"; return; }; done; echo ""; }
bin_of() { [[ $1 == before ]] && echo "$BEFORE" || echo "$AFTER"; }

# ---------------------------------------------------------------------------------------------
# machine and binaries

echo "=== machine"
echo "nproc:   $(nproc)"
echo "cpu:     $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)"
echo "memory:  $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; the figures mean little if this is near nproc)"
for side in before after; do
  b=$(bin_of $side)
  printf '%-8s %s (%s, built %s, sha256 %s)\n' "$side:" "$b" "$(timeout 5 "$b" --version 2>/dev/null </dev/null | head -n1 || echo '?')" \
    "$(date -r "$b" '+%Y-%m-%d %H:%M:%S')" "$(sha256sum "$b" | cut -c1-12)"
done
[[ $(sha256sum <"$BEFORE") != $(sha256sum <"$AFTER") ]] || echo "note: BEFORE and AFTER are the same file contents (a smoke test?)"
echo "rounds:  $ROUNDS counted + $WARMUP warm-up per benchmark, order before, after, before, after, ..."
echo "work:    $WORK"

# ---------------------------------------------------------------------------------------------
# ingest: eddy bench ingest against each binary's own server

ingest_run() { # ingest_run SIDE FSYNC ROUND(0 = warm-up)
  local side=$1 fsync=$2 round=$3 bin tag out line rc=0
  bin=$(bin_of "$side")
  tag=ingest-${fsync//=/}-$side-r$round
  out=$WORK/$tag.txt
  start_server "$bin" "$WORK/data-$tag" "$WORK/$tag.server.log" --fsync "$fsync" || { FAILED=1; stop_server; return 1; }
  bounded "$RUN_TIMEOUT" "$bin" bench ingest --endpoint "$ENDPOINT" --stream bench --shards "$SHARDS" \
    --connections "$CONNECTIONS" --records "$INGEST_RECORDS" --batch "$BATCH" --record-bytes "$RECORD_BYTES" \
    >"$out" 2>&1 || rc=$?
  stop_server
  rm -rf "$WORK/data-$tag"
  line=$(grep -E '^RESULT ' "$out" | tail -n1 || true)
  if ((rc != 0)) || [[ -z $line ]]; then
    echo "!!! $tag: failed (exit $rc$( ((rc == 124)) && echo ", exceeded ${RUN_TIMEOUT}s")); output:" >&2
    tail -n 15 "$out" >&2
    FAILED=1
    return 1
  fi
  local put get p50 p99 failed
  put=$(kv put_records_per_s $line) get=$(kv get_records_per_s $line) p50=$(kv put_p50_ms $line) p99=$(kv put_p99_ms $line)
  failed=$(sed -nE 's/^failed[[:space:]]+([0-9]+) records.*/\1/p' "$out" | head -n1)
  if [[ -n $failed && $failed != 0 ]]; then echo "!!! $tag: $failed records failed" >&2; FAILED=1; fi
  printf '  %-6s %-8s put %s rec/s, get %s rec/s, p50/p99 %s/%s ms (%ss)\n' "$side" \
    "$( ((round == 0)) && echo "warm-up" || echo "round $round")" "$put" "$get" "$p50" "$p99" "$ELAPSED"
  if ((round > 0)); then
    record "ingest fsync=$fsync" "PutRecords rec/s" "$side" "$round" "$put"
    record "ingest fsync=$fsync" "GetRecords rec/s" "$side" "$round" "$get"
    record "ingest fsync=$fsync" "put p50 ms" "$side" "$round" "$p50"
  fi
}

phase_ingest() {
  local fsync r side
  for fsync in "${FSYNC_LIST[@]}"; do
    echo
    echo "=== ingest, --fsync $fsync: $INGEST_RECORDS records, $SHARDS shards, $CONNECTIONS connections, batch $BATCH, ~$RECORD_BYTES B (limit ${RUN_TIMEOUT}s a run)"
    for ((r = 1 - WARMUP; r <= ROUNDS; r++)); do
      for side in before after; do ingest_run "$side" "$fsync" "$((r < 1 ? 0 : r))" || true; done
    done
  done
}

# ---------------------------------------------------------------------------------------------
# seed: the seed application through eddy sql run

section() { # section NAME (sql or schema) of the first case of seed.test
  awk -v want="$1" '/^=== / { n++; next } n != 1 { next } /^--- / { split($0, w, " "); cur = w[2]; next } cur == want { print }' "$SEED_TEST"
}

ensure_events() {
  if [[ -s $EVENTS_FILE ]]; then
    echo "events:  $EVENTS_FILE (reused, $(du -m "$EVENTS_FILE" | cut -f1) MB)"
    return 0
  fi
  mkdir -p "$(dirname "$EVENTS_FILE")"
  echo "=== generating $EVENTS sales events at $RATE events/s of arrival time into $EVENTS_FILE (limit ${GEN_TIMEOUT}s)"
  local rc=0
  bounded "$GEN_TIMEOUT" python3 "$ROOT/bench/gen_sales.py" sales "$EVENTS" --rate "$RATE" >"$EVENTS_FILE.tmp" || rc=$?
  ((rc == 0)) || { rm -f "$EVENTS_FILE.tmp"; FAILED=1; die "generating events failed (exit $rc)"; }
  mv "$EVENTS_FILE.tmp" "$EVENTS_FILE"
  echo "events:  $(du -m "$EVENTS_FILE" | cut -f1) MB in ${ELAPSED}s; first: $(head -n1 "$EVENTS_FILE")"
}

SEED_PREFIX= SEED_OUTPUT= SEED_REF=
SEED_SQL= SEED_SCHEMA=
seed_setup() {
  # beside the events file, so that a run by hand (or another timer) can use the same inputs
  SEED_SQL=$(dirname "$EVENTS_FILE")/seed.sql SEED_SCHEMA=$(dirname "$EVENTS_FILE")/seed-schema.json
  section sql >"$SEED_SQL"
  section schema >"$SEED_SCHEMA"
  [[ -s $SEED_SQL && -s $SEED_SCHEMA ]] || die "could not read the seed case from $SEED_TEST"
  SEED_PREFIX=$(awk '/^=== /{n++} n==1 && /^--- schema/ { for (i = 3; i <= NF; i++) if ($i ~ /^prefix=/) { sub(/^prefix=/, "", $i); print $i } }' "$SEED_TEST" | head -n1)
  SEED_PREFIX=${SEED_PREFIX:-SOURCE_SQL_STREAM}
  SEED_OUTPUT=$(grep -oE 'INSERT INTO "[^"]+"' "$SEED_SQL" | head -n1 | sed -E 's/INSERT INTO "([^"]+)"/\1/')
  [[ -n $SEED_OUTPUT ]] || die "could not find the seed's output stream in its SQL"
}

seed_run() { # seed_run SIDE ROUND(0 = warm-up)
  local side=$1 round=$2 bin tag rc=0 cpu
  bin=$(bin_of "$side")
  tag=seed-$side-r$round
  # user + system seconds of the finished process, by GNU time when there is one (not in the wall figure's way)
  local TIME_CMD=()
  [[ -x /usr/bin/time ]] && TIME_CMD=(/usr/bin/time -f '%U %S' -o "$WORK/$tag.time")
  bounded "$RUN_TIMEOUT" "${TIME_CMD[@]}" "$bin" sql run --sql "$SEED_SQL" \
    --input-schema "$SEED_SCHEMA" --input "$EVENTS_FILE" --arrival-time-field at \
    --input-prefix "$SEED_PREFIX" --output "$SEED_OUTPUT" --errors "$WORK/$tag.errors.ndjson" \
    --parallelism "$SQL_PARALLELISM" >"$WORK/$tag.ndjson" 2>"$WORK/$tag.log" || rc=$?
  if ((rc != 0)); then
    echo "!!! $tag: failed (exit $rc$( ((rc == 124)) && echo ", exceeded ${RUN_TIMEOUT}s")); log:" >&2
    tail -c 1500 "$WORK/$tag.log" >&2
    FAILED=1
    return 1
  fi
  cpu=$(awk '{ printf "%.3f", $1 + $2 }' "$WORK/$tag.time" 2>/dev/null || echo "")
  local check=same
  if [[ -z $SEED_REF ]]; then
    SEED_REF=$WORK/$tag.ndjson
    check="reference, $(wc -l <"$SEED_REF") groups"
  elif ! cmp -s "$SEED_REF" "$WORK/$tag.ndjson"; then
    check="DIFFERENT ROWS from $(basename "$SEED_REF")"
    FAILED=1
  fi
  if [[ -s $WORK/$tag.errors.ndjson ]]; then check+=", $(wc -l <"$WORK/$tag.errors.ndjson") ERROR ROWS"; FAILED=1; fi
  printf '  %-6s %-8s %ss wall, %ss cpu (%s)\n' "$side" "$( ((round == 0)) && echo "warm-up" || echo "round $round")" "$ELAPSED" "$cpu" "$check"
  [[ $SEED_REF == "$WORK/$tag.ndjson" ]] || rm -f "$WORK/$tag.ndjson"
  if ((round > 0)); then
    record "seed sql run p=$SQL_PARALLELISM" "wall s" "$side" "$round" "$ELAPSED"
    if [[ -n $cpu ]]; then record "seed sql run p=$SQL_PARALLELISM" "cpu s" "$side" "$round" "$cpu"; fi
  fi
  return 0
}

phase_seed() {
  local r side
  echo
  echo "=== seed: eddy sql run --parallelism $SQL_PARALLELISM, $EVENTS events (limit ${RUN_TIMEOUT}s a run)"
  echo "  each run: BIN sql run --sql $SEED_SQL --input-schema $SEED_SCHEMA --input $EVENTS_FILE --arrival-time-field at --input-prefix $SEED_PREFIX --output $SEED_OUTPUT --parallelism $SQL_PARALLELISM >OUT"
  for ((r = 1 - WARMUP; r <= ROUNDS; r++)); do
    for side in before after; do seed_run "$side" "$((r < 1 ? 0 : r))" || true; done
  done
}

# ---------------------------------------------------------------------------------------------
# stream: the same aggregation by an application on each binary's own server

STREAM_GROUPS= STREAM_REVENUE=
stream_setup() {
  head -n "$STREAM_EVENTS" "$EVENTS_FILE" >"$WORK/stream-events.ndjson"
  # a far-future sentinel closes the last real window (bench/sql_stream_run.py)
  echo '{"at": "2099-01-01 00:00:00.000", "store_id": "sentinel", "category": "none", "evnt_time": "2099-01-01T00:00:00", "sales": 0}' \
    >>"$WORK/stream-events.ndjson"
  STREAM_GROUPS=$(python3 -c '
import json, sys
g = set()
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["store_id"] != "sentinel":
        g.add((e["at"][:16], e["store_id"]))
print(len(g))' "$WORK/stream-events.ndjson")
}

stream_run() { # stream_run SIDE ROUND(0 = warm-up)
  local side=$1 round=$2 bin tag rc=0 line put_s s rev
  bin=$(bin_of "$side")
  tag=stream-$side-r$round
  start_server "$bin" "$WORK/data-$tag" "$WORK/$tag.server.log" --fsync "$STREAM_FSYNC" --parallelism "$STREAM_PARALLELISM" ||
    { FAILED=1; stop_server; return 1; }
  bounded 30 "$bin" streams create bench-sales --shards 1 --endpoint "$ENDPOINT" >"$WORK/$tag.put.log" 2>&1 || rc=$?
  if ((rc == 0)); then
    bounded "$RUN_TIMEOUT" bash -c '"$0" put bench-sales --endpoint "$1" <"$2"' "$bin" "$ENDPOINT" "$WORK/stream-events.ndjson" \
      >>"$WORK/$tag.put.log" 2>&1 || rc=$?
    put_s=$ELAPSED
  fi
  if ((rc == 0)); then
    bounded "$RUN_TIMEOUT" python3 "$ROOT/bench/sql_stream_run.py" --endpoint "$ENDPOINT" --stream bench-sales \
      --groups "$STREAM_GROUPS" --timeout "$RUN_TIMEOUT" >"$WORK/$tag.log" 2>"$WORK/$tag.err" || rc=$?
  fi
  stop_server
  rm -rf "$WORK/data-$tag"
  line=$(grep -E '^STREAM seconds=' "$WORK/$tag.log" 2>/dev/null | tail -n1 || true)
  if ((rc != 0)) || [[ -z $line ]]; then
    echo "!!! $tag: failed (exit $rc); logs:" >&2
    tail -c 1500 "$WORK/$tag.put.log" "$WORK/$tag.err" "$WORK/$tag.server.log" >&2 2>/dev/null || true
    FAILED=1
    return 1
  fi
  s=$(kv seconds $line) rev=$(kv revenue $line)
  local check=same
  if [[ -z $STREAM_REVENUE ]]; then
    STREAM_REVENUE=$rev
    check="reference, revenue $rev"
  elif [[ $rev != "$STREAM_REVENUE" ]]; then
    check="REVENUE $rev != $STREAM_REVENUE"
    FAILED=1
  fi
  printf '  %-6s %-8s %ss StartApplication -> last of %s groups (put %ss, not counted; %s)\n' "$side" \
    "$( ((round == 0)) && echo "warm-up" || echo "round $round")" "$s" "$STREAM_GROUPS" "$put_s" "$check"
  if ((round > 0)); then record "seed on eddy serve p=$STREAM_PARALLELISM" "wall s" "$side" "$round" "$s"; fi
  return 0
}

phase_stream() {
  local r side
  stream_setup
  echo
  echo "=== stream: seed aggregation on eddy serve (--parallelism $STREAM_PARALLELISM, --fsync $STREAM_FSYNC), $STREAM_EVENTS events in 1 shard, $STREAM_GROUPS groups (limit ${RUN_TIMEOUT}s a step)"
  for ((r = 1 - WARMUP; r <= ROUNDS; r++)); do
    for side in before after; do stream_run "$side" "$((r < 1 ? 0 : r))" || true; done
  done
}

# ---------------------------------------------------------------------------------------------
# runs

T0=$SECONDS
for b in "${BENCH_LIST[@]}"; do
  case $b in
    seed|stream)
      [[ -n $SEED_OUTPUT ]] || { ensure_events; seed_setup; } ;;
  esac
  phase_"$b"
done

# ---------------------------------------------------------------------------------------------
# summary

echo
echo "=== summary: $ROUNDS interleaved rounds (before, after, ...); $((SECONDS - T0)) s in all"
python3 - "$RESULTS" <<'EOF'
import statistics, sys
from collections import OrderedDict
rows = OrderedDict()
for line in open(sys.argv[1]):
    bench, fig, side, rnd, val = line.rstrip("\n").split("\t")
    try:
        v = float(val)
    except ValueError:
        continue
    rows.setdefault((bench, fig), {"before": {}, "after": {}})[side][int(rnd)] = v
def fmt(x):
    return "-" if x is None else ("%.0f" % x if abs(x) >= 1000 else "%.3f" % x if abs(x) < 10 else "%.2f" % x)
hdr = "%-30s %-17s %4s %12s %12s %12s %12s %12s %12s %9s %9s %7s"
print(hdr % ("benchmark", "figure", "n", "before med", "before min", "before max",
             "after med", "after min", "after max", "a/b med", "a/b pair", "better"))
for (bench, fig), d in rows.items():
    b, a = d["before"], d["after"]
    bm = statistics.median(b.values()) if b else None
    am = statistics.median(a.values()) if a else None
    pairs = [a[r] / b[r] for r in a if r in b and b[r] > 0]
    ratio = "%.3f" % (am / bm) if bm and am is not None else "-"
    pair = "%.3f" % statistics.median(pairs) if pairs else "-"
    better = "higher" if fig.endswith("rec/s") else "lower"
    print(hdr % (bench, fig, "%d/%d" % (len(b), len(a)) if len(b) != len(a) else len(b),
                 fmt(bm), fmt(min(b.values()) if b else None), fmt(max(b.values()) if b else None),
                 fmt(am), fmt(min(a.values()) if a else None), fmt(max(a.values()) if a else None),
                 ratio, pair, better))
print("a/b med: after's median over before's; a/b pair: median of after/before taken round by round.")
print("Within noise when a/b is near 1 and each side's min-max range covers the other's median.")
EOF
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

if ((FAILED)); then
  echo "some runs failed or differed; files in $WORK" >&2
  exit 1
fi
