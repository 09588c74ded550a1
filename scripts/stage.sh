#!/usr/bin/env bash
# Runs one stage of `make test` and says how long it took, so that HACKING.md's stage costs can be
# checked on any machine: scripts/stage.sh NAME COMMAND [ARGS...]
name=$1
shift
start=$(date +%s)
"$@"
status=$?
echo "stage $name: $(( $(date +%s) - start )) s (exit $status)"
exit $status
