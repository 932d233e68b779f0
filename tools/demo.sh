#!/usr/bin/env bash
# Runs xo-immutable, as a dry run, on the demo XO remote shipped in testdata/demo-remote: it prints
# what it would lock, lift or leave alone, and why. Nothing in the checkout is touched: the remote
# is copied to a scratch folder first, and a dry run writes nothing anyway.
#
#   tools/demo.sh            dry run (the default)
#   tools/demo.sh --for-real protect the scratch copy for real, show the flags, then lift them
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
bazel build -c opt //reconciler:xo-immutable >/dev/null 2>&1 || bazel build -c opt //reconciler:xo-immutable
bin=$(bazel info -c opt bazel-bin 2>/dev/null)/reconciler/xo-immutable

scratch=$(mktemp -d /tmp/xo-immutable-demo.XXXXXX)
cleanup() { chattr -R -i "$scratch" 2>/dev/null || true; rm -rf "$scratch"; }
trap cleanup EXIT
cp -a testdata/demo-remote "$scratch/remote"

# settle 0s: the copy was just written, and the demo should not have to wait 10 seconds.
cat >"$scratch/config.json" <<JSON
{
  "indexPath": "$scratch/index",
  "remotes": {
    "demo": { "root": "$scratch/remote", "immutabilityDuration": "14d", "settle": "0s" }
  }
}
JSON

echo "== xo-immutable run --dry-run on a copy of testdata/demo-remote ($scratch/remote)"
"$bin" run --config "$scratch/config.json" --dry-run
if [[ $mode == --for-real ]]; then
  echo "== for real"
  "$bin" run --config "$scratch/config.json"
  echo "== immutable inodes now (lsattr):"
  (cd "$scratch/remote" && find . \( -type f -o -type d \) -print0 | xargs -0 lsattr -d | grep -E '^-*i' || true)
  echo "== second run: nothing left to do"
  "$bin" run --config "$scratch/config.json"
fi
