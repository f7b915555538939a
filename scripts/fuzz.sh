#!/usr/bin/env bash
# make fuzz: run every fuzzer in the fuzz tree $1 for $2 seconds each, growing a scratch
# corpus seeded from fuzz/corpus/NAME.
set -euo pipefail
b=${1:-build/fuzz} secs=${2:-300}
cd "$(dirname "$0")/.."
for src in fuzz/*.cpp; do
  name=$(basename "$src" .cpp)
  echo "== $name for ${secs}s"
  fuzz/smoke.sh "$b/fuzz/$name" "fuzz/corpus/$name" "$secs"
done
