#!/usr/bin/env bash
# `make demo` as CI runs it: DEMO_SECONDS=60 must exit 0, leave revenue objects in the bucket
# directory, and leave no process running. Runs the demo script on the built binary (make demo
# = make deps + make build + this script), on a free port with its own data directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
: "${EDDY_BIN:?set EDDY_BIN to the eddy binary}"
data="$(mktemp -d /tmp/eddy-demo-test.XXXXXX)"
trap 'rm -rf "$data"' EXIT
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

DEMO_SECONDS=60 EDDY_PORT="$port" DEMO_DATA_DIR="$data" EDDY_BIN="$EDDY_BIN" \
  timeout 600 bash "$root/scripts/demo.sh" > "$data.log" 2>&1 || { cat "$data.log"; echo "FAIL: make demo exited non-zero"; exit 1; }

objects=$(find "$data/bucket/sales-results/sales_revenue" -type f | wc -l)
if [ "$objects" -lt 1 ]; then cat "$data.log"; echo "FAIL: no revenue object in the bucket"; exit 1; fi
first=$(find "$data/bucket/sales-results/sales_revenue" -type f | sort | head -1)
grep -q '"store_id":"store_[1-5]","revenue":' "$first" || { echo "FAIL: $first holds no revenue rows"; cat "$first"; exit 1; }
grep -q '^== dashboard: http://127.0.0.1:'"$port"'/' "$data.log" || { cat "$data.log"; echo "FAIL: no dashboard URL printed"; exit 1; }
grep -q '"store_id": "store_' "$data.log" || { cat "$data.log"; echo "FAIL: no revenue rows printed"; exit 1; }
if pgrep -f -- "$data" > /dev/null; then pgrep -af -- "$data"; echo "FAIL: the demo left processes running"; exit 1; fi
rm -f "$data.log"
echo "demo: ok ($objects object(s))"
