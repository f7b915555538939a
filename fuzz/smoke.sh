#!/usr/bin/env bash
# fuzz/smoke.sh FUZZER CORPUS SECONDS: run a fuzzer briefly over its seed corpus (copied, so
# the tree's corpus is not changed), failing on any crash, leak or sanitizer report.
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=${3:-15}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
[ -d "$corpus" ] && cp -r "$corpus/." "$work/corpus/" 2>/dev/null || true
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
          -artifact_prefix="$work/" "$work/corpus" 2>&1 | tail -n 15
