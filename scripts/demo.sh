#!/usr/bin/env bash
# `make demo`: the sales pipeline end to end (scripts/demo.py says what it does). Leaves nothing
# running.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/demo.py
