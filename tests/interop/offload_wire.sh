#!/usr/bin/env bash
# 20: TUN offloads on the wire. utcp serves 8 MiB over HTTP from its TUN device in namespace A;
# A's kernel routes it over a veth pair (segmentation offloads off on both ends) to curl in
# namespace B. tcpdump on utcp's device sees TSO super-segments (packets longer than the
# MTU: utcp coalesced and the kernel has not cut them yet); tcpdump on B's veth sees only
# segments of at most the MSS (the kernel's software segmentation on A's veth), and the
# files arrive intact. IPv4 and IPv6 (TSO4 and TSO6). With UTCP_IT_OFFLOAD=off, the device
# carries no packet longer than the MTU.
UTCP=$1
source "$(dirname "$0")/lib.sh"
it_init wire 20
command -v curl >/dev/null || it_fail "curl is missing"
command -v tcpdump >/dev/null || it_skip "tcpdump is missing"
command -v tshark >/dev/null || it_skip "tshark is missing (scripts/deps.sh installs it)"
command -v ethtool >/dev/null || it_skip "ethtool is missing (scripts/deps.sh installs it)"

NSB=utcp-it-wireb-$$-$RANDOM
ip netns add "$NSB" || it_fail "cannot create the second namespace"
IT_MORE_NS+=("$NSB")
in_b() { ip netns exec "$NSB" "$@"; }
in_b ip link set lo up
in_ns ip link add va type veth peer name vb netns "$NSB"
in_ns ip addr add 10.78.20.1/24 dev va
in_ns ip -6 addr add fd00:78:20::1/64 dev va nodad
in_b ip addr add 10.78.20.2/24 dev vb
in_b ip -6 addr add fd00:78:20::2/64 dev vb nodad
for side in "in_ns va" "in_b vb"; do
  read -r run dev <<<"$side"
  $run ethtool -K "$dev" tso off gso off gro off >/dev/null 2>&1 || it_skip "ethtool -K $dev refused"
  $run ip link set "$dev" up
done
in_ns sysctl -qw net.ipv4.ip_forward=1
in_ns sysctl -qw net.ipv6.conf.all.forwarding=1
in_b ip route add 10.77.20.0/24 via 10.78.20.1
in_b ip -6 route add fd00:77:20::/64 via fd00:78:20::1

root=$IT_TMP/root
mkdir -p "$root"
it_random "$root/file" 8388608
want=$(it_sha "$root/file")

# lengths FILE SRC: for each packet from SRC, its IP length and its TCP payload length.
lengths() {
  if [[ $2 == *:* ]]; then
    tshark -r "$1" -Y "ipv6.src == $2" -T fields -e ipv6.plen -e tcp.len 2>/dev/null | awk '{ print $1 + 40, $2 }'
  else
    tshark -r "$1" -Y "ip.src == $2" -T fields -e ip.len -e tcp.len 2>/dev/null
  fi
}

for fam in v4 v6; do
  if [ $fam = v4 ]; then
    ip=10.77.20.2 kcidr=10.77.20.1/24 url="http://10.77.20.2:8080/file" mss=1460
  else
    ip=fd00:77:20::2 kcidr=fd00:77:20::1/64 url="http://[fd00:77:20::2]:8080/file" mss=1440
  fi
  it_serve ut0 "$ip" "$kcidr" 8080 http --root "$root"
  it_capture "$IT_NS" ut0 "$IT_TMP/tun-$fam.pcap"
  tun_cap=$CAP_PID
  it_capture "$NSB" vb "$IT_TMP/wire-$fam.pcap"
  wire_cap=$CAP_PID
  in_b curl -sS -f -g -o "$IT_TMP/got" "$url" || it_fail "curl over the router ($fam)"
  [ "$(it_sha "$IT_TMP/got")" = "$want" ] || it_fail "sha256 differs ($fam)"
  it_settle "$IT_TMP/tun-$fam.pcap"
  it_settle "$IT_TMP/wire-$fam.pcap"
  it_stop "$tun_cap"
  it_stop "$wire_cap"
  it_stop "$SERVE_PID"

  lengths "$IT_TMP/wire-$fam.pcap" "$ip" >"$IT_TMP/wire-$fam.len"
  lengths "$IT_TMP/tun-$fam.pcap" "$ip" >"$IT_TMP/tun-$fam.len"
  data=$(awk '$2 > 0' "$IT_TMP/wire-$fam.len" | wc -l)
  over=$(awk -v m=$mss '$2 > m' "$IT_TMP/wire-$fam.len" | wc -l)
  largest=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$IT_TMP/wire-$fam.len")
  # Nearly all of them (the capture may miss a few under load; what matters is their size).
  [ "$data" -ge $((8388608 / mss / 2)) ] || it_fail "$fam: only $data data segments captured on the wire"
  [ "$over" = 0 ] || it_fail "$fam: $over segments longer than the MSS $mss on the wire"
  super=$(awk '$1 > 1500' "$IT_TMP/tun-$fam.len" | wc -l)
  tun_largest=$(awk 'BEGIN { m = 0 } $1 > m { m = $1 } END { print m }' "$IT_TMP/tun-$fam.len")
  if [ "${UTCP_IT_OFFLOAD:-on}" = off ]; then
    [ "$super" = 0 ] || it_fail "$fam: --no-offload, yet $super packets longer than the MTU on the device"
  else
    [ "$super" -gt 0 ] || it_fail "$fam: no TSO super-segment on the device (largest packet $tun_largest)"
  fi
  it_log "$fam: device: $super packets longer than the MTU (largest $tun_largest bytes); wire: $data data segments, largest payload $largest <= MSS $mss"
done
it_check_csum
in_b nstat -az TcpInCsumErrors | awk '$1 == "TcpInCsumErrors" && $2 != 0 { exit 1 }' || it_fail "checksum errors in B"
it_log "PASS"
