#!/usr/bin/env bash
# The simulator's goodput on a fast, short path (docs/SIMULATION.md, "A fast path"): the three
# loss-recovery variants of issue 16 at 0, 1, 3 and 5 % uniform loss (both ways), one
# `utcp sim` run per cell and seed, in virtual time (the figures depend only on the code, not
# on the machine). Prints each run and, per cell, the mean and the range over the seeds.
#
# Environment: SIM_FAST_BYTES (default 33554432, the router bench's 32 MiB), SIM_FAST_SEEDS
# (default "1 2 3 4 5"), SIM_FAST_LOSS (default "0 1 3 5"), SIM_FAST_BUFFERS (default
# "262144 1048576"), SIM_FAST_PATH (default "--delay 0.5 --rate 1000 --queue 100"), SIM_FAST_BBR
# (1: a fourth variant, BBR with SACK and timestamps, issue 17).
# Usage: scripts/sim_fast_path.sh UTCP_BINARY
set -euo pipefail
UTCP=${1:?usage: sim_fast_path.sh UTCP_BINARY}
bytes=${SIM_FAST_BYTES:-33554432}
seeds=${SIM_FAST_SEEDS:-1 2 3 4 5}
losses=${SIM_FAST_LOSS:-0 1 3 5}
buffers=${SIM_FAST_BUFFERS:-262144 1048576}
read -r -a path <<<"${SIM_FAST_PATH:---delay 0.5 --rate 1000 --queue 100}"

variants=("reno|--cc reno" "reno+sack|--cc reno --sack --timestamps" "cubic+sack|--cc cubic --sack --timestamps")
[ "${SIM_FAST_BBR:-0}" = 1 ] && variants+=("bbr+sack|--cc bbr --sack --timestamps")
echo "# utcp sim --bytes $bytes ${path[*]} --loss L --buffer B --seed S (+ variant options); goodput Mbit/s"
summary=()
for buf in $buffers; do
  for l in $losses; do
    for v in "${variants[@]}"; do
      name=${v%%|*}
      read -r -a opts <<<"${v#*|}"
      rates=()
      for s in $seeds; do
        out=$("$UTCP" sim --bytes "$bytes" "${path[@]}" --loss "$l" --buffer "$buf" --seed "$s" --interval 0 "${opts[@]}") ||
          {
            echo "sim_fast_path: run failed: --loss $l --buffer $buf --seed $s ${opts[*]}" >&2
            exit 1
          }
        r=$(awk '/^goodput:/ { print $2; exit }' <<<"$out")
        rto=$(awk '/^  client:/ { for (i = 1; i <= NF; i++) if ($i == "events") { sub(";", "", $(i + 1)); print $(i + 1) } }' <<<"$out")
        echo "run buffer $buf loss $l $name seed $s: $r Mbit/s, client RTO events $rto"
        rates+=("$r")
      done
      summary+=("$(printf '%s\n' "${rates[@]}" | awk -v b="$buf" -v l="$l" -v n="$name" \
        '{ s += $1; if (NR == 1 || $1 < lo) lo = $1; if (NR == 1 || $1 > hi) hi = $1 }
         END { printf "%-8s %3s%%  %-11s mean %8.2f  (%.2f-%.2f)", b, l, n, s / NR, lo, hi }')")
    done
  done
done
echo "# buffer   loss variant     goodput Mbit/s over seeds: $seeds"
printf '%s\n' "${summary[@]}"
