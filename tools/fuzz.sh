#!/usr/bin/env bash
# Builds the libFuzzer targets of lib/fuzz with clang (ASan + UBSan) and runs each for a bounded
# time from its seed corpus in testdata/fuzz/<target>/. A crash is copied into that folder, where
# //lib/fuzz:regression_test replays it on every `bazel test //...` from then on.
#
#   tools/fuzz.sh [SECONDS_PER_TARGET]     (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
work=$(mktemp -d /tmp/xoi-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

absl_libs=$(pkg-config --libs absl_status absl_statusor absl_strings absl_str_format absl_time \
  absl_flat_hash_set absl_flat_hash_map absl_hash absl_synchronization)
sources=(lib/fuzz/fuzz_targets.cc)
for source in lib/core/*.cc; do
  [[ $source == *_test.cc ]] || sources+=("$source")
done
flags=(-std=c++20 -O1 -g -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)

# The engine once, then one binary per target.
mkdir -p "$work/obj"
objects=()
for source in "${sources[@]}"; do
  object="$work/obj/$(echo "$source" | tr / _).o"
  clang++ "${flags[@]}" -c "$source" -o "$object"
  objects+=("$object")
done

failed=0
for target in config duration glob index_entry marker alias run_metadata clock_record day_file \
    hold_file; do
  echo "== fuzzing ${target} for ${seconds}s"
  clang++ "${flags[@]}" "${objects[@]}" "lib/fuzz/${target}_fuzzer.cc" -o "$work/${target}" \
    $absl_libs -lboost_json -ltomlplusplus -lcrypto -pthread
  mkdir -p "$work/corpus-${target}" "$work/crash-${target}"
  cp -r "testdata/fuzz/${target}/." "$work/corpus-${target}/"
  if ! "$work/${target}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
      -artifact_prefix="$work/crash-${target}/" "$work/corpus-${target}" 2>"$work/${target}.log"; then
    failed=$((failed + 1))
    tail -n 30 "$work/${target}.log"
    for crash in "$work/crash-${target}"/*; do
      [[ -e $crash ]] || continue
      cp "$crash" "testdata/fuzz/${target}/regression-$(basename "$crash")"
      echo "fuzz: ${target} crashed; input saved as testdata/fuzz/${target}/regression-$(basename "$crash")"
    done
  else
    grep -E '^(#[0-9]+|Done)' "$work/${target}.log" | tail -n 1
  fi
done
echo "fuzz: $failed of 9 targets crashed"
exit $((failed > 0))
