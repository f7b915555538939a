#!/usr/bin/env bash
# The lossy router comparison (make bench, or alone; issue 16): a 32 MiB HTTP download through
# a Linux router that drops packets at random in both directions, from utcp serving on its
# TUN device (CUBIC, NewReno, then BBR) and from a Linux server on the same path (kernel TCP set to
# reno, then bbr), at 0, 1 and 3 % loss. Needs root; prints RESULT lines in MiB/s.
#
#   C (curl) --veth-- R (router: nftables `numgen random mod 1000 < N drop` in the forward
#                        chain, so every packet either way is dropped with probability N/1000)
#            --veth-- S: utcp serve on TUN ut0 (10.81.0.2), python3's http.server (10.82.0.1)
#
# Environment: BENCH_ROUTER_MB (default 32), BENCH_ROUTER_RUNS (default 1; the median is
# reported), BENCH_ROUTER_LOSS (per mille list, default "0 10 30").
# Usage: scripts/bench_router.sh UTCP_BINARY
set -euo pipefail
UTCP=${1:?usage: bench_router.sh UTCP_BINARY}
mb=${BENCH_ROUTER_MB:-32}
runs=${BENCH_ROUTER_RUNS:-1}
losses=${BENCH_ROUTER_LOSS:-0 10 30}
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

linux_pid=
# linux CC: (re)starts the Linux server with that congestion control (a listener's
# connections keep the algorithm the namespace had when the listener was made).
linux() {
  if [ -n "$linux_pid" ]; then
    kill -TERM "$linux_pid"
    wait "$linux_pid" 2>/dev/null || true
  fi
  ip netns exec "$S" sysctl -qw net.ipv4.tcp_congestion_control="$1"
  ip netns exec "$S" python3 -m http.server --bind 10.82.0.1 --directory "$tmp/www" 8080 >/dev/null 2>&1 &
  linux_pid=$!
  pids+=("$linux_pid")
  bench_wait_up http://10.82.0.1:8080/file
}
# serve CC: (re)starts utcp serve with that congestion control.
serve() { bench_serve --cc "$1"; }
# fetch URL: one download, checked; prints its rate in MiB/s (0 when it failed or took more
# than 120 s).
fetch() {
  local out
  out=$(ip netns exec "$C" curl -sS -f -m 120 -o "$tmp/got" -w '%{speed_download}' "$1" 2>/dev/null) || {
    echo 0
    return
  }
  [ "$(sha256sum "$tmp/got" | cut -d' ' -f1)" = "$want" ] || {
    echo "bench_router: $1 arrived corrupted" >&2
    exit 1
  }
  awk -v r="$out" 'BEGIN { printf "%.2f\n", r / 1048576 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
measure() {  # measure NAME URL LOSS: RESULT line, median over the runs
  local name=$1 url=$2 l=$3 r
  : >"$tmp/rates"
  for _ in $(seq "$runs"); do fetch "$url" >>"$tmp/rates"; done
  r=$(median <"$tmp/rates")
  printf '%-12s loss %4s %%: %8s MiB/s  (%s)\n' "$name" "$(awk -v l="$l" 'BEGIN { print l / 10 }')" "$r" \
    "$(tr '\n' ' ' <"$tmp/rates" | sed 's/ $//')"
  echo "RESULT router_${name}_loss${l}_mibps $r"
}

available=$(ip netns exec "$S" cat /proc/sys/net/ipv4/tcp_available_congestion_control)
linux_ccs="reno"
if ip netns exec "$S" sysctl -qw net.ipv4.tcp_congestion_control=bbr 2>/dev/null; then
  linux_ccs="reno bbr"
else
  echo "note: Linux bbr unavailable here (available: $available); Linux reno only"
fi
echo "   utcp serve on TUN (--cc cubic, --cc reno, --cc bbr); Linux python3 -m http.server (kernel $(uname -r): $linux_ccs)"
for l in $losses; do
  loss "$l"
  for cc in cubic reno bbr; do
    serve "$cc"
    measure "utcp_$cc" http://10.81.0.2/file "$l"
  done
  for cc in $linux_ccs; do
    linux "$cc"
    measure "linux_$cc" http://10.82.0.1:8080/file "$l"
  done
done
