#!/usr/bin/env bash
# The device path (make bench, or alone): utcp serving HTTP from its TUN device against a Linux
# server on the same path, through a Linux router. Needs root; prints RESULT lines.
#
#   C (curl) --veth-- R (router) --veth-- S: utcp serve on TUN ut0 (10.81.0.2), and
#                                           python3's http.server on S's own address (10.82.0.1)
#
# Segmentation offloads are off on every veth (the kernel segments in software, as on a NIC
# without TSO); utcp's TUN device has its offloads (the default) unless BENCH_DEVICE_NO_OFFLOAD=1,
# and --threads 2 its steering program (BENCH_DEVICE_SERVE_OPTS=--no-steer: the kernel's hash).
#   1. one flow: BENCH_DEVICE_MB (default 32) MiB, BENCH_DEVICE_RUNS (default 5) times from
#      each server, alternating; the median rate, and the server's CPU time (user + system
#      from /proc/PID/stat, all its threads) per byte, as cycles at the CPU's nominal clock
#   2. 1, 2 and 16 concurrent downloads of a file from `serve --threads 1` and
#      `--threads 2` (a multi-queue device, one stack per core): aggregate rates, the ratio
#   3. the same concurrent downloads from the Linux server (BENCH_DEVICE_CONCURRENT=0 skips 2 and 3)
#   Steps 2 and 3 download a file of BENCH_DEVICE_MANY_MB MiB (default: BENCH_DEVICE_MB). Starting
#   16 curls in the client namespace takes about 0.2 s of the wall time at load 8 (16 empty
#   downloads: 0.18-0.22 s), a fifth of a 16 x 32 MiB run; larger files dilute it.
# Usage: scripts/bench_device.sh UTCP_BINARY
set -euo pipefail
UTCP=${1:?usage: bench_device.sh UTCP_BINARY}
mb=${BENCH_DEVICE_MB:-32}
runs=${BENCH_DEVICE_RUNS:-5}
bytes=$((mb * 1048576))

. "$(dirname "$0")/bench_path.sh"
bench_path_require ip curl ethtool python3

bench_path_setup utcp-bd

mkdir "$tmp/www"
head -c "$bytes" /dev/urandom >"$tmp/www/file"
want=$(sha256sum "$tmp/www/file" | cut -d' ' -f1)
many_mb=${BENCH_DEVICE_MANY_MB:-$mb}
many_file="file"
if [ "$many_mb" != "$mb" ]; then
  many_file=many
  head -c $((many_mb * 1048576)) /dev/urandom >"$tmp/www/many"
fi
many_want=$(sha256sum "$tmp/www/$many_file" | cut -d' ' -f1)

ip netns exec "$S" python3 -m http.server --bind 10.82.0.1 --directory "$tmp/www" 8080 >/dev/null 2>&1 &
linux_pid=$!
pids+=("$linux_pid")
offload=()
[ "${BENCH_DEVICE_NO_OFFLOAD:-0}" = 1 ] && offload=(--no-offload)
# serve THREADS: (re)starts utcp serve with that many shards.
# BENCH_DEVICE_SERVE_OPTS: more serve options (--no-steer for the kernel's flow hash).
# shellcheck disable=SC2086
serve() { bench_serve --threads "$1" "${offload[@]}" ${BENCH_DEVICE_SERVE_OPTS:-}; }
bench_wait_up http://10.82.0.1:8080/file
serve 1

hz=$(getconf CLK_TCK)
mhz=$(awk -F: '/^cpu MHz/ { print $2 + 0; exit }' /proc/cpuinfo)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# fetch URL: one download, checked; prints its rate in MiB/s.
fetch() {
  local out
  out=$(ip netns exec "$C" curl -sS -f -o "$tmp/got" -w '%{speed_download}' "$1")
  [ "$(sha256sum "$tmp/got" | cut -d' ' -f1)" = "$want" ] || {
    echo "bench_device: $1 arrived corrupted" >&2
    exit 1
  }
  awk -v r="$out" 'BEGIN { printf "%.1f\n", r / 1048576 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "== device path, one flow: $mb MiB over HTTP, $runs runs each, C -> R (router) -> S; offloads off on the veths"
echo "   utcp: serve --threads 1 on TUN${offload[*]:+ ${offload[*]}}; Linux: python3 -m http.server (kernel TCP $(sysctl -n net.ipv4.tcp_congestion_control))"
: >"$tmp/rate.utcp"
: >"$tmp/rate.linux"
u0=$(cpu_ticks "$utcp_pid")
l0=$(cpu_ticks "$linux_pid")
uc=0 lc=0
for _ in $(seq "$runs"); do
  a=$(cpu_ticks "$utcp_pid")
  fetch http://10.81.0.2/file >>"$tmp/rate.utcp"
  uc=$((uc + $(cpu_ticks "$utcp_pid") - a))
  a=$(cpu_ticks "$linux_pid")
  fetch http://10.82.0.1:8080/file >>"$tmp/rate.linux"
  lc=$((lc + $(cpu_ticks "$linux_pid") - a))
done
ur=$(median <"$tmp/rate.utcp")
lr=$(median <"$tmp/rate.linux")
echo "utcp  MiB/s: $(tr '\n' ' ' <"$tmp/rate.utcp")(median $ur)"
echo "Linux MiB/s: $(tr '\n' ' ' <"$tmp/rate.linux")(median $lr)"
echo "RESULT device_utcp_1flow_mibps $ur"
echo "RESULT device_linux_1flow_mibps $lr"
echo "RESULT device_ratio_utcp_linux $(awk -v u="$ur" -v l="$lr" 'BEGIN { printf "%.2f", u / l }')"
# Server CPU per byte: the process's user + system time over all runs (the kernel's work for
# the Linux server's TCP runs partly in softirq context and is charged to whatever ran then).
per_byte() { awk -v t="$1" -v hz="$hz" -v mhz="$mhz" -v b=$((bytes * runs)) 'BEGIN { printf "%.2f", t / hz * mhz * 1e6 / b }'; }
echo "RESULT device_utcp_server_cycles_per_byte $(per_byte "$uc")"
echo "RESULT device_linux_server_cycles_per_byte $(per_byte "$lc")"
echo "(server CPU: utcp $((uc * 1000 / hz)) ms, Linux $((lc * 1000 / hz)) ms for $((mb * runs)) MiB; cycles at ${mhz} MHz)"
echo

# many N URL: N concurrent downloads; prints the aggregate MiB/s.
many() {
  local n=$1 url=$2 t0 t1 i
  local ps=()
  t0=$(date +%s.%N)
  for i in $(seq "$n"); do
    ip netns exec "$C" curl -sS -f -o "$tmp/got$i" "$url" &
    ps+=($!)
  done
  for p in "${ps[@]}"; do wait "$p"; done
  t1=$(date +%s.%N)
  for i in $(seq "$n"); do
    [ "$(sha256sum "$tmp/got$i" | cut -d' ' -f1)" = "$many_want" ] || {
      echo "bench_device: download $i of $n arrived corrupted" >&2
      exit 1
    }
  done
  rm -f "$tmp"/got*
  awk -v n="$n" -v b=$((many_mb * 1048576)) -v a="$t0" -v z="$t1" 'BEGIN { printf "%.1f\n", n * b / (z - a) / 1048576 }'
}

[ "${BENCH_DEVICE_CONCURRENT:-1}" = 0 ] && exit 0
echo "== concurrent downloads of $many_mb MiB each: aggregate MiB/s (median of 3)"
printf '%-28s %8s %8s %8s\n' server 1 2 16
for threads in 1 2; do
  serve "$threads"
  line=()
  for n in 1 2 16; do
    r=$(for _ in 1 2 3; do many "$n" "http://10.81.0.2/$many_file"; done | median)
    echo "RESULT device_utcp_threads${threads}_${n}flows_mibps $r" >>"$tmp/results"
    line+=("$r")
  done
  printf '%-28s %8s %8s %8s\n' "utcp serve --threads $threads" "${line[@]}"
done
line=()
for n in 1 2 16; do
  r=$(for _ in 1 2 3; do many "$n" "http://10.82.0.1:8080/$many_file"; done | median)
  echo "RESULT device_linux_${n}flows_mibps $r" >>"$tmp/results"
  line+=("$r")
done
printf '%-28s %8s %8s %8s\n' "Linux (python3 http.server)" "${line[@]}"
cat "$tmp/results"
v() { awk -v k="$1" '$2 == k { print $3 }' "$tmp/results"; }
echo "RESULT device_threads2_over_threads1_16flows $(awk -v a="$(v device_utcp_threads2_16flows_mibps)" \
  -v b="$(v device_utcp_threads1_16flows_mibps)" 'BEGIN { printf "%.2f", a / b }')"
echo "(the client, the router and both servers share this machine's $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg))"
