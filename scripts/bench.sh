#!/usr/bin/env bash
# make bench: every figure of docs/PERFORMANCE.md from the release tree $1 (default
# build/release), printed and written to $1/bench-results.txt.
#
#   1. the Google Benchmark programs (bench/bench_*, except bench_e2e)
#   2. bench_e2e: the user's pattern (1 MiB sends, recv of everything queued each round,
#      glibc's malloc as it comes), the same with the sink variants, bulk 1 GiB over one flow and over 1,000 flows,
#      connect + close rate, memory per idle connection at 1,000,000 connections
#   3. Linux loopback TCP, MTU 1500, in a private network namespace, offloads off then on,
#      and the ratios utcp / Linux (root only; skipped with a note otherwise)
#   4. lwIP (Debian's liblwip-dev, bench only: bench/lwip/lwip_bulk.cpp calls its raw API) in
#      the same user pattern, and the ratio utcp / lwIP (skipped with a note when missing)
#   5. the lossy router (scripts/bench_router.sh): 32 MiB over HTTP at 0/1/3 % random loss,
#      utcp cubic and reno against Linux reno and bbr (root only)
#   6. instructions per data segment under valgrind (callgrind): two runs of different sizes,
#      the difference divided by the difference in data segments; for the user pattern, the
#      sink variants (bare, and with timestamps and SACK), the 64 KiB bulk run, and lwIP
#
# Environment: BENCH_BYTES (bulk size, default 1 GiB), BENCH_IDLE (idle connections, default
# 1000000), BENCH_GBENCH=0 skips step 1, BENCH_VALGRIND=0 skips step 4.
set -euo pipefail
b=${1:-build/release}
cd "$(dirname "$0")/.."
bytes=${BENCH_BYTES:-1073741824}
idle=${BENCH_IDLE:-1000000}
results=$b/bench-results.txt
work=$(mktemp -d)
ns=utcp-bench-$$
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
exec > >(tee "$results") 2>&1

# The timed runs get the CPU as far as the machine allows: highest priority, one core, the
# same core for utcp (one thread) and for the kernel (both threads), when we may.
pin=()
if [ "$(id -u)" -eq 0 ]; then pin=(nice -n -20); fi
if command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ]; then pin+=(taskset -c 1); fi

echo "== utcp benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (modified tree)')"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
echo "pinning: ${pin[*]:-none}"
echo

if [ "${BENCH_GBENCH:-1}" != 0 ]; then
  for x in "$b"/bench/bench_*; do
    [ -x "$x" ] || continue
    [ "$(basename "$x")" = bench_e2e ] && continue
    echo "== $(basename "$x")"
    "$x" --benchmark_counters_tabular=true
    echo
  done
fi

echo "== bench_e2e (one thread, two stacks in memory; CPU time is what counts under load)"
"${pin[@]}" "$b/bench/bench_e2e" --bytes "$bytes" --idle "$idle" | tee "$work/e2e"
echo

val() { cat "$work"/e2e "$work"/linux_* "$work"/lwip "$work"/ir* 2>/dev/null | awk -v k="$1" '$1 == "RESULT" && $2 == k { v = $3 } END { print v }'; }

echo "== lwIP $(pkg-config --modversion lwip 2>/dev/null || echo '?') (Debian's liblwip), the user pattern, same size"
lwip_ok=0
if ! pkg-config --exists lwip 2>/dev/null || [ ! -f "$(pkg-config --variable=includedir lwip)/lwip/tcp.h" ]; then
  echo "skipped: liblwip-dev missing (scripts/deps.sh installs it)"
else
  # shellcheck disable=SC2046
  c++ -std=c++23 -O2 -Wall -Wextra -Werror $(pkg-config --cflags lwip) bench/lwip/lwip_bulk.cpp \
    -o "$work/lwip_bulk" $(pkg-config --libs lwip)
  "${pin[@]}" "$work/lwip_bulk" "$bytes" | tee "$work/lwip"
  lwip_ok=1
fi
echo

echo "== Linux loopback TCP, MTU 1500, timestamps off (1460-byte segments), same size"
linux_ok=0
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: not root (a private network namespace needs CAP_SYS_ADMIN)"
elif ! command -v ethtool >/dev/null; then
  echo "skipped: ethtool missing (scripts/deps.sh installs it)"
elif ! ip netns add "$ns" 2>/dev/null; then
  echo "skipped: cannot create a network namespace here"
else
  c++ -std=c++23 -O2 -Wall -Wextra -Wpedantic -Werror -pthread bench/linux/loopback_bulk.cpp \
    -o "$work/loopback_bulk"
  ip netns exec "$ns" ip link set lo mtu 1500 up
  ip netns exec "$ns" sysctl -qw net.ipv4.tcp_timestamps=0
  for mode in off on; do
    ip netns exec "$ns" ethtool -K lo gso "$mode" gro "$mode" tso "$mode" 2>/dev/null ||
      echo "note: ethtool -K lo ... $mode refused"
    "${pin[@]}" ip netns exec "$ns" "$work/loopback_bulk" "$bytes" 5001 |
      sed "s/linux_/linux_offload_${mode}_/" | tee "$work/linux_$mode"
  done
  ip netns del "$ns"
  linux_ok=1
fi
echo

scripts/bench_device.sh "$b/apps/utcp" && echo  # the TUN device path against Linux (docs/PERFORMANCE.md)
scripts/bench_router.sh "$b/apps/utcp" && echo  # the lossy router: utcp cubic, reno, bbr against Linux reno and bbr (issues 16, 17)

# Instructions per data segment: callgrind over two runs ($2 and $3 bytes) of command $4...,
# whose data-segment count is the RESULT named $1; the difference over the difference.
per_segment() {
  local key=$1 small=$2 large=$3
  shift 3
  for n in "$small" "$large"; do
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.$key.$n" "$@" "$n" >"$work/cgrun.$key.$n" 2>"$work/cgerr.$key.$n"
    awk '/^(summary|totals):/ { print $2; exit }' "$work/cg.$key.$n" >"$work/ir.$key.$n"
    awk -v k="$key" '$1 == "RESULT" && $2 == k { print $3 }' "$work/cgrun.$key.$n" >"$work/seg.$key.$n"
  done
  awk -v a="$(cat "$work/ir.$key.$small")" -v b="$(cat "$work/ir.$key.$large")" \
    -v sa="$(cat "$work/seg.$key.$small")" -v sb="$(cat "$work/seg.$key.$large")" \
    'BEGIN { printf "%.0f", (b - a) / (sb - sa) }'
}

if [ "${BENCH_VALGRIND:-1}" != 0 ] && command -v valgrind >/dev/null; then
  echo "== instructions per data segment (valgrind --tool=callgrind, 4 MiB and 12 MiB runs)"
  ipseg=$(per_segment user_bulk_data_segments 4M 12M "$b/bench/bench_e2e" --only user --bytes)
  echo "RESULT instructions_per_segment_user $ipseg" | tee "$work/ir_user"
  ipseg=$(per_segment user_sink_data_segments 4M 12M "$b/bench/bench_e2e" --only sink --bytes)
  echo "RESULT instructions_per_segment_sink $ipseg" | tee "$work/ir_sink"
  # The same with timestamps and SACK on both sides, as the host layer runs.
  ipseg=$(per_segment user_sink_data_segments 4M 12M "$b/bench/bench_e2e" --only sink --tcp-options on --bytes)
  echo "RESULT instructions_per_segment_sink_options $ipseg" | tee "$work/ir_sink_options"
  ipseg=$(per_segment bulk_1flow_data_segments 4M 12M "$b/bench/bench_e2e" --only bulk --bytes)
  echo "RESULT instructions_per_segment $ipseg" | tee "$work/ir"
  if [ "$lwip_ok" = 1 ]; then
    ipseg=$(per_segment lwip_data_segments 4194304 12582912 "$work/lwip_bulk")
    echo "RESULT instructions_per_segment_lwip $ipseg" | tee "$work/ir_lwip"
  fi
  echo "(both endpoints, the in-memory wire and the byte check included)"
  echo
fi

echo "== summary (DESIGN.md budget; CPU-time figures)"
row() { printf '%-46s %16s   %s\n' "$1" "$2" "$3"; }
row figure value "budget / comparison"
row "user pattern, 1 flow (Gbit/s, CPU time)" "$(val user_bulk_gbps_cpu)" ">= Linux loopback offloads off, >= 1.3x lwIP"
row "user pattern, 1 flow (Gbit/s, wall, pinned)" "$(val user_bulk_gbps_wall)" ""
row "user pattern, allocations per data segment" "$(val user_bulk_allocs_per_segment)" "0 beyond the caller's containers"
row "user pattern, instructions per data segment" "$(val instructions_per_segment_user)" "<= 3,000"
row "  with the sink variants (Gbit/s, CPU time)" "$(val user_sink_gbps_cpu)" ""
row "  with the sink variants, allocations per seg." "$(val user_sink_allocs_per_segment)" "0 (the stacks' own)"
row "  with the sink variants, instructions per seg." "$(val instructions_per_segment_sink)" "<= 3,000"
row "  the same, timestamps and SACK on" "$(val instructions_per_segment_sink_options)" "<= 3,000"
row "bulk 1 flow, 64 KiB sends (Gbit/s, CPU time)" "$(val bulk_1flow_gbps_cpu)" ">= Linux loopback, offloads off"
row "bulk 1 flow (Gbit/s, wall, pinned)" "$(val bulk_1flow_gbps_wall)" ""
row "bulk 1,000 flows (Gbit/s, CPU time)" "$(val bulk_flows_gbps_cpu)" ""
row "instructions per data segment, 64 KiB sends" "$(val instructions_per_segment)" "< 3,000 (uTCP: ~34,000)"
row "connect + close per CPU second" "$(val connect_close_per_s_cpu)" ">= 500,000 (uTCP: ~68,000)"
row "  with the sink variants" "$(val connect_close_sink_per_s_cpu)" ">= 500,000"
row "bytes per idle connection per stack (RSS)" "$(val idle_rss_per_conn_per_stack)" "<= 260 (lwIP's tcp_pcb + malloc)"
if [ "$lwip_ok" = 1 ]; then
  row "lwIP, user pattern (Gbit/s, CPU time)" "$(val lwip_gbps_cpu)" ""
  row "  ratio utcp / lwIP (CPU time)" "$(awk -v u="$(val user_bulk_gbps_cpu)" -v l="$(val lwip_gbps_cpu)" \
    'BEGIN { printf "%.2f", u / l }')" ">= 1.3"
  row "lwIP instructions per data segment" "$(val instructions_per_segment_lwip)" ""
  row "lwIP sizeof(struct tcp_pcb)" "$(val lwip_tcp_pcb_bytes)" ""
fi
if [ "$linux_ok" = 1 ]; then
  for mode in off on; do
    for t in cpu wall; do
      u=$(val user_bulk_gbps_$t)
      l=$(val linux_offload_${mode}_gbps_$t)
      row "Linux loopback, offloads $mode (Gbit/s, $t)" "$l" ""
      row "  ratio utcp / Linux, offloads $mode ($t)" "$(awk -v u="$u" -v l="$l" 'BEGIN { printf "%.2f", u / l }')" \
        "$([ "$mode" = off ] && echo '>= 1' || echo '')"
    done
  done
fi
echo "results: $results"
