#!/usr/bin/env bash
# Runs eddy's end-to-end Python tests (stdlib unittest) against a built eddy binary.
#   EDDY_BIN=/path/to/eddy tests/e2e/python/run_all.sh [test module ...]
# Without EDDY_BIN it uses build/release/eddy, else build/dev/eddy. test_cbor runs under
# /usr/bin/python3 (Debian's python3-cbor2); the others under `python3` (boto3, awscli).
# Exits non-zero if any module fails; the last line is "N passed, N failed".
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
if [ -z "${EDDY_BIN:-}" ]; then
  for c in "$root/build/release/eddy" "$root/build/dev/eddy"; do
    if [ -x "$c" ]; then EDDY_BIN="$c"; break; fi
  done
fi
if [ -z "${EDDY_BIN:-}" ] || [ ! -x "$EDDY_BIN" ]; then
  echo "run_all.sh: no eddy binary (set EDDY_BIN or build build/release/eddy)" >&2
  exit 2
fi
export EDDY_BIN
echo "EDDY_BIN=$EDDY_BIN"

modules=("$@")
if [ ${#modules[@]} -eq 0 ]; then
  modules=(test_kinesis_boto3 test_kinesis_cli test_cbor test_crash test_analytics test_analytics_v2 test_analytics_reference test_analytics_preprocessing test_firehose test_firehose_lambda test_firehose_s3 test_firehose_http test_firehose_stream test_flink test_flink_tables test_checkpoint test_shutdown test_serve_config test_jobs test_pipeline test_pipeline_reference test_gen test_dashboard_api test_prometheus test_sql_run_parallel test_hostile_names test_hostile_input test_hostile_auth test_hostile_host test_hostile_resources test_hostile_disk)
fi

cd "$here"
passed=0; failed=0; rc=0
# The failure reports of failed modules, repeated at the end: CI shows the tail of a long output.
failures="$(mktemp)"
for m in "${modules[@]}"; do
  py=python3
  [ "$m" = test_cbor ] && py=/usr/bin/python3
  log="$(mktemp)"
  echo "=== $py -m unittest -v $m"
  "$py" -m unittest -v "$m" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  ran=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\} in.*/\1/p' "$log" | tail -1)
  ran=${ran:-0}
  # Failed tests, counting a test with several failing subtests once; a setUpClass error counts 1.
  bad=$(grep -E '^(FAIL|ERROR): ' "$log" | awk '{print $2, $3}' | sort -u | wc -l)
  skipped=$(grep -E '^(OK|FAILED) \(' "$log" | tail -1 | sed -n 's/.*skipped=\([0-9]*\).*/\1/p')
  skipped=${skipped:-0}
  if [ "$status" -ne 0 ]; then
    rc=1
    [ "$bad" -eq 0 ] && bad=1  # crashed before the summary line
    { echo "--- $m"; sed -n '/^======================================================================$/,/^Ran [0-9]* tests\{0,1\} in/p' "$log" | head -150
      [ "$bad" -eq 1 ] && ! grep -q '^Ran ' "$log" && tail -40 "$log"; } >> "$failures"
  fi
  ok=$((ran - bad - skipped)); [ "$ok" -lt 0 ] && ok=0
  passed=$((passed + ok)); failed=$((failed + bad))
  rm -f "$log"
done
if [ -s "$failures" ]; then
  echo "=== failures (repeated from above)"
  cat "$failures"
fi
rm -f "$failures"
echo "$passed passed, $failed failed"
exit $rc
