#!/usr/bin/env bash
# Fails when the transitive dependencies of //lib/core or //lib/report (a genquery's output, one
# label a line) include anything of //lib/fs or //lib/run: the pure stages must stay pure.
set -euo pipefail
deps=$1
[[ -s $deps ]] || { echo "empty dependency list: $deps"; exit 1; }
grep -q '^//lib/core:core$' "$deps" || { echo "//lib/core:core missing from the query"; exit 1; }
if bad=$(grep -E '^//lib/(fs|run)[:/]' "$deps"); then
  echo "lib/core or lib/report depends on:"
  echo "$bad"
  exit 1
fi
echo "lib/core and lib/report depend on $(wc -l <"$deps") targets, none in lib/fs or lib/run"
