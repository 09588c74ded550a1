#!/usr/bin/env bash
# End-to-end test of the eddy CLI against the real server: streams create/list/describe/delete,
# put from NDJSON with --key-field, tail across a split, and one-line errors.
set -uo pipefail
EDDY=${EDDY_BIN:?EDDY_BIN must point at the eddy binary}
work=$(mktemp -d)
passed=0
failed=0
server=""
cleanup() { [ -n "$server" ] && kill -9 "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

check() {  # check NAME CONDITION-EXIT-CODE
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}

"$EDDY" serve --port 0 --data-dir "$work/data" 2>"$work/server.log" &
server=$!
port=""
for _ in $(seq 1 100); do
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/server.log" | grep -o '[0-9]*$' || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "server did not start"; cat "$work/server.log"; exit 1; }
export EDDY_ENDPOINT="http://127.0.0.1:$port"

"$EDDY" streams create clistream --shards 2 >"$work/out" 2>&1
check "streams create" $?
"$EDDY" streams list >"$work/out" 2>&1 && grep -q "^clistream	ACTIVE	PROVISIONED" "$work/out"
check "streams list shows the stream ACTIVE" $?
"$EDDY" streams describe clistream >"$work/out" 2>&1 && [ "$(grep -c 'shardId-' "$work/out")" -eq 2 ]
check "streams describe lists 2 shards" $?

for i in $(seq 1 300); do echo "{\"store_id\":\"store_$((i % 5))\",\"n\":$i}"; done >"$work/in.ndjson"
"$EDDY" put clistream --key-field store_id <"$work/in.ndjson" >"$work/put.out" 2>"$work/put.err"
check "put 300 records" $?
grep -q '"record_count":300' "$work/put.out"
check "put prints the summary" $?
grep -q 'records/s' "$work/put.err"
check "put shows progress with records/s" $?

"$EDDY" tail clistream --no-follow >"$work/tail1" 2>&1
[ "$(wc -l <"$work/tail1")" -eq 300 ] && [ "$(sort "$work/tail1" | md5sum)" = "$(sort "$work/in.ndjson" | md5sum)" ]
check "tail returns every record once" $?
# Per partition key, order is kept.
grep '"store_3"' "$work/tail1" >"$work/s3.out"; grep '"store_3"' "$work/in.ndjson" >"$work/s3.in"
cmp -s "$work/s3.out" "$work/s3.in"
check "tail keeps order within a partition key" $?

# Split shard 0, write more, and tail must follow the lineage into the children.
aws_body='{"StreamName":"clistream","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"85070591730234615865843651857942052864"}'
curl -sf -X POST "$EDDY_ENDPOINT/" -H 'X-Amz-Target: Kinesis_20131202.SplitShard' \
  -H 'Content-Type: application/x-amz-json-1.1' -d "$aws_body" >/dev/null
check "split shard 0" $?
sleep 0.3
for i in $(seq 301 400); do echo "{\"store_id\":\"store_$((i % 5))\",\"n\":$i}"; done >"$work/in2.ndjson"
"$EDDY" put clistream --key-field store_id <"$work/in2.ndjson" >/dev/null 2>&1
"$EDDY" tail clistream --no-follow >"$work/tail2" 2>&1
[ "$(wc -l <"$work/tail2")" -eq 400 ]
check "tail reads parents then children after a split (400 records)" $?
cat "$work/in.ndjson" "$work/in2.ndjson" | grep '"store_1"' >"$work/s1.in"
grep '"store_1"' "$work/tail2" >"$work/s1.out"
cmp -s "$work/s1.in" "$work/s1.out"
check "order per key survives the split" $?

"$EDDY" tail clistream --count 5 >"$work/tail3" 2>&1 && [ "$(wc -l <"$work/tail3")" -eq 5 ]
check "tail --count stops" $?

# KPL aggregation: put --aggregate packs lines into few Kinesis records; tail shows the lines.
"$EDDY" streams create aggstream --shards 1 >/dev/null 2>&1
"$EDDY" put aggstream --key-field store_id --aggregate 100 <"$work/in.ndjson" >"$work/put.out" 2>/dev/null \
  && grep -q '"record_count":300' "$work/put.out"
check "put --aggregate sends 300 lines" $?
"$EDDY" tail aggstream --no-follow >"$work/tail4" 2>"$work/tail4.err"
[ "$(wc -l <"$work/tail4")" -eq 300 ] && cmp -s "$work/tail4" "$work/in.ndjson"
check "tail de-aggregates: the 300 lines in order" $?
python3 - "$port" <<'PY'
import json, sys, urllib.request
def call(op, body):
    req = urllib.request.Request('http://127.0.0.1:%s/' % sys.argv[1], json.dumps(body).encode(), {
        'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'Kinesis_20131202.' + op})
    return json.load(urllib.request.urlopen(req))
it = call('GetShardIterator', {'StreamName': 'aggstream', 'ShardId': 'shardId-000000000000',
                               'ShardIteratorType': 'TRIM_HORIZON'})['ShardIterator']
records = call('GetRecords', {'ShardIterator': it})['Records']
assert len(records) == 3, len(records)  # 300 lines, 100 per aggregate
# A corrupt aggregate: the magic bytes and a digest that does not match.
import base64
call('PutRecord', {'StreamName': 'aggstream', 'PartitionKey': 'k',
                   'Data': base64.b64encode(b'\xf3\x89\x9a\xc2' + b'\x00' * 20).decode()})
PY
check "put --aggregate: 3 Kinesis records of 100 lines" $?
"$EDDY" tail aggstream --no-follow >"$work/tail5" 2>"$work/tail5.err"
[ "$(wc -l <"$work/tail5")" -eq 300 ] && grep -q "malformed KPL aggregated record: the MD5 digest" "$work/tail5.err"
check "tail reports a corrupt aggregate on stderr and goes on" $?

"$EDDY" streams describe nosuch >"$work/out" 2>&1
rc=$?
[ $rc -ne 0 ] && [ "$(wc -l <"$work/out")" -eq 1 ] && grep -q "^eddy: ResourceNotFoundException: Stream nosuch" "$work/out"
check "unknown stream: one-line error" $?
"$EDDY" tail clistream --from yesterday >"$work/out" 2>&1
[ $? -ne 0 ] && grep -q "^eddy: --from must be" "$work/out"
check "bad --from: says what to give" $?
"$EDDY" streams list --endpoint http://127.0.0.1:1 >"$work/out" 2>&1
[ $? -ne 0 ] && grep -q "is \`eddy serve\` running there" "$work/out"
check "unreachable endpoint: says what to check" $?
"$EDDY" serve --fsync sometimes --data-dir "$work/x" >"$work/out" 2>&1
[ $? -ne 0 ] && grep -q "^eddy: --fsync must be 'always' or 'interval=<milliseconds>'" "$work/out"
check "bad --fsync: one-line error" $?

# The README's boto3 example runs unchanged against eddy.
python3 "$(dirname "$0")/../../../examples/streams/boto3_roundtrip.py" --endpoint "$EDDY_ENDPOINT" --count 25 >"$work/ex.out" 2>&1
grep -q '"record_count": 25' "$work/ex.out"
check "examples/streams/boto3_roundtrip.py" $?

# eddy apps: an application created with boto3, then driven from the CLI.
"$EDDY" streams create appsrc --shards 1 >/dev/null 2>&1
"$EDDY" streams create appout --shards 1 >/dev/null 2>&1
python3 - "$EDDY_ENDPOINT" <<'PY' >"$work/create.out" 2>&1
import sys, boto3
a = boto3.client("kinesisanalytics", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="x", aws_secret_access_key="y")
arn = lambda s: "arn:aws:kinesis:us-east-1:000000000000:stream/" + s
role = "arn:aws:iam::000000000000:role/r"
a.create_application(
    ApplicationName="cliapp",
    ApplicationCode='CREATE OR REPLACE STREAM "OUT" ("n" INTEGER);'
                    'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM 10 / "n" FROM "SOURCE_SQL_STREAM_001";',
    Inputs=[{"NamePrefix": "SOURCE_SQL_STREAM", "KinesisStreamsInput": {"ResourceARN": arn("appsrc"), "RoleARN": role},
             "InputSchema": {"RecordFormat": {"RecordFormatType": "JSON"},
                             "RecordColumns": [{"Name": "n", "Mapping": "$.n", "SqlType": "INTEGER"}]}}],
    Outputs=[{"Name": "OUT", "KinesisStreamsOutput": {"ResourceARN": arn("appout"), "RoleARN": role},
              "DestinationSchema": {"RecordFormatType": "JSON"}}])
PY
check "create an application with boto3" $?
"$EDDY" apps list >"$work/out" 2>&1 && grep -q "^cliapp	READY" "$work/out"
check "apps list" $?
"$EDDY" apps start cliapp --from TRIM_HORIZON >"$work/out" 2>&1 && "$EDDY" apps describe cliapp >"$work/out" 2>&1 && grep -q "RUNNING" "$work/out"
check "apps start / describe" $?
printf '{"n": 5}\n{"n": 0}\n{"n": "x"}\n' | "$EDDY" put appsrc >/dev/null 2>&1
for _ in $(seq 1 50); do
  "$EDDY" apps logs cliapp >"$work/logs" 2>&1
  [ "$(wc -l <"$work/logs")" -ge 2 ] && break
  sleep 0.2
done
grep -q "Division_By_Zero" "$work/logs" && grep -q "Coercion_Error" "$work/logs"
check "apps logs shows error_stream rows (division by zero, bad value)" $?
"$EDDY" tail appout --count 1 >"$work/out" 2>&1 && grep -q '"n":2' "$work/out"
check "the running application writes its output stream" $?
"$EDDY" apps stop cliapp >/dev/null 2>&1 && "$EDDY" apps list 2>&1 | grep -q "^cliapp	READY"
check "apps stop" $?
"$EDDY" apps describe nosuch >"$work/out" 2>&1
[ $? -ne 0 ] && grep -q "^eddy: ResourceNotFoundException" "$work/out"
check "apps describe of an unknown application: one-line error" $?

"$EDDY" streams delete clistream >/dev/null 2>&1
check "streams delete" $?

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
