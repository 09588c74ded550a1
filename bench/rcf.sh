#!/usr/bin/env bash
# RANDOM_CUT_FOREST benchmark (issue 25): `eddy sql run` scoring every record of an NDJSON file with
# RANDOM_CUT_FOREST at its documented defaults (numberOfTrees 100, subSampleSize 256, timeDecay
# 100000, shingleSize 1):
#
#   SELECT STREAM ANOMALY_SCORE FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001")))
#
# over 2, 5 and 10 DOUBLE columns, and RANDOM_CUT_FOREST_WITH_EXPLANATION (same defaults) over 2.
# There is no peer: the table gives events per second, CPU seconds and peak RSS of each run, and a
# plain projection of the widest input (no forest) for the cost of reading it. Each output is checked:
# one row per record, and the planted outliers (every 1000th record) score above the rest.
#
#   bench/rcf.sh                                   # EDDY_BIN defaults to build/release/eddy
#   RECORDS=20000 bench/rcf.sh                     # a quick run
#
# Builds nothing. Needs: a built eddy, python3, GNU time (/usr/bin/time).
# Knobs (environment, defaults in brackets):
#   EDDY_BIN [build/release/eddy]   RECORDS [200000]: records per run   DIMS ["2 5 10"]: column counts
#   EXPLAIN_DIMS ["2"]: column counts for RANDOM_CUT_FOREST_WITH_EXPLANATION ("" to skip)
#   PARALLELISM [1]: `eddy sql run --parallelism` (threads that parse; the forest's pump runs on one)
#   GEN_TIMEOUT [600]  RUN_TIMEOUT [900]: per run; a run stopped by it reports its rate so far, marked
#   partial   BENCH_DIR [a new temp dir]: where inputs, outputs and logs go (kept)   KEEP [0]
# Measured: the whole `eddy sql run` process under /usr/bin/time -f "%e %U %S %M" (wall, user and
# system CPU seconds, peak RSS), input from the page cache, output to a file.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EDDY_BIN=${EDDY_BIN:-$ROOT/build/release/eddy}
RECORDS=${RECORDS:-200000}
DIMS=${DIMS:-2 5 10}
EXPLAIN_DIMS=${EXPLAIN_DIMS-2}
PARALLELISM=${PARALLELISM:-1}
GEN_TIMEOUT=${GEN_TIMEOUT:-600}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
KEEP=${KEEP:-0}
TIME_BIN=/usr/bin/time

die() { echo "rcf: $*" >&2; exit 2; }

[[ -x $EDDY_BIN ]] || die "eddy binary not found or not executable: $EDDY_BIN (set EDDY_BIN; this script builds nothing)"
[[ $RECORDS =~ ^[0-9]+$ && $RECORDS -gt 0 ]] || die "RECORDS must be a positive integer"
[[ $PARALLELISM =~ ^[0-9]+$ && $PARALLELISM -gt 0 ]] || die "PARALLELISM must be a positive integer"
read -r -a DIM_LIST <<<"$DIMS"
read -r -a EXPLAIN_LIST <<<"$EXPLAIN_DIMS"
for d in "${DIM_LIST[@]}" "${EXPLAIN_LIST[@]}"; do
  [[ $d =~ ^[0-9]+$ && $d -ge 1 && $d -le 30 ]] || die "column counts must be 1..30 (RANDOM_CUT_FOREST takes at most 30): '$d'"
done
command -v timeout >/dev/null || die "coreutils 'timeout' is needed"
command -v python3 >/dev/null || die "python3 is needed (input generator, output check)"
[[ -x $TIME_BIN ]] || die "GNU time is needed at $TIME_BIN (apt-get install time)"

if [[ -n ${BENCH_DIR:-} ]]; then
  WORK=$BENCH_DIR
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/eddy-rcfbench.XXXXXX")
fi

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
# waited for so that INT/TERM reach our trap at once. stdin is /dev/null. Returns CMD's status (124:
# timed out).
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

eps() { awk -v n="$1" -v s="$2" 'BEGIN { if (n ~ /^[0-9]+$/ && s + 0 > 0) printf "%.0f", n / s; else printf "-" }'; }
eddy_progress() { tr '\r' '\n' <"$1" | grep -E 'sql run: [0-9]+ records' | tail -n1 | sed 's/[[:space:]]*$//' || true; }

echo "=== machine"
echo "nproc:      $(nproc)"
echo "cpu:        $(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)"
echo "memory:     $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null)"
echo "os:         $(sed -nE 's/^PRETTY_NAME="?([^"]*)"?$/\1/p' /etc/os-release 2>/dev/null), $(uname -sr)"
echo "load:       $(cut -d' ' -f1-3 /proc/loadavg)"
echo "eddy:       $EDDY_BIN (built $(date -r "$EDDY_BIN" '+%Y-%m-%d %H:%M:%S'))"
echo "work dir:   $WORK"

# schema D: an InputSchema of D DOUBLE columns c1..cD
schema() {
  local d=$1 i cols=''
  for ((i = 1; i <= d; i++)); do
    cols+="${cols:+, }{\"Name\": \"c$i\", \"Mapping\": \"\$.c$i\", \"SqlType\": \"DOUBLE\"}"
  done
  printf '{"RecordFormat": {"RecordFormatType": "JSON", "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},\n'
  printf ' "RecordEncoding": "UTF-8", "RecordColumns": [%s]}\n' "$cols"
}

cat >"$WORK/rcf.sql" <<'EOF'
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("score" DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM ANOMALY_SCORE FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001")));
EOF
cat >"$WORK/rcf-explain.sql" <<'EOF'
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("score" DOUBLE, "explanation" VARCHAR(2048));
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM ANOMALY_SCORE, ANOMALY_EXPLANATION
  FROM TABLE(RANDOM_CUT_FOREST_WITH_EXPLANATION(CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001")));
EOF
cat >"$WORK/projection.sql" <<'EOF'
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("c1" DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM "c1" FROM "SOURCE_SQL_STREAM_001";
EOF

# check OUT: one row per record; the planted outliers (line numbers divisible by 1000, after the
# learning phase of 256 records) score above the others. Prints one line, returns 1 on a failure.
check() {
  python3 - "$1" "$RECORDS" <<'EOF'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
rows = zero = 0
plain, outl = [], []
with open(path) as f:
    for i, line in enumerate(f, 1):
        s = json.loads(line)["score"]
        rows += 1
        if i <= 256:
            zero += s == 0
        elif i % 1000 == 0:
            outl.append(s)
        else:
            plain.append(s)
mean = lambda v: sum(v) / len(v) if v else float("nan")
low = min(outl) if outl else float("nan")
above = sum(s > low for s in plain) if outl else 0
ok = rows == n and zero == min(n, 256) and (not outl or low > mean(plain))
print("rows=%d (of %d) learning-phase zeros=%d mean score=%.3f outliers: %d, mean %.3f, min %.3f (%d other records score above it) -> %s"
      % (rows, n, zero, mean(plain), len(outl), mean(outl), low, above, "OK" if ok else "UNEXPECTED"))
sys.exit(0 if ok else 1)
EOF
}

ROWS=()
# run SETUP NAME SQL D [CHECK]: a measured eddy run over the D-column input; adds a table row
run() {
  local setup=$1 name=$2 sql=$3 d=$4 want_check=${5:-1} rc=0 line wall cpu rss n prog records=$RECORDS mark='' verdict=-
  echo
  echo "=== eddy: $setup, $RECORDS records (limit ${RUN_TIMEOUT}s)"
  rm -f "$WORK/$name.time"
  bounded "$RUN_TIMEOUT" "$TIME_BIN" -o "$WORK/$name.time" -f 'TIME %e %U %S %M' \
    "$EDDY_BIN" sql run --sql "$sql" --input-schema "$WORK/schema-$d.json" --input "$WORK/input-$d.ndjson" \
    --errors "$WORK/$name-errors.ndjson" --parallelism "$PARALLELISM" >"$WORK/$name.out" 2>"$WORK/$name.log" || rc=$?
  line=$(grep -E '^TIME ' "$WORK/$name.time" 2>/dev/null | tail -n1 || true)
  if ((rc == 124)); then
    n=$(eddy_progress "$WORK/$name.log" | sed -nE 's/.*sql run: ([0-9]+) records.*/\1/p')
    echo "!!! exceeded ${RUN_TIMEOUT}s after ${n:-?} of $RECORDS records; the rate below is for those" >&2
    FAILED=1
    records=${n:--} wall=$RUN_TIMEOUT cpu=- rss=- mark='*'
  elif ((rc != 0)) || [[ -z $line ]]; then
    echo "!!! eddy failed (exit $rc); log:" >&2
    tail -c 2000 "$WORK/$name.log" >&2
    FAILED=1
    ROWS+=("$(printf '%s\t' "$setup" FAILED - - - - -)")
    return 0
  else
    read -r _ wall u s m <<<"$line"
    cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
    rss=$(awk -v m="$m" 'BEGIN { printf "%.0f MB", m / 1024 }')
  fi
  prog=$(eddy_progress "$WORK/$name.log")
  echo "${wall}s wall, $cpu CPU-s, $rss peak RSS -> $(wc -l <"$WORK/$name.out") rows${prog:+  ($prog)}"
  if [[ -s $WORK/$name-errors.ndjson ]]; then
    echo "!!! eddy wrote $(wc -l <"$WORK/$name-errors.ndjson") error_stream rows; first:" >&2
    head -n 3 "$WORK/$name-errors.ndjson" >&2
    FAILED=1
  fi
  if [[ $want_check == 1 && -z $mark ]]; then
    if check "$WORK/$name.out" >"$WORK/$name.check"; then verdict=OK; else verdict=UNEXPECTED; FAILED=1; fi
    echo "check: $(cat "$WORK/$name.check")"
    if [[ $sql == "$WORK/rcf-explain.sql" ]]; then
      echo "an outlier's row: $(sed -n '1000p' "$WORK/$name.out")"
    fi
  fi
  ROWS+=("$(printf '%s\t' "$setup" "$d" "$records" "$wall$mark" "$(eps "$records" "$wall")" "$cpu" "$rss" "$verdict")")
  [[ $KEEP == 1 ]] || rm -f "$WORK/$name.out"
}

declare -A NEED=()
for d in "${DIM_LIST[@]}" "${EXPLAIN_LIST[@]}"; do NEED[$d]=1; done
WIDEST=0
for d in $(printf '%s\n' "${!NEED[@]}" | sort -n); do
  echo
  echo "=== generating $RECORDS records of $d columns (limit ${GEN_TIMEOUT}s)"
  schema "$d" >"$WORK/schema-$d.json"
  bounded "$GEN_TIMEOUT" python3 "$ROOT/bench/gen_join.py" rcf "$RECORDS" --dims "$d" >"$WORK/input-$d.ndjson" ||
    { FAILED=1; die "generating the $d-column input failed"; }
  echo "input-$d.ndjson: $(du -k "$WORK/input-$d.ndjson" | cut -f1) KB; first: $(head -n1 "$WORK/input-$d.ndjson")"
  ((d > WIDEST)) && WIDEST=$d
done

for d in "${DIM_LIST[@]}"; do
  run "RANDOM_CUT_FOREST, defaults (100 trees, sample 256), $d columns" "rcf-$d" "$WORK/rcf.sql" "$d"
done
for d in "${EXPLAIN_LIST[@]}"; do
  run "RANDOM_CUT_FOREST_WITH_EXPLANATION, defaults, $d columns" "rcfx-$d" "$WORK/rcf-explain.sql" "$d"
done
run "projection of c1 (no forest), $WIDEST-column input" "proj-$WIDEST" "$WORK/projection.sql" "$WIDEST" 0

echo
echo "=== summary (eddy sql run --parallelism $PARALLELISM; input from the page cache; whole process under GNU time)"
printf '%-62s %7s %8s %9s %10s %7s %9s %6s\n' setup columns records "wall s" events/s "CPU s" "peak RSS" check
RESULT=()
for r in "${ROWS[@]}"; do
  IFS=$'\t' read -r setup d n wall rate cpu rss verdict <<<"$r"
  printf '%-62s %7s %8s %9s %10s %7s %9s %6s\n' "$setup" "$d" "$n" "$wall" "$rate" "$cpu" "$rss" "$verdict"
  case $setup in
    RANDOM_CUT_FOREST_WITH*) RESULT+=("rcf_explain_${d}_eps=$rate") ;;
    RANDOM_CUT_FOREST*) RESULT+=("rcf_${d}_eps=$rate") ;;
    *) RESULT+=("projection_${d}_eps=$rate") ;;
  esac
done
echo "* = stopped at RUN_TIMEOUT; the rate is for the records done by then"
echo "RESULT records=$RECORDS ${RESULT[*]}"

if ((FAILED)); then
  echo "some steps failed; files in $WORK" >&2
  exit 1
fi
