#!/usr/bin/env bash
# The lossy router comparison (make bench, or alone; issue 16): a 32 MiB HTTP download through
# a Linux router that drops packets at random in both directions, from utcp serving on its
# TUN device (CUBIC, NewReno, then BBR) and from a Linux server on the same path (kernel TCP set to
# reno, then bbr), at 0, 1 and 3 % loss. Needs root; prints RESULT lines in MiB/s.
#
#   C (curl) --veth-- R (router: nftables `numgen random mod 1000 < N drop` in the forward
#                        chain, so every packet either way is dropped with probability N/1000)
#            --veth-- S: utcp serve on TUN ut1, ut2 ... (10.91.0.2, 10.92.0.2 ...: one per
#                        algorithm), python3's http.server (10.82.0.1, ports 8080, 8081 ...)
#
# The servers run side by side (each utcp algorithm on its own TUN device and subnet, each Linux
# algorithm on its own port) and the downloads are interleaved: run 1 of every server, then
# run 2 ..., so that the machine's load, which moves between runs, moves for all of them alike.
# Each line gives the median, every run's figure and the load average (1 min) at its end.
#
# Environment: BENCH_ROUTER_MB (default 32), BENCH_ROUTER_RUNS (default 1; the median is
# reported), BENCH_ROUTER_LOSS (per mille list, default "0 10 30"), BENCH_ROUTER_CC (utcp's
# algorithms, default "cubic reno bbr"), BENCH_ROUTER_LINUX (Linux's, default "reno bbr"),
# BENCH_ROUTER_SERVE_OPTS (extra options for every utcp server, e.g. "--threads 1"; default none),
# BENCH_ROUTER_SINK (file, the default: curl writes each download to a file and its SHA-256 is
# checked; null: curl writes to /dev/null and the length is checked, so that curl's writes to
# the disk do not time the download).
# Usage: scripts/bench_router.sh UTCP_BINARY
set -euo pipefail
UTCP=${1:?usage: bench_router.sh UTCP_BINARY}
mb=${BENCH_ROUTER_MB:-32}
runs=${BENCH_ROUTER_RUNS:-1}
losses=${BENCH_ROUTER_LOSS:-0 10 30}
utcp_ccs=${BENCH_ROUTER_CC:-cubic reno bbr}
linux_want=${BENCH_ROUTER_LINUX:-reno bbr}
sink=${BENCH_ROUTER_SINK:-file}
case $sink in file | null) ;; *) echo "bench_router: BENCH_ROUTER_SINK is file or null" >&2; exit 2 ;; esac
read -r -a serve_opts <<<"${BENCH_ROUTER_SERVE_OPTS:-}"
bytes=$((mb * 1048576))

. "$(dirname "$0")/bench_path.sh"
echo "== lossy router: $mb MiB over HTTP, C -> R (nftables random drop, both ways) -> S"
[ "$(id -u)" = 0 ] || skip "not root (namespaces, nftables and a TUN device)"
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"
for c in ip curl nft python3; do command -v $c >/dev/null || skip "$c is missing (scripts/deps.sh)"; done

bench_path_setup utcp-br
ip netns exec "$R" nft add table inet lossy
ip netns exec "$R" nft add chain inet lossy forward '{ type filter hook forward priority 0; policy accept; }'

# loss PER_MILLE: replaces the drop rule.
loss() {
  ip netns exec "$R" nft flush chain inet lossy forward
  [ "$1" = 0 ] || ip netns exec "$R" nft add rule inet lossy forward numgen random mod 1000 '<' "$1" drop
}

mkdir "$tmp/www"
head -c "$bytes" /dev/urandom >"$tmp/www/file"
want=$(sha256sum "$tmp/www/file" | cut -d' ' -f1)

# linux_start CC PORT: a Linux server (python3's http.server) on PORT with that congestion
# control (a listener's connections keep the algorithm the namespace had when it was made).
linux_start() {
  ip netns exec "$S" sysctl -qw net.ipv4.tcp_congestion_control="$1"
  ip netns exec "$S" python3 -m http.server --bind 10.82.0.1 --directory "$tmp/www" "$2" >/dev/null 2>&1 &
  pids+=("$!")
  bench_wait_up "http://10.82.0.1:$2/file"
}
# utcp_start CC K: utcp serve --cc CC on TUN ut$K, 10.9$K.0.2:80 (a subnet per server, routed by R).
utcp_start() {
  local net=10.9$2.0
  ip netns exec "$S" "$UTCP" serve --tun "ut$2" --ip $net.2 --kernel-ip $net.1/24 --port 80 --app http \
    --root "$tmp/www" --cc "$1" "${serve_opts[@]}" >"$tmp/serve.log" 2>&1 &
  pids+=("$!")
  ip -n "$R" route add $net.0/24 via 10.82.0.1
  bench_wait_up "http://$net.2/file"
}
# fetch URL: one download, checked; prints its rate in MiB/s (0 when it failed or took more
# than 120 s).
fetch() {
  local out got=$tmp/got
  [ "$sink" = file ] || got=/dev/null
  out=$(ip netns exec "$C" curl -sS -f -m 120 -o "$got" -w '%{speed_download} %{size_download}' "$1" 2>/dev/null) || {
    echo 0
    return
  }
  if [ "$sink" = file ]; then
    [ "$(sha256sum "$tmp/got" | cut -d' ' -f1)" = "$want" ] || {
      echo "bench_router: $1 arrived corrupted" >&2
      exit 1
    }
  elif [ "${out#* }" != "$bytes" ]; then
    echo "bench_router: $1 arrived with ${out#* } bytes, not $bytes" >&2
    exit 1
  fi
  awk -v r="${out%% *}" 'BEGIN { printf "%.2f\n", r / 1048576 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

available=$(ip netns exec "$S" cat /proc/sys/net/ipv4/tcp_available_congestion_control)
names=() urls=()
k=0
for cc in $utcp_ccs; do
  k=$((k + 1))
  utcp_start "$cc" "$k"
  names+=("utcp_$cc") urls+=("http://10.9$k.0.2/file")
done
port=8080
linux_ccs=
for cc in $linux_want; do
  if ! ip netns exec "$S" sysctl -qw net.ipv4.tcp_congestion_control="$cc" 2>/dev/null; then
    echo "note: Linux $cc unavailable here (available: $available)"
    continue
  fi
  linux_start "$cc" "$port"
  names+=("linux_$cc") urls+=("http://10.82.0.1:$port/file")
  linux_ccs="$linux_ccs $cc"
  port=$((port + 1))
done
echo "   utcp serve on TUN (--cc: $utcp_ccs); Linux python3 -m http.server (kernel $(uname -r):$linux_ccs)"
echo "   $runs run(s) per server, interleaved; median (every run) MiB/s, load average at the end"
for l in $losses; do
  loss "$l"
  for k in "${!names[@]}"; do : >"$tmp/rates$k"; done
  for _ in $(seq "$runs"); do
    for k in "${!names[@]}"; do fetch "${urls[$k]}" >>"$tmp/rates$k"; done
  done
  load=$(cut -d' ' -f1 /proc/loadavg)
  for k in "${!names[@]}"; do
    r=$(median <"$tmp/rates$k")
    printf '%-12s loss %4s %%: %8s MiB/s  (%s)  load %s\n' "${names[$k]}" "$(awk -v l="$l" 'BEGIN { print l / 10 }')" "$r" \
      "$(tr '\n' ' ' <"$tmp/rates$k" | sed 's/ $//')" "$load"
    echo "RESULT router_${names[$k]}_loss${l}_mibps $r"
  done
done
