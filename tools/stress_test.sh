#!/bin/bash
# The stress run (tools/stress.cc), 5 seconds on each filesystem remotes really live on. Each run
# makes its loop filesystem and releases it, also on failure; a failure names the filesystem.
set -u
stress="$1"
if [[ $(id -u) -ne 0 ]]; then
  if [[ -n "${CI:-}" ]]; then echo "CI must run this test as root" >&2; exit 1; fi
  echo "skipped: needs root (CAP_LINUX_IMMUTABLE, loop devices)"
  exit 0
fi
failed=()
for fs in ext4 xfs btrfs; do
  "$stress" --seconds 5 --fs "$fs" || failed+=("$fs")
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "stress_test: FAILED on: ${failed[*]}" >&2
  exit 1
fi
echo "stress_test: PASS on ext4, xfs, btrfs"
