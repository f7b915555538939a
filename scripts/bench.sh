#!/usr/bin/env bash
# make bench: every benchmark in the release tree $1.
set -euo pipefail
b=${1:-build/release}
cd "$(dirname "$0")/.."
for x in "$b"/bench/bench_*; do
  [ -x "$x" ] || continue
  echo "== $(basename "$x")"
  "$x" --benchmark_counters_tabular=true
done
