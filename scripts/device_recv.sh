#!/usr/bin/env bash
# The device path the other way round: utcp receiving. Debian's iperf3 client in C sends to
# `utcp serve --app iperf3` on its TUN device in S, through the Linux router of bench_path.sh
# (C -> R -> S, offloads off on the veths), for SECONDS; prints the rate iperf3 reports as
# received and the server's CPU time (user + system of the process, all threads, from
# /proc/PID/stat) per byte, as cycles at the CPU's nominal clock. Extra serve options:
# SERVE_OPTS (--no-offload, --threads N ...).
# Usage: scripts/device_recv.sh UTCP_BINARY [SECONDS [STREAMS]]
set -euo pipefail
UTCP=${1:?usage: device_recv.sh UTCP_BINARY [SECONDS [STREAMS]]}
secs=${2:-5}
streams=${3:-1}

. "$(dirname "$0")/bench_path.sh"
bench_path_require ip ethtool iperf3

bench_path_setup utcp-dr
# shellcheck disable=SC2086
ip netns exec "$S" "$UTCP" serve --tun ut0 --ip 10.81.0.2 --kernel-ip 10.81.0.1/24 --port 5201 --app iperf3 \
  --threads 1 ${SERVE_OPTS:-} >"$tmp/serve.log" 2>&1 &
utcp_pid=$!
pids+=("$utcp_pid")
for _ in $(seq 100); do
  ip netns exec "$C" bash -c 'exec 3<>/dev/tcp/10.81.0.2/5201' 2>/dev/null && break
  sleep 0.1
done

hz=$(getconf CLK_TCK)
mhz=$(awk -F: '/^cpu MHz/ { print $2 + 0; exit }' /proc/cpuinfo)
ticks() { awk '{ print $14 + $15 }' "/proc/$utcp_pid/stat"; }
load=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(ticks)
ip netns exec "$C" iperf3 -c 10.81.0.2 -p 5201 -t "$secs" -P "$streams" -J >"$tmp/out.json"
t1=$(ticks)
read -r bps bytes < <(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["end"]["sum_received"]
print(r["bits_per_second"], r["bytes"])' "$tmp/out.json")
echo "== $streams stream(s) for $secs s into utcp serve${SERVE_OPTS:+ $SERVE_OPTS} ($(basename "$UTCP"))"
echo "RESULT device_recv_mibps $(awk -v b="$bps" 'BEGIN { printf "%.1f", b / 8 / 1048576 }')"
echo "RESULT device_recv_server_cycles_per_byte $(awk -v t=$((t1 - t0)) -v hz="$hz" -v mhz="$mhz" -v b="$bytes" 'BEGIN { printf "%.2f", t / hz * mhz * 1e6 / b }')"
echo "(server CPU $(((t1 - t0) * 1000 / hz)) ms for $((bytes / 1048576)) MiB; cycles at ${mhz} MHz; load before: $load)"
