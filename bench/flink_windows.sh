#!/usr/bin/env bash
# Flink-dialect window benchmark (issue #5): max price per ticker over trades with TUMBLE and HOP
# windows on event time, by `eddy sql run`, next to DuckDB computing the same HOP result from the
# same file in the same run. The goal is sliding >= 0.5x tumbling at every window/slide ratio.
#
#   bench/flink_windows.sh                        # EDDY_BIN defaults to build/release/eddy
#   EVENTS=1000000 bench/flink_windows.sh         # a quick run
#
# Knobs: EVENTS [10000000] trades (~73 B each, 1000 per second of event time), SKIP_DUCKDB [0],
# DUCKDB_THREADS [1], KEEP [0], RUN_TIMEOUT [600] per measured run. DuckDB (@duckdb/node-api,
# pinned) is installed outside the repository on first use, as bench/sql_vs_duckdb.sh does.
# Measured: wall time of each whole `eddy sql run`; DuckDB's query time (node start-up excluded).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EDDY_BIN=${EDDY_BIN:-$ROOT/build/release/eddy}
EVENTS=${EVENTS:-10000000}
SKIP_DUCKDB=${SKIP_DUCKDB:-0}
DUCKDB_THREADS=${DUCKDB_THREADS:-1}
KEEP=${KEEP:-0}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
DUCKDB_NODE_API_VERSION=${DUCKDB_NODE_API_VERSION:-1.5.6-r.1}
DUCKDB_DIR=${DUCKDB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eddy-bench/duckdb-node-api-$DUCKDB_NODE_API_VERSION}

die() { echo "flink_windows: $*" >&2; exit 2; }
[[ -x $EDDY_BIN ]] || die "eddy binary not found: $EDDY_BIN (set EDDY_BIN; this script builds nothing)"
WORK=$(mktemp -d /tmp/eddy-flinkbench.XXXXXX)
FAILED=0
cleanup() { if [[ $KEEP == 1 || $FAILED != 0 ]]; then echo "files kept in $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

if [[ $SKIP_DUCKDB != 1 ]]; then
  installed=$(node -p 'require(process.argv[1]).version' "$DUCKDB_DIR/node_modules/@duckdb/node-api/package.json" 2>/dev/null || true)
  if [[ $installed != "$DUCKDB_NODE_API_VERSION" ]]; then
    echo "=== installing @duckdb/node-api@$DUCKDB_NODE_API_VERSION into $DUCKDB_DIR"
    mkdir -p "$DUCKDB_DIR"
    timeout 300 npm install --prefix "$DUCKDB_DIR" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "@duckdb/node-api@$DUCKDB_NODE_API_VERSION" >"$WORK/npm.log" 2>&1 || { FAILED=1; tail -20 "$WORK/npm.log" >&2; die "installing DuckDB failed (or SKIP_DUCKDB=1)"; }
  fi
  export EDDY_BENCH_DUCKDB_DIR=$DUCKDB_DIR
fi

echo "=== machine: $(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1); eddy $EDDY_BIN"
echo "=== generating $EVENTS trades"
timeout 600 python3 "$ROOT/bench/gen_sales.py" trades "$EVENTS" --rate 1000 >"$WORK/trades.ndjson"
echo "trades.ndjson: $(du -m "$WORK/trades.ndjson" | cut -f1) MB"

secs() {  # runs a command, writes its wall seconds to $WORK/secs, returns its status
  local t0=$EPOCHREALTIME rc=0
  "$@" || rc=$?
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }' >"$WORK/secs"
  return $rc
}
eps() { awk -v n="$EVENTS" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }

# kind slide size: TUMBLE uses size only
CONFIGS=("TUMBLE 60 60" "HOP 10 60" "HOP 1 60" "HOP 60 90")
declare -A EDDY_S DUCK_S CHECK
for c in "${CONFIGS[@]}"; do
  read -r kind slide size <<<"$c"
  if [[ $kind == TUMBLE ]]; then fn="TUMBLE(TABLE trades, DESCRIPTOR(EVENT_TIME), INTERVAL '$size' SECOND)"
  else fn="HOP(TABLE trades, DESCRIPTOR(EVENT_TIME), INTERVAL '$slide' SECOND, INTERVAL '$size' SECOND)"; fi
  cat >"$WORK/q.sql" <<SQL
CREATE TABLE trades (EVENT_TIME TIMESTAMP(3), TICKER STRING, PRICE DOUBLE, WATERMARK FOR EVENT_TIME AS EVENT_TIME)
  WITH ('connector' = 'kinesis', 'stream' = 'trades', 'format' = 'json');
CREATE TABLE maxes (TICKER STRING, MAX_PRICE DOUBLE, WINDOW_END TIMESTAMP(3))
  WITH ('connector' = 'kinesis', 'stream' = 'maxes', 'format' = 'json');
INSERT INTO maxes SELECT TICKER, MAX(PRICE), window_end FROM TABLE($fn) GROUP BY window_start, window_end, TICKER;
SQL
  echo "=== eddy: $kind slide ${slide}s size ${size}s"
  secs timeout "$RUN_TIMEOUT" "$EDDY_BIN" sql run --sql "$WORK/q.sql" --input "$WORK/trades.ndjson" >"$WORK/eddy.ndjson" 2>"$WORK/eddy.log" \
    || { FAILED=1; tail -5 "$WORK/eddy.log" >&2; continue; }
  EDDY_S[$c]=$(cat "$WORK/secs")
  echo "${EDDY_S[$c]}s, $(wc -l <"$WORK/eddy.ndjson") windows x tickers"
  if [[ $SKIP_DUCKDB != 1 ]]; then
    echo "=== DuckDB: the same, threads=$DUCKDB_THREADS"
    timeout "$RUN_TIMEOUT" node "$ROOT/bench/duckdb_hop.mjs" "$WORK/trades.ndjson" "$WORK/duck.ndjson" "$slide" "$size" "$DUCKDB_THREADS" \
      >"$WORK/duck.log" 2>&1 || { FAILED=1; tail -5 "$WORK/duck.log" >&2; continue; }
    DUCK_S[$c]=$(sed -nE 's/.* seconds=([0-9.]+).*/\1/p' "$WORK/duck.log")
    echo "${DUCK_S[$c]}s (query)"
    CHECK[$c]=$(python3 "$ROOT/bench/compare_windows.py" "$WORK/eddy.ndjson" "$WORK/duck.ndjson" || true)
    echo "check: ${CHECK[$c]}"
    [[ ${CHECK[$c]} == OK* ]] || FAILED=1
  fi
done

echo
echo "=== summary ($EVENTS trades, 5 tickers; DuckDB threads=$DUCKDB_THREADS)"
printf '%-26s %10s %12s %14s %10s %12s\n' window "eddy s" "eddy ev/s" "vs tumbling" "DuckDB s" "eddy/DuckDB"
tumble=${EDDY_S["TUMBLE 60 60"]:-}
for c in "${CONFIGS[@]}"; do
  read -r kind slide size <<<"$c"
  e=${EDDY_S[$c]:-}; d=${DUCK_S[$c]:-}
  [[ -n $e ]] || { printf '%-26s %10s\n' "$kind ${size}s/${slide}s" FAILED; continue; }
  printf '%-26s %10s %12s %14s %10s %12s\n' "$kind ${size}s/${slide}s" "$e" "$(eps "$e")" \
    "$(awk -v t="$tumble" -v e="$e" 'BEGIN { if (t > 0) printf "%.2fx", t / e; else print "-" }')" "${d:--}" \
    "$(awk -v d="$d" -v e="$e" 'BEGIN { if (d > 0) printf "%.2fx", d / e; else print "-" }')"
done
echo "goal: every HOP >= 0.50x tumbling (issue #5)"
exit $FAILED
