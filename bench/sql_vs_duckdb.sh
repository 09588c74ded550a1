#!/usr/bin/env bash
# SQL benchmark: the seed application (revenue per store per minute, a tumbling window) run by
# `eddy sql run` over an NDJSON file, against the same aggregation as a DuckDB query on ONE thread
# reading the same file; plus a sliding-window application (MAX over RANGE INTERVAL '1' MINUTE
# PRECEDING, per ticker) through eddy, compared with eddy's own tumbling rate.
#
# Two input shapes (SHAPE):
#   seed     [default] the seed producer's events as it writes them,
#            {"category":..,"store_id":..,"evnt_time":"2021-01-31T14:05:47.190114","sales":..}, all
#            four fields mapped, evnt_time the ROWTIME (--arrival-time-field evnt_time), SUM and
#            COUNT per store per 60 s. A plain simdjson program (bench/simdjson_seed_limit.cc,
#            compiled here with g++) runs the same pass over the same file: its figure is the limit.
#   arrival  the benchmark's own shape: the same events plus an arrival time "at"
#            (yyyy-MM-dd HH:mm:ss.SSS) as ROWTIME, SUM per store (tests/sql/seed.test's application).
#
#   bench/sql_vs_duckdb.sh                        # EDDY_BIN defaults to build/release/eddy
#   EVENTS=200000 bench/sql_vs_duckdb.sh          # a quick run
#   EDDY_BIN=build/dev/eddy EVENTS=1000000 KEEP=1 bench/sql_vs_duckdb.sh
#
# Builds nothing. Needs: a built eddy, python3, node + npm. DuckDB is not a dependency of the
# repository: @duckdb/node-api (version DUCKDB_NODE_API_VERSION, exact) is installed on first use
# with `npm install --no-save --no-package-lock --prefix DUCKDB_DIR` into a cache directory outside
# the work tree (about 70 MB), and reused from there.
# Every step is bounded: input generation GEN_TIMEOUT s, each measured run RUN_TIMEOUT s, the result
# check CHECK_TIMEOUT s. Inputs and outputs go to a temp dir that is removed at the end (KEEP=1 keeps
# it, and it is kept when something failed).
#
# Knobs (environment, defaults in brackets):
#   SHAPE [seed]: seed or arrival (above)
#   EDDY_BIN [build/release/eddy]   EVENTS [10000000]: sales events (~138 B each as NDJSON)
#   SLIDING_EVENTS [EVENTS]: trades for the sliding-window run   RATE [1000]: events per second of
#   simulated arrival time (EVENTS=10M at 1000/s: 10,000 s, 167 one-minute windows x 5 stores)
#   RUNS [1]: runs of each measurement, the fastest counts   DUCKDB_THREADS [1]
#   PARALLELISMS ["1 2"]: the seed through `eddy sql run --parallelism N` for each N; the first is
#   the one set against DuckDB (one thread each), the others are reported as speed-ups over it
#   GEN_TIMEOUT [600]  RUN_TIMEOUT [600]  CHECK_TIMEOUT [300]
#   BENCH_DIR [a new temp dir]: where inputs, outputs and logs go (kept)
#   KEEP [0]: 1 to keep the temp dir   SKIP_DUCKDB [0]   SKIP_SLIDING [0]
#   SKIP_STREAM [0]: 1 to skip the server run (events put into a stream, the application reading
#   them from TRIM_HORIZON; about 2 GB more disk for 10M events)
#   STREAM_PARALLELISMS ["1 2"]: the server's --parallelism for its runs, each set against
#   `eddy sql run` of the same application at the same parallelism (the server's goal: within 1.2x)
#   DUCKDB_NODE_API_VERSION [1.5.6-r.1]: npm version of @duckdb/node-api (DuckDB 1.5.6)
#   DUCKDB_DIR [${XDG_CACHE_HOME:-~/.cache}/eddy-bench/duckdb-node-api-VERSION]   INSTALL_TIMEOUT [300]
#
# Measured: wall time of the whole `eddy sql run` process (parse, evaluate, print to a file), and
# for DuckDB the query from submission until all result rows are in JavaScript (node start-up and
# opening the database are not counted). Both read the input file from the page cache.
# Disk: about 1.4 GB for 10M sales events plus the trades and the sliding output (one row per trade).
# A sliding run stopped by RUN_TIMEOUT still reports its rate so far, marked partial (and exit 1).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EDDY_BIN=${EDDY_BIN:-$ROOT/build/release/eddy}
EVENTS=${EVENTS:-10000000}
SHAPE=${SHAPE:-seed}
SLIDING_EVENTS=${SLIDING_EVENTS:-$EVENTS}
RATE=${RATE:-1000}
RUNS=${RUNS:-1}
PARALLELISMS=${PARALLELISMS:-1 2}
STREAM_PARALLELISMS=${STREAM_PARALLELISMS:-1 2}
DUCKDB_THREADS=${DUCKDB_THREADS:-1}
GEN_TIMEOUT=${GEN_TIMEOUT:-600}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
CHECK_TIMEOUT=${CHECK_TIMEOUT:-300}
KEEP=${KEEP:-0}
SKIP_DUCKDB=${SKIP_DUCKDB:-0}
SKIP_SLIDING=${SKIP_SLIDING:-0}
SKIP_STREAM=${SKIP_STREAM:-0}
DUCKDB_NODE_API_VERSION=${DUCKDB_NODE_API_VERSION:-1.5.6-r.1}
DUCKDB_DIR=${DUCKDB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eddy-bench/duckdb-node-api-$DUCKDB_NODE_API_VERSION}
INSTALL_TIMEOUT=${INSTALL_TIMEOUT:-300}
SEED_TEST=$ROOT/tests/sql/seed.test

die() { echo "sql_vs_duckdb: $*" >&2; exit 2; }

[[ -x $EDDY_BIN ]] || die "eddy binary not found or not executable: $EDDY_BIN (set EDDY_BIN; this script builds nothing)"
[[ $EVENTS =~ ^[0-9]+$ && $EVENTS -gt 0 ]] || die "EVENTS must be a positive integer"
[[ $SLIDING_EVENTS =~ ^[0-9]+$ && $SLIDING_EVENTS -gt 0 ]] || die "SLIDING_EVENTS must be a positive integer"
[[ $SHAPE == seed || $SHAPE == arrival ]] || die "SHAPE must be seed or arrival"
[[ $RUNS =~ ^[0-9]+$ && $RUNS -gt 0 ]] || die "RUNS must be a positive integer"
read -r -a PARALLELISM_LIST <<<"$PARALLELISMS"
((${#PARALLELISM_LIST[@]} > 0)) || die "PARALLELISMS must list at least one thread count"
for p in "${PARALLELISM_LIST[@]}"; do [[ $p =~ ^[0-9]+$ && $p -gt 0 ]] || die "PARALLELISMS: '$p' is not a positive integer"; done
read -r -a STREAM_PARALLELISM_LIST <<<"$STREAM_PARALLELISMS"
((${#STREAM_PARALLELISM_LIST[@]} > 0)) || die "STREAM_PARALLELISMS must list at least one thread count"
for p in "${STREAM_PARALLELISM_LIST[@]}"; do [[ $p =~ ^[0-9]+$ && $p -gt 0 ]] || die "STREAM_PARALLELISMS: '$p' is not a positive integer"; done
command -v timeout >/dev/null || die "coreutils 'timeout' is needed"
command -v python3 >/dev/null || die "python3 is needed (input generator, result check)"
[[ -f $SEED_TEST ]] || die "missing $SEED_TEST (the seed application is taken from it)"
if [[ $SKIP_DUCKDB != 1 ]]; then
  command -v node >/dev/null || die "node is needed for DuckDB (or set SKIP_DUCKDB=1)"
  command -v npm >/dev/null || die "npm is needed to install @duckdb/node-api (or set SKIP_DUCKDB=1)"
fi

if [[ -n ${BENCH_DIR:-} ]]; then
  WORK=$BENCH_DIR
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/eddy-sqlbench.XXXXXX")
fi

# ---------------------------------------------------------------------------------------------
# process bookkeeping: every process we start in the background is stopped on exit, by PID

PIDS=()
FAILED=0
cleanup() {
  local i pid
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]}
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
  if [[ -z ${BENCH_DIR:-} ]]; then
    if [[ $KEEP == 1 || $FAILED != 0 ]]; then echo "files kept in $WORK"; else rm -rf "$WORK"; fi
  fi
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; FAILED=1; exit 130' INT TERM

# bounded LIMIT CMD...: run CMD under `timeout` in the background and wait for it, so that INT/TERM
# reach our trap at once (bash defers traps while a foreground command runs). stdin is /dev/null;
# the caller redirects stdout/stderr of this function. Sets ELAPSED (seconds, wall) and returns
# CMD's exit status (124: timed out).
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
  unset 'PIDS[${#PIDS[@]}-1]'
  ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  return "$rc"
}

# section NAME: print section NAME (sql or schema) of the first case of seed.test
section() {
  awk -v want="$1" '
    /^=== / { n++; next }
    n != 1 { next }
    /^--- / { split($0, w, " "); cur = w[2]; next }
    cur == want { print }
  ' "$SEED_TEST"
}

eps() { awk -v n="$1" -v s="$2" 'BEGIN { if (s + 0 > 0) printf "%.0f", n / s; else printf "-" }'; }
ratio() { # ratio A B -> A/B with 2 decimals, or "-"
  awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2f", a / b; else printf "-" }'
}
min_time() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }
eddy_summary() { tr '\r' '\n' <"$1" | grep -E 'sql run: [0-9]+ records' | tail -n1 | sed 's/[[:space:]]*$//' || true; }

# ---------------------------------------------------------------------------------------------
# DuckDB for node, pinned, outside the work tree

duckdb_installed_version() {
  node -p 'require(process.argv[1]).version' "$DUCKDB_DIR/node_modules/@duckdb/node-api/package.json" 2>/dev/null || true
}
if [[ $SKIP_DUCKDB != 1 && $(duckdb_installed_version) != "$DUCKDB_NODE_API_VERSION" ]]; then
  echo "=== installing @duckdb/node-api@$DUCKDB_NODE_API_VERSION into $DUCKDB_DIR (limit ${INSTALL_TIMEOUT}s)"
  mkdir -p "$DUCKDB_DIR"
  rc=0
  bounded "$INSTALL_TIMEOUT" npm install --prefix "$DUCKDB_DIR" --no-save --no-package-lock --no-audit --no-fund \
    --loglevel=error "@duckdb/node-api@$DUCKDB_NODE_API_VERSION" >"$WORK/npm-install.log" 2>&1 || rc=$?
  if ((rc != 0)) || [[ $(duckdb_installed_version) != "$DUCKDB_NODE_API_VERSION" ]]; then
    tail -n 20 "$WORK/npm-install.log" >&2
    FAILED=1
    die "installing @duckdb/node-api@$DUCKDB_NODE_API_VERSION failed (exit $rc; or set SKIP_DUCKDB=1)"
  fi
fi
export EDDY_BENCH_DUCKDB_DIR=$DUCKDB_DIR

# ---------------------------------------------------------------------------------------------
# machine

echo "=== machine"
echo "nproc:      $(nproc)"
echo "cpu:        $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)"
echo "memory:     $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null)"
echo "kernel:     $(uname -sr)"
EDDY_VERSION=$(timeout 5 "$EDDY_BIN" --version 2>/dev/null </dev/null | head -n1) || true
echo "eddy:       $EDDY_BIN (${EDDY_VERSION:-version unknown}, built $(date -r "$EDDY_BIN" '+%Y-%m-%d %H:%M:%S'))"
if [[ $SKIP_DUCKDB != 1 ]]; then
  echo "duckdb:     @duckdb/node-api $(duckdb_installed_version) ($DUCKDB_DIR) on node $(node --version), threads=$DUCKDB_THREADS"
fi
echo "python:     $(python3 --version 2>&1)"
echo "work dir:   $WORK"

# ---------------------------------------------------------------------------------------------
# inputs

section sql >"$WORK/seed.sql"
section schema >"$WORK/seed-schema.json"
[[ -s $WORK/seed.sql && -s $WORK/seed-schema.json ]] || die "could not read the seed case from $SEED_TEST"
# the prefix is given on the schema line of the case (--- schema prefix=NAME)
SEED_PREFIX=$(awk '/^=== /{n++} n==1 && /^--- schema/ { for (i = 3; i <= NF; i++) if ($i ~ /^prefix=/) { sub(/^prefix=/, "", $i); print $i } }' "$SEED_TEST" | head -n1)
SEED_PREFIX=${SEED_PREFIX:-SOURCE_SQL_STREAM}
ARRIVAL_FIELD=at GEN_KIND=sales
SENTINEL='{"at": "2099-01-01 00:00:00.000", "store_id": "sentinel", "category": "none", "evnt_time": "2099-01-01T00:00:00", "sales": 0}'
if [[ $SHAPE == seed ]]; then
  # The seed's schema (all four fields) with evnt_time as ROWTIME, SUM and COUNT per store.
  cat >"$WORK/seed.sql" <<'EOF'
CREATE OR REPLACE STREAM "DEST_SQL_STREAM_BY_STORE_ID" ("store_id" VARCHAR(16), "revenue" REAL, "orders" INTEGER, "timestamp" TIMESTAMP);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DEST_SQL_STREAM_BY_STORE_ID"
SELECT STREAM "store_id", SUM("sales") AS "revenue", COUNT(*) AS "orders", ROWTIME AS "timestamp"
FROM "STORE_REVENUE_PER_MIN_001"
GROUP BY STEP("STORE_REVENUE_PER_MIN_001".ROWTIME BY INTERVAL '60' SECOND), "store_id";
EOF
  SEED_PREFIX=STORE_REVENUE_PER_MIN ARRIVAL_FIELD=evnt_time GEN_KIND=seed
  SENTINEL='{"category":"none","store_id":"sentinel","evnt_time":"2099-01-01T00:00:00.000000","sales":0}'
fi
SEED_OUTPUT=$(grep -oE 'INSERT INTO "[^"]+"' "$WORK/seed.sql" | head -n1 | sed -E 's/INSERT INTO "([^"]+)"/\1/')
[[ -n $SEED_OUTPUT ]] || die "could not find the seed's output stream in its SQL"

cat >"$WORK/sliding.sql" <<'EOF'
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("TICKER" VARCHAR(4), "MAX_PRICE" REAL);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM "TICKER", MAX("PRICE") OVER (PARTITION BY "TICKER" RANGE INTERVAL '1' MINUTE PRECEDING) AS "MAX_PRICE"
FROM "SOURCE_SQL_STREAM_001";
EOF
cat >"$WORK/sliding-schema.json" <<'EOF'
{"RecordFormat": {"RecordFormatType": "JSON", "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
 "RecordEncoding": "UTF-8",
 "RecordColumns": [{"Name": "TICKER", "Mapping": "$.TICKER", "SqlType": "VARCHAR(4)"},
                   {"Name": "PRICE", "Mapping": "$.PRICE", "SqlType": "REAL"}]}
EOF

echo
echo "=== generating $EVENTS sales events at $RATE events/s of arrival time (limit ${GEN_TIMEOUT}s)"
rc=0
bounded "$GEN_TIMEOUT" python3 "$ROOT/bench/gen_sales.py" "$GEN_KIND" "$EVENTS" --rate "$RATE" >"$WORK/events.ndjson" || rc=$?
((rc == 0)) || { FAILED=1; die "generating sales events failed (exit $rc; 124 = exceeded ${GEN_TIMEOUT}s)"; }
echo "events.ndjson ($SHAPE shape): $(du -m "$WORK/events.ndjson" | cut -f1) MB in ${ELAPSED}s; first: $(head -n1 "$WORK/events.ndjson")"
if [[ $SKIP_SLIDING != 1 ]]; then
  echo "=== generating $SLIDING_EVENTS trades (5 tickers) at $RATE events/s (limit ${GEN_TIMEOUT}s)"
  rc=0
  bounded "$GEN_TIMEOUT" python3 "$ROOT/bench/gen_sales.py" trades "$SLIDING_EVENTS" --rate "$RATE" >"$WORK/trades.ndjson" || rc=$?
  ((rc == 0)) || { FAILED=1; die "generating trades failed (exit $rc; 124 = exceeded ${GEN_TIMEOUT}s)"; }
  echo "trades.ndjson: $(du -m "$WORK/trades.ndjson" | cut -f1) MB in ${ELAPSED}s"
fi

# ---------------------------------------------------------------------------------------------
# runs

EDDY_SEED_S= DUCKDB_S= EDDY_SLIDING_S= EDDY_STREAM_S= CHECK= DUCKDB_VERSION= LIMIT_S= LIMIT_PARSE_S=

# The limit: a plain simdjson program over the same file (reads every field, sums per store per
# minute of evnt_time). Needs g++ and libsimdjson-dev, which the build needs too.
if [[ $SHAPE == seed ]]; then
  echo
  echo "=== simdjson DOM limit: parse_many, every field, SUM per store per minute ($EVENTS events)"
  if g++ -O2 -march=x86-64-v3 -std=c++20 "$ROOT/bench/simdjson_seed_limit.cc" -lsimdjson -o "$WORK/simdjson_limit" 2>"$WORK/limit-build.log"; then
    for ((r = 1; r <= RUNS; r++)); do
      rc=0
      bounded "$RUN_TIMEOUT" "$WORK/simdjson_limit" "$WORK/events.ndjson" >"$WORK/limit.log" 2>&1 || rc=$?
      line=$(grep -E '^SIMDJSON ' "$WORK/limit.log" | tail -n1 || true)
      [[ $rc == 0 && -n $line ]] || { echo "!!! the simdjson limit run failed (exit $rc)" >&2; FAILED=1; break; }
      echo "$line"
      LIMIT_S=$(min_time "$LIMIT_S" "$(sed -nE 's/.* sum_seconds=([0-9.]+).*/\1/p' <<<"$line")")
      LIMIT_PARSE_S=$(min_time "$LIMIT_PARSE_S" "$(sed -nE 's/.* parse_seconds=([0-9.]+).*/\1/p' <<<"$line")")
    done
  else
    echo "!!! could not compile bench/simdjson_seed_limit.cc:" >&2
    head -n 5 "$WORK/limit-build.log" >&2
    FAILED=1
  fi
fi
SLIDING_DONE=$SLIDING_EVENTS SLIDING_PARTIAL=0

declare -A SEED_S=()  # parallelism -> best seconds
for p in "${PARALLELISM_LIST[@]}"; do
  echo
  for ((r = 1; r <= RUNS; r++)); do
    echo "=== eddy: seed application ($SHAPE shape, tumbling 60 s per store), --parallelism $p, $EVENTS events, run $r/$RUNS (limit ${RUN_TIMEOUT}s)"
    rc=0
    out=$WORK/eddy-seed.ndjson
    [[ $p == "${PARALLELISM_LIST[0]}" ]] || out=$WORK/eddy-seed-p$p.ndjson
    bounded "$RUN_TIMEOUT" "$EDDY_BIN" sql run --sql "$WORK/seed.sql" --input-schema "$WORK/seed-schema.json" \
      --input "$WORK/events.ndjson" --arrival-time-field "$ARRIVAL_FIELD" --input-prefix "$SEED_PREFIX" \
      --output "$SEED_OUTPUT" --errors "$WORK/eddy-seed-errors.ndjson" --parallelism "$p" \
      >"$out" 2>"$WORK/eddy-seed.log" || rc=$?
    if ((rc != 0)); then
      echo "!!! eddy seed run failed (exit $rc$( ((rc == 124)) && echo ", exceeded ${RUN_TIMEOUT}s")); log:" >&2
      tail -c 2000 "$WORK/eddy-seed.log" >&2
      FAILED=1
      break
    fi
    sum=$(eddy_summary "$WORK/eddy-seed.log")
    echo "${ELAPSED}s${sum:+  $sum}  -> $(wc -l <"$out") groups"
    SEED_S[$p]=$(min_time "${SEED_S[$p]:-}" "$ELAPSED")
  done
  # Results do not depend on the thread count: the output is the same, byte for byte.
  if [[ $out != "$WORK/eddy-seed.ndjson" && -n ${SEED_S[$p]:-} ]] && ! cmp -s "$out" "$WORK/eddy-seed.ndjson"; then
    echo "!!! --parallelism $p gave other rows than --parallelism ${PARALLELISM_LIST[0]}" >&2
    FAILED=1
  fi
done
EDDY_SEED_S=${SEED_S[${PARALLELISM_LIST[0]}]:-}
if [[ -n $EDDY_SEED_S && -s $WORK/eddy-seed-errors.ndjson ]]; then
  echo "!!! eddy rejected $(wc -l <"$WORK/eddy-seed-errors.ndjson") records (error_stream); first:" >&2
  head -n 3 "$WORK/eddy-seed-errors.ndjson" >&2
  FAILED=1
fi

if [[ $SKIP_DUCKDB != 1 ]]; then
  echo
  for ((r = 1; r <= RUNS; r++)); do
    echo "=== DuckDB: same aggregation, read_ndjson, threads=$DUCKDB_THREADS, $EVENTS events, run $r/$RUNS (limit ${RUN_TIMEOUT}s)"
    rc=0
    bounded "$RUN_TIMEOUT" node "$ROOT/bench/duckdb_seed.mjs" "$WORK/events.ndjson" "$WORK/duckdb-seed.ndjson" \
      "$DUCKDB_THREADS" "$SHAPE" >"$WORK/duckdb-seed.log" 2>&1 || rc=$?
    if ((rc != 0)); then
      echo "!!! DuckDB run failed (exit $rc); log:" >&2
      tail -c 2000 "$WORK/duckdb-seed.log" >&2
      FAILED=1
      break
    fi
    line=$(grep -E '^DUCKDB ' "$WORK/duckdb-seed.log" | tail -n1)
    s=$(sed -nE 's/.* seconds=([0-9.]+).*/\1/p' <<<"$line")
    DUCKDB_VERSION=$(sed -nE 's/.* version=([^ ]+).*/\1/p' <<<"$line")
    echo "${s}s (query; process ${ELAPSED}s)  -> $(sed -nE 's/.* rows=([0-9]+).*/\1/p' <<<"$line") groups"
    DUCKDB_S=$(min_time "$DUCKDB_S" "$s")
  done
  if [[ -n $EDDY_SEED_S && -n $DUCKDB_S ]]; then
    echo
    echo "=== check: groups and revenue per (store, minute), relative tolerance 1e-4"
    rc=0
    bounded "$CHECK_TIMEOUT" python3 "$ROOT/bench/compare_groups.py" "$WORK/eddy-seed.ndjson" "$WORK/duckdb-seed.ndjson" \
      >"$WORK/check.txt" 2>&1 || rc=$?
    cat "$WORK/check.txt"
    if ((rc == 0)); then CHECK=OK; else CHECK=MISMATCH; FAILED=1; fi
  fi
fi

if [[ $SKIP_STREAM != 1 && -n $EDDY_SEED_S ]]; then
  # The same aggregation by a SQL application on a server, from a stream holding the events
  # (TRIM_HORIZON). Windows are on the events' own time (an event-time GROUP BY), so the groups are
  # the ones above; a sentinel event with a far-future time closes the last window. `eddy sql run`
  # runs that very application over the file too, at the same parallelism: the server's peer.
  echo
  echo "=== eddy serve: the seed aggregation from a stream (TRIM_HORIZON), $EVENTS events (limit ${RUN_TIMEOUT}s per step)"
  mkdir -p "$WORK/stream-app"
  python3 "$ROOT/bench/sql_stream_run.py" --shape "$SHAPE" --write-app "$WORK/stream-app"
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  ENDPOINT=http://127.0.0.1:$PORT
  start_server() {  # $1: --parallelism
    "$EDDY_BIN" serve --host 127.0.0.1 --port "$PORT" --data-dir "$WORK/server" --fsync interval=200 \
      --parallelism "$1" >>"$WORK/server.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 100); do "$EDDY_BIN" streams list --endpoint "$ENDPOINT" >/dev/null 2>&1 && break; sleep 0.1; done
  }
  cleanup_server() { local pid=${PIDS[-1]}; kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; unset 'PIDS[-1]'; }
  rc=0
  start_server 1
  "$EDDY_BIN" streams create bench-sales --shards 1 --endpoint "$ENDPOINT" >/dev/null || rc=$?
  sleep 1
  if ((rc == 0)); then
    bounded "$RUN_TIMEOUT" bash -c '"$0" put bench-sales --endpoint "$1" <"$2"' "$EDDY_BIN" "$ENDPOINT" "$WORK/events.ndjson" \
      >"$WORK/put.log" 2>&1 || rc=$?
    echo "put: $EVENTS events in ${ELAPSED}s ($(eps "$EVENTS" "$ELAPSED") events/s, eddy put over one connection)"
    echo "$SENTINEL" | "$EDDY_BIN" put bench-sales --endpoint "$ENDPOINT" >/dev/null 2>&1 || rc=$?
  fi
  cleanup_server
  seed_revenue=$(python3 -c 'import json, sys; print("%.2f" % sum(json.loads(l)["revenue"] for l in open(sys.argv[1])))' "$WORK/eddy-seed.ndjson")
  groups=$(wc -l <"$WORK/eddy-seed.ndjson")
  declare -A STREAM_S SAME_S
  for ((r = 1; r <= RUNS && rc == 0; r++)); do
    for p in "${STREAM_PARALLELISM_LIST[@]}"; do
      # The server's application over the file, then on the server; each run a new application.
      bounded "$RUN_TIMEOUT" "$EDDY_BIN" sql run --sql "$WORK/stream-app/app.sql" --input-schema "$WORK/stream-app/schema.json" \
        --input "$WORK/events.ndjson" --input-prefix SALES --output DEST --parallelism "$p" \
        >"$WORK/same-query.ndjson" 2>"$WORK/same-query.log" || rc=$?
      ((rc == 0)) || { echo "!!! sql run of the server's application failed (exit $rc)" >&2; tail -c 1500 "$WORK/same-query.log" >&2; break; }
      SAME_S[$p]=$(min_time "${SAME_S[$p]:-}" "$ELAPSED")
      echo "sql run of the server's application, --parallelism $p, run $r: ${ELAPSED}s ($(wc -l <"$WORK/same-query.ndjson") groups)"
      start_server "$p"
      bounded "$RUN_TIMEOUT" python3 "$ROOT/bench/sql_stream_run.py" --endpoint "$ENDPOINT" --stream bench-sales \
        --groups "$groups" --shape "$SHAPE" --timeout "$RUN_TIMEOUT" --app "run-$r-p$p" >"$WORK/stream-run.log" 2>"$WORK/stream-run.err" || rc=$?
      cleanup_server
      line=$(grep -E '^STREAM seconds=' "$WORK/stream-run.log" 2>/dev/null | tail -n1 || true)
      if ((rc != 0)) || [[ -z $line ]]; then
        echo "!!! the stream run failed (exit $rc); logs:" >&2
        tail -c 1500 "$WORK/stream-run.err" "$WORK/put.log" "$WORK/server.log" >&2 2>/dev/null || true
        rc=1
        break
      fi
      secs=$(sed -nE 's/.* seconds=([0-9.]+).*/\1/p' <<<"$line")
      STREAM_S[$p]=$(min_time "${STREAM_S[$p]:-}" "$secs")
      echo "server --parallelism $p, run $r: ${secs}s from StartApplication to the last group in the output stream ($line; sql run revenue=$seed_revenue)"
      STREAM_CHECK=$(python3 -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print("OK" if abs(a - b) <= 1e-4 * max(1, abs(b)) else "MISMATCH")' \
        "$(sed -nE 's/.* revenue=([0-9.]+).*/\1/p' <<<"$line")" "$seed_revenue")
      [[ $STREAM_CHECK == OK ]] || { echo "check: the stream run's total revenue differs from the sql run's" >&2; rc=1; }
    done
  done
  ((rc == 0)) || FAILED=1
  EDDY_STREAM_S=${STREAM_S[${STREAM_PARALLELISM_LIST[0]}]:-}
  rm -rf "$WORK/server"
fi

if [[ $SKIP_SLIDING != 1 ]]; then
  echo
  for ((r = 1; r <= RUNS; r++)); do
    # At the seed's first thread count, so that "x tumbling" compares like with like.
    echo "=== eddy: sliding window (MAX over RANGE INTERVAL '1' MINUTE PRECEDING, 5 tickers), --parallelism ${PARALLELISM_LIST[0]}, $SLIDING_EVENTS events, run $r/$RUNS (limit ${RUN_TIMEOUT}s)"
    rc=0
    bounded "$RUN_TIMEOUT" "$EDDY_BIN" sql run --sql "$WORK/sliding.sql" --input-schema "$WORK/sliding-schema.json" \
      --input "$WORK/trades.ndjson" --arrival-time-field EVENT_TIME --errors "$WORK/eddy-sliding-errors.ndjson" \
      --parallelism "${PARALLELISM_LIST[0]}" \
      >"$WORK/eddy-sliding.ndjson" 2>"$WORK/eddy-sliding.log" || rc=$?
    if ((rc == 124)); then
      # stopped at RUN_TIMEOUT: the rate so far still says something (a sliding window's cost per
      # row is steady once the first minute has filled it); report it, marked as partial
      n=$(eddy_summary "$WORK/eddy-sliding.log" | sed -nE 's/.*sql run: ([0-9]+) records.*/\1/p')
      echo "!!! eddy sliding run exceeded ${RUN_TIMEOUT}s after ${n:-?} of $SLIDING_EVENTS records; rate below is for those" >&2
      FAILED=1
      if [[ -n $n && $n -gt 0 ]]; then
        SLIDING_DONE=$n
        SLIDING_PARTIAL=1
        EDDY_SLIDING_S=$ELAPSED
      fi
      break
    elif ((rc != 0)); then
      echo "!!! eddy sliding run failed (exit $rc); log:" >&2
      tail -c 2000 "$WORK/eddy-sliding.log" >&2
      FAILED=1
      break
    fi
    n=$(wc -l <"$WORK/eddy-sliding.ndjson")
    sum=$(eddy_summary "$WORK/eddy-sliding.log")
    echo "${ELAPSED}s${sum:+  $sum}  -> $n rows"
    if ((n != SLIDING_EVENTS)); then
      echo "!!! sliding window: $n output rows for $SLIDING_EVENTS input rows (one per input row expected)" >&2
      FAILED=1
    fi
    EDDY_SLIDING_S=$(min_time "$EDDY_SLIDING_S" "$ELAPSED")
    # the sliding output is as large as its input: keep only the last run's
  done
  if [[ -s $WORK/eddy-sliding-errors.ndjson ]]; then
    echo "!!! eddy rejected $(wc -l <"$WORK/eddy-sliding-errors.ndjson") trades (error_stream)" >&2
    FAILED=1
  fi
fi

# ---------------------------------------------------------------------------------------------
# summary

EDDY_SEED_EPS=$( [[ -n $EDDY_SEED_S ]] && eps "$EVENTS" "$EDDY_SEED_S" || echo -)
DUCKDB_EPS=$( [[ -n $DUCKDB_S ]] && eps "$EVENTS" "$DUCKDB_S" || echo -)
EDDY_SLIDING_EPS=$( [[ -n $EDDY_SLIDING_S ]] && eps "$SLIDING_DONE" "$EDDY_SLIDING_S" || echo -)
RATIO=$(ratio "$EDDY_SEED_EPS" "$DUCKDB_EPS")
SLIDING_RATIO=$(ratio "$EDDY_SLIDING_EPS" "$EDDY_SEED_EPS")
x() { [[ $1 == - ]] && echo - || echo "${1}x${2:-}"; }

row() { printf '%-44s %12s %9s %12s %16s\n' "$@"; }
echo
echo "=== summary (best of $RUNS; input NDJSON from the page cache; DuckDB threads=$DUCKDB_THREADS)"
row run events seconds events/s ratio
if [[ -n $LIMIT_S ]]; then
  LIMIT_EPS=$(eps "$EVENTS" "$LIMIT_S")
  row "simdjson DOM + sum (the limit; parse only ${LIMIT_PARSE_S}s)" "$EVENTS" "$LIMIT_S" "$LIMIT_EPS" "$(x "$(ratio "$LIMIT_EPS" "$DUCKDB_EPS")")"
fi
row "eddy seed ($SHAPE shape), p=${PARALLELISM_LIST[0]}" "$EVENTS" "${EDDY_SEED_S:-FAILED}" "$EDDY_SEED_EPS" "$(x "$RATIO")"
SPEEDUPS=
for p in "${PARALLELISM_LIST[@]:1}"; do
  eps_p=$( [[ -n ${SEED_S[$p]:-} ]] && eps "$EVENTS" "${SEED_S[$p]}" || echo -)
  speedup=$(ratio "$eps_p" "$EDDY_SEED_EPS")
  SPEEDUPS+=" p$p=$speedup"
  row "eddy seed, --parallelism $p" "$EVENTS" "${SEED_S[$p]:-FAILED}" "$eps_p" "$(x "$speedup" " p=${PARALLELISM_LIST[0]}")"
done
if [[ $SKIP_STREAM != 1 ]]; then
  EDDY_STREAM_EPS=$( [[ -n $EDDY_STREAM_S ]] && eps "$EVENTS" "$EDDY_STREAM_S" || echo -)
  for p in "${STREAM_PARALLELISM_LIST[@]}"; do
    same_eps=$( [[ -n ${SAME_S[$p]:-} ]] && eps "$EVENTS" "${SAME_S[$p]}" || echo -)
    stream_eps=$( [[ -n ${STREAM_S[$p]:-} ]] && eps "$EVENTS" "${STREAM_S[$p]}" || echo -)
    row "eddy sql run, the server's application, p=$p" "$EVENTS" "${SAME_S[$p]:-FAILED}" "$same_eps" "$(x "$(ratio "$same_eps" "$DUCKDB_EPS")")"
    row "eddy serve, from a stream (TRIM_HORIZON), p=$p" "$EVENTS" "${STREAM_S[$p]:-FAILED}" "$stream_eps" \
      "$(x "$(ratio "$stream_eps" "$DUCKDB_EPS")"), $(x "$(ratio "$stream_eps" "$same_eps")" " sql run p=$p")"
  done
fi
if [[ $SKIP_DUCKDB != 1 ]]; then
  row "DuckDB ${DUCKDB_VERSION:-?} (same query, 1 thread)" "$EVENTS" "${DUCKDB_S:-FAILED}" "$DUCKDB_EPS" "1.00x"
fi
if [[ $SKIP_SLIDING != 1 ]]; then
  if ((SLIDING_PARTIAL)); then
    row "eddy sliding (MAX RANGE 1 MINUTE by ticker)" "$SLIDING_DONE" "${EDDY_SLIDING_S}*" "$EDDY_SLIDING_EPS" "$(x "$SLIDING_RATIO" " tumbling")"
    echo "* stopped at RUN_TIMEOUT after $SLIDING_DONE of $SLIDING_EVENTS events; the rate is for those"
  else
    row "eddy sliding (MAX RANGE 1 MINUTE by ticker)" "$SLIDING_EVENTS" "${EDDY_SLIDING_S:-FAILED}" "$EDDY_SLIDING_EPS" "$(x "$SLIDING_RATIO" " tumbling")"
  fi
fi
echo "ratio: eddy/DuckDB events/s for the seed; sliding: eddy sliding/eddy tumbling events/s (goal >= 0.5)"
[[ -n $CHECK ]] && echo "check: $CHECK"
echo "RESULT shape=$SHAPE events=$EVENTS limit_eps=${LIMIT_EPS:--} speedups=${SPEEDUPS# } eddy_seed_eps=$EDDY_SEED_EPS eddy_stream_eps=${EDDY_STREAM_EPS:--} duckdb_eps=$DUCKDB_EPS ratio=$RATIO sliding_events=$SLIDING_DONE eddy_sliding_eps=$EDDY_SLIDING_EPS sliding_partial=$SLIDING_PARTIAL sliding_vs_tumbling=$SLIDING_RATIO check=${CHECK:--}"

if ((FAILED)); then
  echo "some steps failed; files in $WORK" >&2
  exit 1
fi
