#!/usr/bin/env bash
# make demo: the main job. Runs the best thing the tree can run so far.
set -euo pipefail
cd "$(dirname "$0")/.."
b=build/ci
if [ -x $b/apps/utcp ] && [ -x scripts/demo-tun.sh ]; then
  exec scripts/demo-tun.sh "$b/apps/utcp"
elif [ -x $b/apps/utcp ]; then
  exec $b/apps/utcp sim --bytes 16777216 --loss 1 --seed 1
elif [ -x $b/examples/two_stacks ]; then
  exec $b/examples/two_stacks
else
  echo "demo: nothing runnable was built yet" >&2
  exit 1
fi
