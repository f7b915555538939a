#!/usr/bin/env bash
# Where utcp's transfers stall on the lossy router path (bench_router.sh's path; issues 16, 17).
#
#   scripts/router_stalls.sh capture UTCP CC OUTDIR   three 32 MiB downloads from `utcp serve --cc CC`
#       with its --pcap and --trace, and tcpdump (headers) on the client's veth; then every gap of
#       more than 100 ms in what utcp's device carried, with the packets around it
#   scripts/router_stalls.sh linux                  three downloads from a Linux server (python3
#       http.server) with reno, then bbr, and the kernel's counters of timeouts, loss probes and
#       recoveries over them (nstat in the server's namespace)
#   scripts/router_stalls.sh ab UTCP_A UTCP_B ROUNDS  interleaved A/B of two builds: each round one
#       download from A and one from B, with --cc cubic and with --cc bbr (the machine's load
#       moves between rounds, not between A and B)
#
# Environment: STALLS_LOSS (per mille, default 30). Needs root, nftables, curl, tcpdump, tshark.
set -euo pipefail
mode=${1:?usage: router_stalls.sh capture UTCP CC OUTDIR | linux | ab UTCP_A UTCP_B ROUNDS}
l=${STALLS_LOSS:-30}

. "$(dirname "$0")/bench_path.sh"
[ "$(id -u)" = 0 ] || skip "not root (namespaces, nftables and a TUN device)"
for c in ip curl nft tcpdump tshark; do command -v $c >/dev/null || skip "$c is missing"; done

bench_path_setup utcp-st
ip netns exec "$R" nft add table inet lossy
ip netns exec "$R" nft add chain inet lossy forward '{ type filter hook forward priority 0; policy accept; }'
mkdir "$tmp/www"
head -c $((32 * 1048576)) /dev/urandom >"$tmp/www/file"
lossy() {  # lossy on|off
  ip netns exec "$R" nft flush chain inet lossy forward
  [ "$1" = off ] || ip netns exec "$R" nft add rule inet lossy forward numgen random mod 1000 '<' "$l" drop
}
fetch() {  # one download; prints MiB/s
  ip netns exec "$C" curl -sS -f -m 120 -o /dev/null -w '%{speed_download}' http://10.81.0.2/file |
    awk '{ printf "%.2f\n", $1 / 1048576 }'
}

case $mode in
capture)
  UTCP=${2:?UTCP}  # bench_serve (bench_path.sh) runs $UTCP
  cc=${3:?CC}
  out=${4:?OUTDIR}
  mkdir -p "$out"
  bench_serve --cc "$cc" --pcap "$tmp/serve.pcap" --trace "$tmp/trace.csv"
  lossy on
  ip netns exec "$C" tcpdump -i vc -s 100 -w "$out/client.pcap" -n tcp port 80 >/dev/null 2>&1 &
  td=$!
  pids+=("$td")
  sleep 1
  for _ in 1 2 3; do echo "download: $(fetch) MiB/s"; done
  sleep 1
  kill -INT "$td"
  wait "$td" || true
  kill -TERM "$utcp_pid"
  wait "$utcp_pid" || true
  cp "$tmp/serve.pcap" "$tmp/trace.csv" "$out/"
  # time, source, stream, relative seq, ack, length, SACK blocks
  tshark -r "$out/serve.pcap" -T fields -e frame.time_relative -e ip.src -e tcp.stream -e tcp.seq -e tcp.ack \
    -e tcp.len -e tcp.options.sack_le -e tcp.options.sack_re 2>/dev/null >"$out/serve.tsv"
  awk -F'\t' 'NR > 1 && $1 - prev > 0.1 { printf "gap of %.0f ms at line %d (%.3f s)\n", ($1 - prev) * 1000, NR, prev }
              { prev = $1 }' "$out/serve.tsv" >"$out/gaps.txt"
  echo "gaps over 100 ms (the first is the pause before the first download): $(wc -l <"$out/gaps.txt")"
  while read -r _ _ _ _ _ _ line _; do
    echo "== line $line"
    sed -n "$((line - 6)),$((line + 1))p" "$out/serve.tsv"
  done < <(tail -n +2 "$out/gaps.txt")
  ;;
linux)
  command -v nstat >/dev/null || skip "nstat is missing"
  for cc in reno bbr; do
    ip netns exec "$S" sysctl -qw net.ipv4.tcp_congestion_control="$cc" || continue
    lossy off
    ip netns exec "$S" python3 -m http.server --bind 10.82.0.1 --directory "$tmp/www" 8080 >/dev/null 2>&1 &
    server=$!
    pids+=("$server")
    bench_wait_up http://10.82.0.1:8080/file
    lossy on
    ip netns exec "$S" nstat -n
    for _ in 1 2 3; do
      ip netns exec "$C" curl -sS -f -m 120 -o /dev/null -w '%{speed_download}' http://10.82.0.1:8080/file |
        awk -v cc="$cc" '{ printf "linux %s: %.2f MiB/s\n", cc, $1 / 1048576 }'
    done
    ip netns exec "$S" nstat | grep -E 'TcpRetransSegs|TCPTimeouts|TCPLossProbes|TCPSackRecovery |TCPDSACKRecv ' || true
    kill -TERM "$server"
    wait "$server" 2>/dev/null || true
  done
  ;;
ab)
  A=${2:?UTCP_A}
  B=${3:?UTCP_B}
  rounds=${4:?ROUNDS}
  for _ in $(seq "$rounds"); do
    for cc in cubic bbr; do
      for which in A B; do
        UTCP=$A  # bench_serve (bench_path.sh) runs $UTCP
        [ "$which" = B ] && UTCP=$B
        lossy off
        bench_serve --cc "$cc"
        lossy on
        echo "$which $cc $(fetch)"
      done
    done
  done
  ;;
*) echo "router_stalls.sh: unknown mode $mode" >&2; exit 2 ;;
esac
