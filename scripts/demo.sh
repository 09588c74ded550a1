#!/usr/bin/env bash
# The demo: start eddy on 127.0.0.1:4567 with data in ./eddy-data, write sales events to a
# stream, read them back, run the sales pipeline (scripts/demo_pipeline.py: application ->
# delivery stream -> bucket directory) until the first window's rows land, and stop.
# Leaves nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."
EDDY=${EDDY_BIN:-build/release/eddy}
PORT=${EDDY_PORT:-4567}
export EDDY_ENDPOINT="http://127.0.0.1:${PORT}"

"$EDDY" serve --port "$PORT" --data-dir ./eddy-data 2> >(sed 's/^/[server] /' >&2) &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "$EDDY_ENDPOINT/health" >/dev/null && break
  sleep 0.1
done

echo "== eddy is serving the Kinesis API on $EDDY_ENDPOINT"
"$EDDY" streams create sales --shards 2 2>/dev/null || echo "(stream sales already exists)"
"$EDDY" streams describe sales

echo "== putting 20 sales events (partition key: store_id)"
for i in $(seq 1 20); do
  printf '{"category":"%s","store_id":"store_%d","evnt_time":"%s","sales":%d.%02d}\n' \
    "$([ $((i % 2)) -eq 0 ] && echo Books || echo Electronics)" $((i % 5 + 1)) \
    "$(date -u +%Y-%m-%dT%H:%M:%S.%6N)" $((RANDOM % 100)) $((RANDOM % 100))
done | "$EDDY" put sales --key-field store_id

echo "== reading the stream back from TRIM_HORIZON (last 20 records)"
"$EDDY" tail sales --from trim-horizon --no-follow | tail -n 20

echo "== the sales pipeline: stream -> SQL application -> delivery stream -> bucket directory"
EDDY_DATA_DIR=./eddy-data python3 scripts/demo_pipeline.py

cat <<EOT
== the same with the AWS CLI:
   aws --endpoint-url $EDDY_ENDPOINT kinesis list-streams
   aws --endpoint-url $EDDY_ENDPOINT kinesis get-shard-iterator --stream-name sales \\
       --shard-id shardId-000000000000 --shard-iterator-type TRIM_HORIZON
   aws --endpoint-url $EDDY_ENDPOINT kinesisanalytics describe-application --application-name sales-revenue
   aws --endpoint-url $EDDY_ENDPOINT firehose describe-delivery-stream --delivery-stream-name sales-revenue
EOT
if [ -n "${DEMO_SECONDS:-}" ]; then sleep "$DEMO_SECONDS"; fi
echo "== stopping eddy (data stays in ./eddy-data)"
