#!/usr/bin/env bash
# Join benchmark (issue 25): `eddy sql run` against DuckDB on ONE thread, over the same files.
#
#  (a) stream-to-table: TRADES trades (NDJSON {"ticker","price","qty"}) joined with a reference table
#      of TICKERS rows (CSV ticker,company,sector; `--reference TICKERS=...`); about 9 % of the trades
#      name a ticker the table does not hold and drop out of the inner join.
#  (b) stream-to-stream: STREAM_RECORDS orders and shipments in ONE input stream (tagged by "kind"),
#      split into two in-application streams by pumps and joined by
#      `FROM "ORDERS" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS o JOIN "SHIPMENTS" AS s ON orderid`,
#      ROWTIME = the records' "at" (epoch ms, --arrival-time-field); DuckDB runs the interval join
#      `s.t BETWEEN o.t AND o.t + INTERVAL 1 MINUTE` with equal orderid.
#  Both sides write every joined row as NDJSON to a file; the row counts and sums (price in cents for
#  (a); orderid and shipment delay for (b)) of the two files are checked to be equal. A plain
#  projection of each input through eddy (no join) is run too, to show what the join itself costs.
#
#   bench/join_vs_duckdb.sh                                  # EDDY_BIN defaults to build/release/eddy
#   TRADES=500000 STREAM_RECORDS=100000 bench/join_vs_duckdb.sh   # a quick run
#
# Builds nothing. Needs: a built eddy, python3, node + npm, GNU time (/usr/bin/time). DuckDB is not a
# dependency of the repository: @duckdb/node-api (DUCKDB_NODE_API_VERSION, exact) is installed on first
# use with `npm install --no-save --no-package-lock --prefix DUCKDB_DIR` outside the work tree, into the
# same cache directory bench/sql_vs_duckdb.sh uses, and reused from there.
#
# Knobs (environment, defaults in brackets):
#   EDDY_BIN [build/release/eddy]   TRADES [10000000]: trades for (a) (~45 B each)
#   TICKERS [100000]: rows of the reference table   MISS [0.1]: trades' tickers are drawn from
#   TICKERS * (1 + MISS) names   STREAM_RECORDS [2000000]: orders + shipments for (b)
#   RATE [1000]: records per second of arrival time in (b) (a one-minute window then holds ~30,000 orders)
#   PARALLELISMS ["1 2"]: (a) through `eddy sql run --parallelism N` for each N; the first is the one set
#   against DuckDB (one thread each) and the one (b) and the projections run at
#   DUCKDB_THREADS [1]   SKIP_DUCKDB [0]   SKIP_REF [0]   SKIP_STREAM [0]   SKIP_PROJECTION [0]
#   GEN_TIMEOUT [600]  RUN_TIMEOUT [900]: per measured run; an eddy run stopped by it reports its rate so
#   far (from its progress line), marked partial   CHECK_TIMEOUT [300]
#   BENCH_DIR [a new temp dir]: where inputs, outputs and logs go (kept)   KEEP [0]: 1 to keep the temp dir
#   DUCKDB_NODE_API_VERSION [1.5.6-r.1]   DUCKDB_DIR [${XDG_CACHE_HOME:-~/.cache}/eddy-bench/duckdb-node-api-VERSION]
#   INSTALL_TIMEOUT [300]
#
# Measured, for eddy and DuckDB alike: the whole process under /usr/bin/time -f "%e %U %S %M" (wall,
# user and system CPU seconds, peak RSS); for DuckDB that includes starting node and opening DuckDB
# (~0.1 s; the query alone is printed in its log line). Inputs are read from the page cache.
# Disk: about 0.5 GB of trades and 0.5 GB of joined rows per side for the defaults.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EDDY_BIN=${EDDY_BIN:-$ROOT/build/release/eddy}
TRADES=${TRADES:-10000000}
TICKERS=${TICKERS:-100000}
MISS=${MISS:-0.1}
STREAM_RECORDS=${STREAM_RECORDS:-2000000}
RATE=${RATE:-1000}
PARALLELISMS=${PARALLELISMS:-1 2}
DUCKDB_THREADS=${DUCKDB_THREADS:-1}
SKIP_DUCKDB=${SKIP_DUCKDB:-0}
SKIP_REF=${SKIP_REF:-0}
SKIP_STREAM=${SKIP_STREAM:-0}
SKIP_PROJECTION=${SKIP_PROJECTION:-0}
GEN_TIMEOUT=${GEN_TIMEOUT:-600}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
CHECK_TIMEOUT=${CHECK_TIMEOUT:-300}
KEEP=${KEEP:-0}
DUCKDB_NODE_API_VERSION=${DUCKDB_NODE_API_VERSION:-1.5.6-r.1}
DUCKDB_DIR=${DUCKDB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eddy-bench/duckdb-node-api-$DUCKDB_NODE_API_VERSION}
INSTALL_TIMEOUT=${INSTALL_TIMEOUT:-300}
TIME_BIN=/usr/bin/time

die() { echo "join_vs_duckdb: $*" >&2; exit 2; }

[[ -x $EDDY_BIN ]] || die "eddy binary not found or not executable: $EDDY_BIN (set EDDY_BIN; this script builds nothing)"
for v in TRADES TICKERS STREAM_RECORDS; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || die "$v must be a positive integer"
done
read -r -a PARALLELISM_LIST <<<"$PARALLELISMS"
((${#PARALLELISM_LIST[@]} > 0)) || die "PARALLELISMS must list at least one thread count"
for p in "${PARALLELISM_LIST[@]}"; do [[ $p =~ ^[0-9]+$ && $p -gt 0 ]] || die "PARALLELISMS: '$p' is not a positive integer"; done
P1=${PARALLELISM_LIST[0]}
command -v timeout >/dev/null || die "coreutils 'timeout' is needed"
command -v python3 >/dev/null || die "python3 is needed (input generator)"
[[ -x $TIME_BIN ]] || die "GNU time is needed at $TIME_BIN (apt-get install time)"
# the checks read both sides' output with DuckDB, so node is needed even with SKIP_DUCKDB=1
command -v node >/dev/null || die "node is needed (DuckDB runs and the result checks)"
command -v npm >/dev/null || die "npm is needed to install @duckdb/node-api"

if [[ -n ${BENCH_DIR:-} ]]; then
  WORK=$BENCH_DIR
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/eddy-joinbench.XXXXXX")
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

# bounded LIMIT CMD...: CMD under `timeout` (which signals its whole process group) in the background,
# waited for so that INT/TERM reach our trap at once. stdin is /dev/null. Returns CMD's exit status
# (124: timed out).
bounded() {
  local limit=$1 pid rc=0
  shift
  timeout --signal=TERM --kill-after=10 "$limit" "$@" </dev/null &
  pid=$!
  PIDS+=("$pid")
  wait "$pid" || rc=$?
  unset 'PIDS[${#PIDS[@]}-1]'
  return "$rc"
}

# measured LIMIT NAME CMD...: bounded run of CMD under GNU time; stdout to $WORK/NAME.out, stderr to
# $WORK/NAME.log. Sets WALL, CPU (user + system) and RSS_MB from time's line.
WALL='' CPU='' RSS_MB=''
measured() {
  local limit=$1 name=$2 rc=0 line
  shift 2
  rm -f "$WORK/$name.time"
  bounded "$limit" "$TIME_BIN" -o "$WORK/$name.time" -f 'TIME %e %U %S %M' "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" || rc=$?
  line=$(grep -E '^TIME ' "$WORK/$name.time" 2>/dev/null | tail -n1 || true)
  if [[ -n $line ]]; then
    read -r _ WALL u s m <<<"$line"
    CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
    RSS_MB=$(awk -v m="$m" 'BEGIN { printf "%.0f", m / 1024 }')
  else
    WALL=- CPU=- RSS_MB=-
  fi
  return "$rc"
}

eps() { awk -v n="$1" -v s="$2" 'BEGIN { if (n ~ /^[0-9]+$/ && s + 0 > 0) printf "%.0f", n / s; else printf "-" }'; }
ratio() { # ratio A B -> A/B with 2 decimals (3 significant digits below 0.1), or "-"
  awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) { r = a / b; printf (r < 0.1 ? "%.3g" : "%.2f"), r } else printf "-" }'
}
eddy_progress() { tr '\r' '\n' <"$1" | grep -E 'sql run: [0-9]+ records' | tail -n1 | sed 's/[[:space:]]*$//' || true; }
eddy_done() { eddy_progress "$1" | sed -nE 's/.*sql run: ([0-9]+) records.*/\1/p'; }

# ---------------------------------------------------------------------------------------------
# DuckDB for node, pinned, outside the work tree

duckdb_installed_version() {
  node -p 'require(process.argv[1]).version' "$DUCKDB_DIR/node_modules/@duckdb/node-api/package.json" 2>/dev/null || true
}
if [[ $(duckdb_installed_version) != "$DUCKDB_NODE_API_VERSION" ]]; then
  echo "=== installing @duckdb/node-api@$DUCKDB_NODE_API_VERSION into $DUCKDB_DIR (limit ${INSTALL_TIMEOUT}s)"
  mkdir -p "$DUCKDB_DIR"
  rc=0
  bounded "$INSTALL_TIMEOUT" npm install --prefix "$DUCKDB_DIR" --no-save --no-package-lock --no-audit --no-fund \
    --loglevel=error "@duckdb/node-api@$DUCKDB_NODE_API_VERSION" >"$WORK/npm-install.log" 2>&1 || rc=$?
  if ((rc != 0)) || [[ $(duckdb_installed_version) != "$DUCKDB_NODE_API_VERSION" ]]; then
    tail -n 20 "$WORK/npm-install.log" >&2
    FAILED=1
    die "installing @duckdb/node-api@$DUCKDB_NODE_API_VERSION failed (exit $rc)"
  fi
fi
export EDDY_BENCH_DUCKDB_DIR=$DUCKDB_DIR
DUCKDB_JS=$ROOT/bench/duckdb_join.mjs

echo "=== machine"
echo "nproc:      $(nproc)"
echo "cpu:        $(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)"
echo "memory:     $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null)"
echo "os:         $(sed -nE 's/^PRETTY_NAME="?([^"]*)"?$/\1/p' /etc/os-release 2>/dev/null), $(uname -sr)"
echo "load:       $(cut -d' ' -f1-3 /proc/loadavg)"
echo "eddy:       $EDDY_BIN (built $(date -r "$EDDY_BIN" '+%Y-%m-%d %H:%M:%S'))"
echo "duckdb:     @duckdb/node-api $(duckdb_installed_version) on node $(node --version), threads=$DUCKDB_THREADS"
echo "work dir:   $WORK"

# ---------------------------------------------------------------------------------------------
# SQL and schemas

cat >"$WORK/ref.sql" <<'EOF'
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("ticker" VARCHAR(8), "company" VARCHAR(32), "price" DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM s."ticker", t."company", s."price"
  FROM "SOURCE_SQL_STREAM_001" AS s JOIN "TICKERS" AS t ON s."ticker" = t."ticker";
EOF
cat >"$WORK/ref-projection.sql" <<'EOF'
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("ticker" VARCHAR(8), "price" DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM "ticker", "price" FROM "SOURCE_SQL_STREAM_001";
EOF
cat >"$WORK/trades-schema.json" <<'EOF'
{"RecordFormat": {"RecordFormatType": "JSON", "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
 "RecordEncoding": "UTF-8",
 "RecordColumns": [{"Name": "ticker", "Mapping": "$.ticker", "SqlType": "VARCHAR(8)"},
                   {"Name": "price", "Mapping": "$.price", "SqlType": "DOUBLE"},
                   {"Name": "qty", "Mapping": "$.qty", "SqlType": "INTEGER"}]}
EOF
cat >"$WORK/tickers-schema.json" <<'EOF'
{"RecordFormat": {"RecordFormatType": "CSV", "MappingParameters": {"CSVMappingParameters": {"RecordRowDelimiter": "\n", "RecordColumnDelimiter": ","}}},
 "RecordEncoding": "UTF-8",
 "RecordColumns": [{"Name": "ticker", "SqlType": "VARCHAR(8)"},
                   {"Name": "company", "SqlType": "VARCHAR(32)"},
                   {"Name": "sector", "SqlType": "VARCHAR(16)"}]}
EOF
cat >"$WORK/stream.sql" <<'EOF'
CREATE OR REPLACE STREAM "ORDERS" ("orderid" INTEGER);
CREATE OR REPLACE PUMP "ORDERS_PUMP" AS INSERT INTO "ORDERS"
  SELECT STREAM "orderid" FROM "SOURCE_SQL_STREAM_001" WHERE "kind" = 'order';
CREATE OR REPLACE STREAM "SHIPMENTS" ("orderid" INTEGER);
CREATE OR REPLACE PUMP "SHIPMENTS_PUMP" AS INSERT INTO "SHIPMENTS"
  SELECT STREAM "orderid" FROM "SOURCE_SQL_STREAM_001" WHERE "kind" = 'shipment';
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("orderid" INTEGER, "ordertime" TIMESTAMP, "shiptime" TIMESTAMP);
CREATE OR REPLACE PUMP "JOIN_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM s."orderid", o.ROWTIME, s.ROWTIME
  FROM "ORDERS" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS o
  JOIN "SHIPMENTS" AS s ON o."orderid" = s."orderid";
EOF
cat >"$WORK/stream-projection.sql" <<'EOF'
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("kind" VARCHAR(8), "orderid" INTEGER, "t" TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM "kind", "orderid", ROWTIME FROM "SOURCE_SQL_STREAM_001";
EOF
cat >"$WORK/orders-schema.json" <<'EOF'
{"RecordFormat": {"RecordFormatType": "JSON", "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
 "RecordEncoding": "UTF-8",
 "RecordColumns": [{"Name": "kind", "Mapping": "$.kind", "SqlType": "VARCHAR(8)"},
                   {"Name": "orderid", "Mapping": "$.orderid", "SqlType": "INTEGER"}]}
EOF

# ---------------------------------------------------------------------------------------------
# results: one table row per run

ROWS=()
add_row() { ROWS+=("$(printf '%s\t' "$@")"); }
RESULT=()

# eddy_run SETUP NAME RECORDS CMD...: a measured eddy run; adds a table row. Sets RUN_RATE, RUN_ROWS.
RUN_RATE='' RUN_ROWS='' RUN_PARTIAL=0
eddy_run() {
  local setup=$1 name=$2 records=$3 rc=0 n partial='' prog
  shift 3
  echo "=== eddy: $setup ($records records, limit ${RUN_TIMEOUT}s)"
  RUN_RATE=- RUN_ROWS=- RUN_PARTIAL=0
  measured "$RUN_TIMEOUT" "$name" "$@" || rc=$?
  if ((rc == 124)); then
    n=$(eddy_done "$WORK/$name.log")
    echo "!!! exceeded ${RUN_TIMEOUT}s after ${n:-?} of $records records; the rate below is for those" >&2
    FAILED=1
    records=${n:--}
    partial='*'
    RUN_PARTIAL=1
    WALL=$RUN_TIMEOUT
  elif ((rc != 0)); then
    echo "!!! eddy failed (exit $rc); log:" >&2
    tail -c 2000 "$WORK/$name.log" >&2
    FAILED=1
    add_row "$setup" FAILED - - - - -
    RUN_PARTIAL=1
    return 0
  fi
  RUN_ROWS=$(wc -l <"$WORK/$name.out")
  RUN_RATE=$(eps "$records" "$WALL")
  prog=$(eddy_progress "$WORK/$name.log")
  echo "${WALL}s wall, ${CPU} CPU-s, ${RSS_MB} MB peak RSS -> $RUN_ROWS rows${prog:+  ($prog)}"
  if [[ -s $WORK/$name-errors.ndjson ]]; then
    echo "!!! eddy wrote $(wc -l <"$WORK/$name-errors.ndjson") error_stream rows; first:" >&2
    head -n 3 "$WORK/$name-errors.ndjson" >&2
    FAILED=1
  fi
  add_row "$setup" "$RUN_ROWS$partial" "$WALL$partial" "$RUN_RATE" "$CPU" "$RSS_MB" ""
}

# duckdb_run SETUP NAME RECORDS ARGS...: a measured DuckDB run; adds a table row.
duckdb_run() {
  local setup=$1 name=$2 records=$3 rc=0 line
  shift 3
  echo "=== DuckDB: $setup ($records records, threads=$DUCKDB_THREADS, limit ${RUN_TIMEOUT}s)"
  RUN_RATE=- RUN_ROWS=-
  measured "$RUN_TIMEOUT" "$name" node "$DUCKDB_JS" "$@" || rc=$?
  line=$(grep -E '^DUCKDB ' "$WORK/$name.out" | tail -n1 || true)
  if ((rc != 0)) || [[ -z $line ]]; then
    echo "!!! DuckDB failed (exit $rc); log:" >&2
    tail -c 2000 "$WORK/$name.log" "$WORK/$name.out" >&2
    FAILED=1
    add_row "$setup" FAILED - - - - -
    return 0
  fi
  RUN_ROWS=$(sed -nE 's/.* rows=([0-9]+).*/\1/p' <<<"$line")
  RUN_RATE=$(eps "$records" "$WALL")
  DUCKDB_VERSION=$(sed -nE 's/.* version=([^ ]+).*/\1/p' <<<"$line")
  echo "${WALL}s wall (query $(sed -nE 's/.* seconds=([0-9.]+).*/\1/p' <<<"$line")s), ${CPU} CPU-s, ${RSS_MB} MB peak RSS -> $RUN_ROWS rows"
  add_row "$setup" "$RUN_ROWS" "$WALL" "$RUN_RATE" "$CPU" "$RSS_MB" "1.00x"
}

# check KIND EDDY_OUT DUCKDB_OUT: both files' CHECK lines must be equal
check() {
  local kind=$1 a b rc=0
  a=$(bounded "$CHECK_TIMEOUT" node "$DUCKDB_JS" "check-$kind" "$2" 2>&1 | grep -E '^CHECK ') || rc=$?
  b=$(bounded "$CHECK_TIMEOUT" node "$DUCKDB_JS" "check-$kind" "$3" 2>&1 | grep -E '^CHECK ') || rc=$?
  echo "eddy:   ${a:-?}"
  echo "DuckDB: ${b:-?}"
  if ((rc == 0)) && [[ -n $a && $a == "$b" ]]; then
    echo "check $kind: OK"
    CHECKS+=("$kind=OK")
  else
    echo "!!! check $kind: MISMATCH" >&2
    CHECKS+=("$kind=MISMATCH")
    FAILED=1
  fi
}
CHECKS=()
DUCKDB_VERSION=

# ---------------------------------------------------------------------------------------------
# (a) stream-to-table

if [[ $SKIP_REF != 1 ]]; then
  echo
  echo "=== generating $TICKERS tickers and $TRADES trades (limit ${GEN_TIMEOUT}s)"
  bounded "$GEN_TIMEOUT" python3 "$ROOT/bench/gen_join.py" tickers "$TICKERS" >"$WORK/tickers.csv" || die "generating tickers failed"
  bounded "$GEN_TIMEOUT" python3 "$ROOT/bench/gen_join.py" trades "$TRADES" --tickers "$TICKERS" --miss "$MISS" \
    >"$WORK/trades.ndjson" || { FAILED=1; die "generating trades failed"; }
  echo "trades.ndjson: $(du -m "$WORK/trades.ndjson" | cut -f1) MB; tickers.csv: $(du -k "$WORK/tickers.csv" | cut -f1) KB"
  cat "$WORK/trades.ndjson" >/dev/null  # into the page cache

  REF_EDDY_RATE=- REF_DUCKDB_RATE=- REF_PROJ_RATE=- REF_EDDY_PARTIAL=0
  declare -A REF_P_RATE=()
  for p in "${PARALLELISM_LIST[@]}"; do
    echo
    eddy_run "(a) eddy trades JOIN reference table, --parallelism $p" "ref-eddy-p$p" "$TRADES" \
      "$EDDY_BIN" sql run --sql "$WORK/ref.sql" --input-schema "$WORK/trades-schema.json" --input "$WORK/trades.ndjson" \
      --reference "TICKERS=$WORK/tickers.csv" --reference-schema "TICKERS=$WORK/tickers-schema.json" \
      --errors "$WORK/ref-eddy-p$p-errors.ndjson" --parallelism "$p"
    REF_P_RATE[$p]=$RUN_RATE
    [[ $p != "$P1" ]] || REF_EDDY_PARTIAL=$RUN_PARTIAL
    if [[ $p != "$P1" && -s $WORK/ref-eddy-p$P1.out ]]; then
      # the rows do not depend on the thread count
      if cmp -s "$WORK/ref-eddy-p$p.out" "$WORK/ref-eddy-p$P1.out"; then
        rm -f "$WORK/ref-eddy-p$p.out"
      else
        echo "!!! --parallelism $p gave other rows than --parallelism $P1" >&2
        FAILED=1
      fi
    fi
  done
  REF_EDDY_RATE=${REF_P_RATE[$P1]}
  if [[ $SKIP_PROJECTION != 1 ]]; then
    echo
    eddy_run "(a) eddy projection of the trades, no join, --parallelism $P1" ref-proj "$TRADES" \
      "$EDDY_BIN" sql run --sql "$WORK/ref-projection.sql" --input-schema "$WORK/trades-schema.json" \
      --input "$WORK/trades.ndjson" --errors "$WORK/ref-proj-errors.ndjson" --parallelism "$P1"
    REF_PROJ_RATE=$RUN_RATE
    rm -f "$WORK/ref-proj.out"
  fi
  if [[ $SKIP_DUCKDB != 1 ]]; then
    echo
    duckdb_run "(a) DuckDB trades JOIN tickers (read_ndjson, read_csv), 1 thread" ref-duckdb "$TRADES" \
      ref "$WORK/trades.ndjson" "$WORK/tickers.csv" "$WORK/ref-duckdb.ndjson" "$DUCKDB_THREADS"
    REF_DUCKDB_RATE=$RUN_RATE
    if [[ -s $WORK/ref-eddy-p$P1.out && -s $WORK/ref-duckdb.ndjson ]] && ((REF_EDDY_PARTIAL == 0)); then
      echo "=== check (a): rows and sum of price (in cents) of both outputs"
      check ref "$WORK/ref-eddy-p$P1.out" "$WORK/ref-duckdb.ndjson"
    fi
  fi
  [[ $KEEP == 1 ]] || rm -f "$WORK/ref-eddy-p$P1.out" "$WORK/ref-duckdb.ndjson" "$WORK/trades.ndjson"
  RESULT+=("ref_eddy_rps=$REF_EDDY_RATE" "ref_duckdb_rps=$REF_DUCKDB_RATE" "ref_ratio=$(ratio "$REF_EDDY_RATE" "$REF_DUCKDB_RATE")"
    "ref_projection_rps=$REF_PROJ_RATE")
  for p in "${PARALLELISM_LIST[@]:1}"; do RESULT+=("ref_p${p}_vs_p$P1=$(ratio "${REF_P_RATE[$p]}" "$REF_EDDY_RATE")"); done
fi

# ---------------------------------------------------------------------------------------------
# (b) stream-to-stream

if [[ $SKIP_STREAM != 1 ]]; then
  echo
  echo "=== generating $STREAM_RECORDS orders and shipments at $RATE records/s of arrival time (limit ${GEN_TIMEOUT}s)"
  bounded "$GEN_TIMEOUT" python3 "$ROOT/bench/gen_join.py" orders "$STREAM_RECORDS" --rate "$RATE" \
    >"$WORK/orders.ndjson" || { FAILED=1; die "generating orders failed"; }
  echo "orders.ndjson: $(du -m "$WORK/orders.ndjson" | cut -f1) MB, $(grep -c '"order"' "$WORK/orders.ndjson") orders," \
    "$(grep -c '"shipment"' "$WORK/orders.ndjson") shipments"

  ST_EDDY_RATE=- ST_DUCKDB_RATE=- ST_PROJ_RATE=-
  echo
  eddy_run "(b) eddy ORDERS OVER (RANGE 1 MINUTE) JOIN SHIPMENTS, --parallelism $P1" stream-eddy "$STREAM_RECORDS" \
    "$EDDY_BIN" sql run --sql "$WORK/stream.sql" --input-schema "$WORK/orders-schema.json" --input "$WORK/orders.ndjson" \
    --arrival-time-field at --errors "$WORK/stream-eddy-errors.ndjson" --parallelism "$P1"
  ST_EDDY_RATE=$RUN_RATE ST_EDDY_PARTIAL=$RUN_PARTIAL
  if [[ $SKIP_PROJECTION != 1 ]]; then
    echo
    eddy_run "(b) eddy projection of the same input, no join, --parallelism $P1" stream-proj "$STREAM_RECORDS" \
      "$EDDY_BIN" sql run --sql "$WORK/stream-projection.sql" --input-schema "$WORK/orders-schema.json" \
      --input "$WORK/orders.ndjson" --arrival-time-field at --errors "$WORK/stream-proj-errors.ndjson" --parallelism "$P1"
    ST_PROJ_RATE=$RUN_RATE
    rm -f "$WORK/stream-proj.out"
  fi
  if [[ $SKIP_DUCKDB != 1 ]]; then
    echo
    duckdb_run "(b) DuckDB interval join (BETWEEN o.t AND o.t + 1 MINUTE), 1 thread" stream-duckdb "$STREAM_RECORDS" \
      stream "$WORK/orders.ndjson" "$WORK/stream-duckdb.ndjson" "$DUCKDB_THREADS"
    ST_DUCKDB_RATE=$RUN_RATE
    if [[ -s $WORK/stream-eddy.out && -s $WORK/stream-duckdb.ndjson ]] && ((ST_EDDY_PARTIAL == 0)); then
      echo "=== check (b): rows, sum of orderid and of shiptime - ordertime of both outputs"
      check stream "$WORK/stream-eddy.out" "$WORK/stream-duckdb.ndjson"
    fi
  fi
  [[ $KEEP == 1 ]] || rm -f "$WORK/stream-eddy.out" "$WORK/stream-duckdb.ndjson" "$WORK/orders.ndjson"
  RESULT+=("stream_eddy_rps=$ST_EDDY_RATE" "stream_duckdb_rps=$ST_DUCKDB_RATE" "stream_ratio=$(ratio "$ST_EDDY_RATE" "$ST_DUCKDB_RATE")"
    "stream_projection_rps=$ST_PROJ_RATE")
fi

# ---------------------------------------------------------------------------------------------
# summary

# the ratio column: eddy rows against the DuckDB row of the same part, input records/s
for i in "${!ROWS[@]}"; do
  IFS=$'\t' read -r setup rows wall rate cpu rss x <<<"${ROWS[i]}"
  if [[ -z $x ]]; then
    case $setup in
      "(a)"*) peer=${REF_DUCKDB_RATE:--} ;;
      *) peer=${ST_DUCKDB_RATE:--} ;;
    esac
    r=$(ratio "$rate" "$peer")
    x=$([[ $r == - ]] && echo - || echo "${r}x")
  fi
  ROWS[i]=$(printf '%s\t' "$setup" "$rows" "$wall" "$rate" "$cpu" "$rss" "$x")
done

echo
echo "=== summary (inputs from the page cache; whole processes under GNU time; DuckDB ${DUCKDB_VERSION:-?} threads=$DUCKDB_THREADS)"
printf '%-72s %10s %9s %12s %7s %9s %8s\n' setup "rows out" "wall s" "input rows/s" "CPU s" "peak RSS" "vs DuckDB"
for r in "${ROWS[@]}"; do
  IFS=$'\t' read -r setup rows wall rate cpu rss x <<<"$r"
  [[ $rss == - ]] || rss="$rss MB"
  printf '%-72s %10s %9s %12s %7s %9s %8s\n' "$setup" "$rows" "$wall" "$rate" "$cpu" "$rss" "$x"
done
echo "ratio: eddy/DuckDB input records per second of wall time, same part; * = stopped at RUN_TIMEOUT (partial)"
((${#CHECKS[@]})) && echo "checks: ${CHECKS[*]}"
echo "RESULT trades=$TRADES tickers=$TICKERS stream_records=$STREAM_RECORDS ${RESULT[*]} checks=$(IFS=,; echo "${CHECKS[*]:--}")"

if ((FAILED)); then
  echo "some steps failed; files in $WORK" >&2
  exit 1
fi
