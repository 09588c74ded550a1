#!/usr/bin/env bash
# A fuzzing campaign for one of the small targets, built with clang's libFuzzer, ASan and UBSan
# from only the sources it needs (a minute to build, instead of the whole library):
#   fuzz/campaign.sh record_json|delivery_prefix|sigv4|record_mapping [RUNS]   (default 10000000)
# Prints libFuzzer's final figures; a finding is written to fuzz/findings/<target>/ — add it to
# fuzz/corpus/<target>/ once fixed, so the replay keeps it. Needs Debian's clang and
# libclang-rt-14-dev. The other targets need the whole library: see fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?"which target? record_json, delivery_prefix, sigv4 or record_mapping"}
runs=${2:-10000000}
case "$target" in
  record_json) sources=(src/common/json_limits.cc); libs=() ;;
  delivery_prefix) sources=(src/delivery/prefix.cc src/common/path_names.cc src/common/file_util.cc src/common/error.cc)
                   libs=(-lsimdjson) ;;
  sigv4) sources=(src/aws/sigv4.cc src/common/digest.cc src/common/time_format.cc src/common/error.cc)
         libs=(-lcrypto -lz) ;;
  record_mapping) sources=(src/runtime/input_schema.cc src/runtime/flat_ondemand.cc src/runtime/cast.cc src/runtime/value.cc src/runtime/expr.cc src/runtime/types.cc
                           src/common/time_format.cc src/common/error.cc src/common/uint128.cc)
                  libs=(-lsimdjson) ;;
  *) echo "campaign.sh: unknown target '$target' (record_json, delivery_prefix, sigv4, record_mapping)" >&2; exit 2 ;;
esac
out=build/fuzz-campaign
mkdir -p "$out/corpus-$target" "fuzz/findings/$target"
echo "campaign: building $target with clang (libFuzzer, ASan, UBSan)"
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -Isrc "fuzz/${target}_fuzz.cc" "${sources[@]}" \
  "${libs[@]}" -o "$out/$target"
cp -n fuzz/corpus/"$target"/* "$out/corpus-$target/" 2>/dev/null || true
echo "campaign: $runs runs of $target (progress below; the figures at the end)"
"$out/$target" -runs="$runs" -max_len=4096 -print_final_stats=1 -artifact_prefix="fuzz/findings/$target/" \
  "$out/corpus-$target" 2>&1 | awk '/^#[0-9]+/ && (++n % 200 == 0) {print; fflush()} !/^#[0-9]+/ {print}'
