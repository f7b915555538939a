#!/usr/bin/env bash
# Hostile peers at TUN level against a running download (usage: hostile_serve.sh UTCP KIND).
# While Linux downloads a file from `utcp serve --app http` (read at a capped rate, so it
# outlasts the attack), hostile.py sends hand-built packets on the connection's 4-tuple:
#
# blind (31), RFC 5961: 2,500 RSTs and 2,000 SYNs with guessed, in-window (never exact)
#   sequence numbers, 1,200 RSTs and SYNs outside the window, 500 data segments in the window
#   with an unacceptable ACK. A capture on the device checks the challenge ACKs stay within the
#   per-flow limit (10/s) and nothing else answers; a second request on the connection must get
#   exactly its own response; utcp must count every injected segment as dropped and see no reset.
# malformed (32): a burst of 3,100 packets, every malformed TCP shape (bad checksum, data
#   offset 0, 4, past the packet, cut headers, option length 0 and 1, options past the header,
#   a kind without its length byte, truncated MSS, window scale, SACK and timestamps, SYN+FIN,
#   SYN+RST) and malformed IPv4 (bad header checksum, IHL below 5 or past the packet, total
#   length wrong, fragments, version 5, too short, not TCP, wrong destination, multicast and
#   zero sources), each wrapped around an RST at exactly RCV.NXT that would reset the
#   connection if it got through. utcp must answer none and count them (tcp dropped, ip drops
#   by reason, printed at exit).
#
# Both: utcp stays up and the download arrives intact.
UTCP=$1
kind=$2
source "$(dirname "$0")/lib.sh"
case $kind in
  blind) it_init blind 31; big_mib=48; extra=() ;;
  malformed) it_init malformed 32; big_mib=24; extra=(--rounds 100) ;;
  *) echo "hostile_serve.sh: unknown kind '$kind' (blind or malformed)" >&2; exit 2 ;;
esac
root=$IT_TMP/root
mkdir -p "$root"
it_random "$root/big" $((big_mib << 20))
it_random "$root/small" 4096
it_serve ut0 "$UIP" "$KCIDR" 8080 http --root "$root" --verbose
in_ns python3 "$IT_DIR/hostile.py" "$kind" --dev ut0 --uip "$UIP" --kip "$KIP" --port 8080 --root "$root" \
  --rate $((4 << 20)) "${extra[@]}" --expect "$IT_TMP/expect" || it_fail "$kind"
kill -0 "$SERVE_PID" 2>/dev/null || it_fail "utcp serve died"
it_stop "$SERVE_PID"
in_ns python3 "$IT_DIR/hostile.py" counters --log "$IT_LOGS/serve-ut0.log" --expect "$IT_TMP/expect" ||
  it_fail "counters"
it_check_csum
it_log "PASS"
