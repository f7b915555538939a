#!/usr/bin/env bash
# BBR against CUBIC in the simulator (docs/SIMULATION.md, "BBR"): one flow over a 10 Mbit/s
# path with 10 ms each way (RTT 20 ms, BDP 25 kB = 17 packets) and a drop-tail queue of 1 BDP
# (17 packets) or 10 BDP (170), uniform loss both ways; then two flows sharing that
# bottleneck (bbr,bbr and bbr,cubic). Both sides SACK and timestamps, 1 MiB buffers. One
# `utcp sim` run per cell and seed, in virtual time (the figures depend only on the code).
#
# Environment: SIM_BBR_BYTES (default 8388608), SIM_BBR_SEEDS (default "1 2 3"), SIM_BBR_LOSS
# (default "0 1 2 3 5"), SIM_BBR_QUEUES (default "17 170").
# Usage: scripts/sim_bbr.sh UTCP_BINARY
set -euo pipefail
UTCP=${1:?usage: sim_bbr.sh UTCP_BINARY}
bytes=${SIM_BBR_BYTES:-8388608}
seeds=${SIM_BBR_SEEDS:-1 2 3}
losses=${SIM_BBR_LOSS:-0 1 2 3 5}
queues=${SIM_BBR_QUEUES:-17 170}
common=(--rate 10 --delay 10 --buffer 1048576 --sack --timestamps --interval 0)

echo "# one flow: utcp sim --bytes $bytes ${common[*]} --queue Q --loss L --cc CC --seed S"
summary=()
for q in $queues; do
  for l in $losses; do
    for cc in bbr cubic; do
      rows=()
      for s in $seeds; do
        out=$("$UTCP" sim --bytes "$bytes" "${common[@]}" --queue "$q" --loss "$l" --cc "$cc" --seed "$s") || {
          echo "sim_bbr: run failed: --queue $q --loss $l --cc $cc --seed $s" >&2
          exit 1
        }
        r=$(awk '/^goodput:/ { print $2; exit }' <<<"$out")
        mq=$(awk '/link client->server/ { print $NF; exit }' <<<"$out")
        rto=$(awk '/^  client:/ { for (i = 1; i <= NF; i++) if ($i == "events") { sub(";", "", $(i + 1)); print $(i + 1) } }' <<<"$out")
        echo "run queue $q loss $l $cc seed $s: $r Mbit/s, mean queue $mq, client RTO events $rto"
        rows+=("$r $mq")
      done
      summary+=("$(printf '%s\n' "${rows[@]}" | awk -v q="$q" -v l="$l" -v n="$cc" \
        '{ s += $1; m += $2; if (NR == 1 || $1 < lo) lo = $1; if (NR == 1 || $1 > hi) hi = $1 }
         END { printf "%5s %3s%%  %-6s goodput %6.2f (%.2f-%.2f)  mean queue %6.1f", q, l, n, s / NR, lo, hi, m / NR }')")
    done
  done
done
echo "# queue loss  cc     goodput Mbit/s, mean and range over seeds $seeds; mean queue (packets)"
printf '%s\n' "${summary[@]}"

echo "# two flows: utcp sim --flows A,B --bytes $bytes ${common[*]} --queue Q --loss L --seed S"
for q in $queues; do
  for l in 0 3; do
    for pair in bbr,bbr bbr,cubic cubic,cubic; do
      for s in $seeds; do
        out=$("$UTCP" sim --flows "$pair" --bytes "$bytes" "${common[@]}" --queue "$q" --loss "$l" --seed "$s") || {
          echo "sim_bbr: run failed: --flows $pair --queue $q --loss $l --seed $s" >&2
          exit 1
        }
        f1=$(awk '/^  flow 1/ { print $4; exit }' <<<"$out")
        f2=$(awk '/^  flow 2/ { print $4; exit }' <<<"$out")
        ratio=$(awk '/^share:/ { print $NF; exit }' <<<"$out")
        mq=$(awk '/link client->server/ { print $NF; exit }' <<<"$out")
        printf '%5s %3s%%  %-11s seed %s: %6s + %6s Mbit/s, smallest/largest %s, mean queue %s\n' \
          "$q" "$l" "$pair" "$s" "$f1" "$f2" "$ratio" "$mq"
      done
    done
  done
done
