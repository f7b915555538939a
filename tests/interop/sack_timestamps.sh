#!/usr/bin/env bash
# 22: Linux uses SACK and timestamps with utcp (issue 16), seen by tcpdump on utcp's TUN
# device under the driver's seeded loss and reordering (both ways), in both directions:
#   1. utcp -> Linux (curl downloads from `utcp serve`): SACK-permitted and timestamps on both
#      SYNs, every later segment timestamped with the other side's TSval echoed, and SACK
#      blocks in Linux's ACKs (tcp_options_check.py).
#   2. Linux -> utcp (Linux sends to `utcp serve --app discard`): the same on the wire, SACK
#      blocks in utcp's ACKs, and Linux's counters say its recoveries were SACK recoveries
#      (TcpExtTCPSackRecovery > 0, TcpExtTCPRenoRecovery = 0).
#   3. The control: with `serve --no-sack --no-timestamps` the same check must fail, naming the
#      options missing from utcp's SYN-ACK (the check can tell).
UTCP=$1
source "$(dirname "$0")/lib.sh"
it_init sackts 22
command -v curl >/dev/null || it_fail "curl is missing"
command -v tcpdump >/dev/null || it_skip "tcpdump is missing (scripts/deps.sh installs it)"
command -v tshark >/dev/null || it_skip "tshark is missing (scripts/deps.sh installs it)"
IMPAIR=(--loss 3 --reorder 1 --seed 22)
N=${UTCP_IT_SACKTS:-4194304}
check() { python3 "$IT_DIR/tcp_options_check.py" "$@"; }
counter() { in_ns nstat -asz "$1" | awk -v c="$1" '$1 == c { print $2 }'; }

mkdir -p "$IT_TMP/root"
it_random "$IT_TMP/root/file" "$N"
want=$(it_sha "$IT_TMP/root/file")

# 1. utcp -> Linux.
it_serve ut0 "$UIP" "$KCIDR" 8080 http --root "$IT_TMP/root" "${IMPAIR[@]}"
it_capture "$IT_NS" ut0 "$IT_TMP/down.pcap"
cap=$CAP_PID
in_ns curl -sS -f --max-time 120 -o "$IT_TMP/got" "http://$UIP:8080/file" || it_fail "curl"
[ "$(it_sha "$IT_TMP/got")" = "$want" ] || it_fail "sha256 of the download differs"
it_settle "$IT_TMP/down.pcap"
it_stop "$cap"
it_stop "$SERVE_PID"
check "$IT_TMP/down.pcap" "$KIP" "$UIP" linux >"$IT_TMP/down.txt" || {
  cat "$IT_TMP/down.txt" >&2
  it_fail "utcp -> linux: SACK or timestamps not in use"
}
it_log "utcp -> linux, $N bytes: $(tr '\n' ';' <"$IT_TMP/down.txt")"

# 2. Linux -> utcp.
sack0=$(counter TcpExtTCPSackRecovery)
reno0=$(counter TcpExtTCPRenoRecovery)
it_serve ut0 "$UIP" "$KCIDR" 9 discard "${IMPAIR[@]}"
it_capture "$IT_NS" ut0 "$IT_TMP/up.pcap"
cap=$CAP_PID
in_ns python3 "$IT_DIR/helpers.py" discard "$UIP" 9 "$N" >"$IT_TMP/discard.txt" || it_fail "discard (linux -> utcp)"
it_settle "$IT_TMP/up.pcap"
it_stop "$cap"
it_stop "$SERVE_PID"
check "$IT_TMP/up.pcap" "$KIP" "$UIP" utcp >"$IT_TMP/up.txt" || {
  cat "$IT_TMP/up.txt" >&2
  it_fail "linux -> utcp: SACK or timestamps not in use"
}
sack=$(($(counter TcpExtTCPSackRecovery) - sack0))
reno=$(($(counter TcpExtTCPRenoRecovery) - reno0))
[ "$sack" -gt 0 ] || it_fail "linux -> utcp: Linux entered no SACK recovery (TcpExtTCPSackRecovery +0)"
[ "$reno" = 0 ] || it_fail "linux -> utcp: Linux recovered without SACK $reno times (TcpExtTCPRenoRecovery)"
it_log "linux -> utcp, $N bytes: $(tr '\n' ';' <"$IT_TMP/up.txt") Linux: $sack SACK recoveries, $reno without"

# 3. The control: utcp offers neither option; the same check must see it.
head -c 1048576 "$IT_TMP/root/file" >"$IT_TMP/root/small"
it_serve ut0 "$UIP" "$KCIDR" 8080 http --root "$IT_TMP/root" "${IMPAIR[@]}" --no-sack --no-timestamps
it_capture "$IT_NS" ut0 "$IT_TMP/control.pcap"
cap=$CAP_PID
in_ns curl -sS -f --max-time 120 -o "$IT_TMP/got" "http://$UIP:8080/small" || it_fail "curl (control)"
it_settle "$IT_TMP/control.pcap"
it_stop "$cap"
it_stop "$SERVE_PID"
if check "$IT_TMP/control.pcap" "$KIP" "$UIP" linux >"$IT_TMP/control.txt"; then
  cat "$IT_TMP/control.txt" >&2
  it_fail "the check passed on a connection without SACK or timestamps"
fi
for opt in SACK-permitted timestamps; do
  grep -q "the SYN-ACK from utcp has no $opt option" "$IT_TMP/control.txt" || {
    cat "$IT_TMP/control.txt" >&2
    it_fail "the control's failure does not name utcp's missing $opt"
  }
done
it_check_csum
it_log "PASS"
