#!/usr/bin/env bash
# Interleaved A/B of utcp builds against Linux bbr on the lossy router path (bench_router.sh's
# path; issue 17): one `utcp serve --cc bbr` per build, each on its own TUN device and subnet,
# and python3's http.server with the kernel's bbr; each round downloads 32 MiB once from every
# server in turn, with tcpdump (headers) on the client's veth. Then, per download: its rate, its
# duration, the gaps of more than 100 ms in the client's packets (retransmission timeouts: 200
# ms each) and the time outside them; per server: the median rate and the gaps per download.
#
#   scripts/router_ab.sh OUTDIR LOSS_PER_MILLE ROUNDS NAME=UTCP_BINARY[:CC] [NAME=UTCP_BINARY[:CC] ...]
#
# CC is the server's --cc (default bbr). ROUTER_AB_CAPTURE=0: no capture and no gap analysis
# (the capture costs CPU on a path whose rate is the cores' rate); ROUTER_AB_TO_FILE=1: curl
# writes each download to a file, as bench_router.sh does, instead of /dev/null;
# ROUTER_AB_VERBOSE=1: each server runs with --verbose, and its counters at exit (segments,
# super-segments, device writes, wakeups) go to OUTDIR/serve-NAME.log.
# Needs root, nftables, curl, tcpdump, tshark. OUTDIR keeps runs.txt (round, server, MiB/s,
# client port, load average), per.txt (the per-download lines), phases.txt (per download: ms to
# 0.25, 1 and 4 MiB and to the end, and the longest pause in the first MiB), the capture, and
# cpu.txt: each utcp server's CPU time (/proc/PID/stat) and read and write calls (/proc/PID/io)
# over all its downloads.
set -euo pipefail
out=${1:?usage: router_ab.sh OUTDIR LOSS_PER_MILLE ROUNDS NAME=UTCP ...}
l=${2:?LOSS_PER_MILLE}
rounds=${3:?ROUNDS}
shift 3
[ $# -ge 1 ] || { echo "router_ab.sh: no build given" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)

. "$(dirname "$0")/bench_path.sh"
[ "$(id -u)" = 0 ] || skip "not root (namespaces, nftables and a TUN device)"
for c in ip curl nft tcpdump tshark python3; do command -v $c >/dev/null || skip "$c is missing"; done

bench_path_setup utcp-ab
ip netns exec "$R" nft add table inet lossy
ip netns exec "$R" nft add chain inet lossy forward '{ type filter hook forward priority 0; policy accept; }'
[ "$l" = 0 ] || ip netns exec "$R" nft add rule inet lossy forward numgen random mod 1000 '<' "$l" drop
mkdir "$tmp/www"
head -c $((32 * 1048576)) /dev/urandom >"$tmp/www/file"
ip netns exec "$S" sysctl -qw net.ipv4.tcp_congestion_control=bbr
ip netns exec "$S" python3 -m http.server --bind 10.82.0.1 --directory "$tmp/www" 8080 >/dev/null 2>&1 &
pids+=("$!")
bench_wait_up http://10.82.0.1:8080/file

names=() urls=() spids=() k=0
capture=${ROUTER_AB_CAPTURE:-1}
sink=/dev/null
[ "${ROUTER_AB_TO_FILE:-0}" = 0 ] || sink=$tmp/got
for spec in "$@"; do
  name=${spec%%=*} bin=${spec#*=} cc=bbr
  case $bin in *:*) cc=${bin##*:} bin=${bin%:*} ;; esac
  k=$((k + 1))
  net=10.9$k.0
  verbose=()
  [ "${ROUTER_AB_VERBOSE:-0}" = 0 ] || verbose=(--verbose)
  ip netns exec "$S" "$bin" serve --tun "ut$k" --ip $net.2 --kernel-ip $net.1/24 --port 80 --app http \
    --root "$tmp/www" --cc "$cc" "${verbose[@]}" >"$tmp/serve$k.log" 2>&1 &
  pids+=("$!")
  spids+=("$!")
  ip -n "$R" route add $net.0/24 via 10.82.0.1
  ln -sf "$tmp/serve$k.log" "$tmp/serve.log"  # bench_wait_up shows it if the server does not come up
  bench_wait_up "http://$net.2/file"
  names+=("$name") urls+=("http://$net.2/file")
done
names+=(linux) urls+=(http://10.82.0.1:8080/file)

if [ "$capture" != 0 ]; then
  ip netns exec "$C" tcpdump -i vc -s 80 -w "$out/client.pcap" -n tcp >/dev/null 2>"$out/tcpdump.log" &
  td=$!
  pids+=("$td")
  sleep 1
fi
: >"$out/runs.txt"
for r in $(seq "$rounds"); do
  for k in "${!names[@]}"; do
    res=$(ip netns exec "$C" curl -sS -f -m 120 -o "$sink" -w '%{speed_download} %{local_port}' "${urls[$k]}" ||
      echo "0 0")
    echo "$r ${names[$k]} $res $(cut -d' ' -f1 /proc/loadavg)" >>"$out/runs.txt"
  done
done
tck=$(getconf CLK_TCK)
: >"$out/cpu.txt"
for i in "${!spids[@]}"; do
  p=${spids[$i]}
  awk -v n="${names[$i]}" -v t="$tck" -v r="$rounds" '{ printf "%s: CPU %.2f s for %d downloads, %.1f ms each; ",
    n, ($14 + $15) / t, r, 1000 * ($14 + $15) / t / r }' "/proc/$p/stat" >>"$out/cpu.txt"
  awk '/^syscr|^syscw/ { printf "%s %s ", $1, $2 } END { print "" }' "/proc/$p/io" >>"$out/cpu.txt"
done
cat "$out/cpu.txt"
if [ "${ROUTER_AB_VERBOSE:-0}" != 0 ]; then
  for i in "${!spids[@]}"; do kill -TERM "${spids[$i]}" 2>/dev/null; done
  for i in "${!spids[@]}"; do
    wait "${spids[$i]}" 2>/dev/null || true
    cp "$tmp/serve$((i + 1)).log" "$out/serve-${names[$i]}.log"
    grep -E '^(tcp:|offloads:|device )' "$out/serve-${names[$i]}.log" | sed "s/^/${names[$i]}: /"
  done
fi
if [ "$capture" = 0 ]; then
  for n in "${names[@]}"; do
    awk -v n="$n" '$2 == n { print $3 }' "$out/runs.txt" | sort -n | awk -v n="$n" '{ v[NR] = $1 } END {
      printf "%s: %d downloads, median %.1f MiB/s\n", n, NR,
             ((NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) / 1048576 }'
  done
  exit 0
fi
sleep 0.5
kill -INT "$td"
wait "$td" || true

tshark -r "$out/client.pcap" -T fields -e frame.time_relative -e tcp.dstport -e tcp.srcport -e tcp.len 2>/dev/null >"$tmp/all.tsv"
while read -r r name rate port load; do
  awk -F'\t' -v p="$port" -v n="$name" -v rate="$rate" -v r="$r" -v load="$load" '
    ($2 == p || $3 == p) { if (!s) s = $1; if (prev && $1 - prev > 0.1) { g++; gs += $1 - prev }; prev = $1 }
    END { printf "%s %s %.1f MiB/s, %.3f s, gaps %d (%.3f s), outside them %.3f s, load %s\n",
                 r, n, rate / 1048576, prev - s, g, gs, prev - s - gs, load }' "$tmp/all.tsv"
done <"$out/runs.txt" >"$out/per.txt"
cat "$out/per.txt"
# Per download, from its data packets (payload to the client's port): the time from the first
# to the one that completes 0.25, 1 and 4 MiB and to the last, and the longest pause between two
# of them within the first MiB (the start's wait for the receiver to open its window); per
# server the medians, in ms (OUTDIR/phases.txt has every download).
while read -r r name rate port load; do
  awk -F'\t' -v p="$port" -v n="$name" -v r="$r" '
    $2 == p && $4 > 0 { if (!s) { s = $1; prev = $1 }
      if (cum < 1048576 && $1 - prev > gap) gap = $1 - prev
      prev = $1; cum += $4
      for (i = 1; i <= 3; i++) if (!(i in at) && cum >= m[i] * 1048576) at[i] = $1 - s }
    BEGIN { m[1] = 0.25; m[2] = 1; m[3] = 4 }
    END { at[4] = prev - s; printf "%s %s", r, n; for (i = 1; i <= 4; i++) printf " %.1f", 1000 * at[i]
          printf " %.1f\n", 1000 * gap }' \
    "$tmp/all.tsv"
done <"$out/runs.txt" >"$out/phases.txt"
for n in "${names[@]}"; do
  awk -v n="$n" '$2 == n' "$out/phases.txt" | awk -v n="$n" '
    { for (i = 3; i <= 7; i++) v[i, NR] = $i }
    END { printf "%s: ms to 0.25 / 1 / 4 MiB / the end, longest pause in the first MiB (medians):", n
          for (i = 3; i <= 7; i++) { k = 0; for (j = 1; j <= NR; j++) a[++k] = v[i, j]
            for (x = 2; x <= k; x++) for (y = x; y > 1 && a[y - 1] > a[y]; y--) { t = a[y]; a[y] = a[y - 1]; a[y - 1] = t }
            printf " %.1f", (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
          print "" }'
done
for n in "${names[@]}"; do
  awk -v n="$n" '$2 == n { print $3, $8 }' "$out/per.txt" | sort -n |
    awk -v n="$n" '{ v[NR] = $1; g += $2 } END {
      printf "%s: %d downloads, median %.1f MiB/s, %.2f gaps per download\n", n, NR,
             (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, g / NR }'
done
