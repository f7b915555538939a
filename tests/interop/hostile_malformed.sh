#!/usr/bin/env bash
# 32: malformed segments at TUN level. While Linux downloads a file from
# `utcp serve --app http`, a burst of 3,100 hand-built packets hits the connection's 4-tuple:
# every malformed TCP shape (bad checksum, data offset 0, 4, past the packet, cut headers,
# option length 0 and 1, options past the header, a kind without its length byte, truncated
# MSS, window scale, SACK and timestamps, SYN+FIN, SYN+RST) and malformed IPv4 (bad header
# checksum, IHL below 5 or past the packet, total length wrong, fragments, version 5, too
# short, not TCP, wrong destination, multicast and zero sources), each wrapped around an RST at
# exactly RCV.NXT that would reset the connection if it got through. utcp must answer none,
# stay up, count them (tcp dropped, ip drops by reason, printed at exit) and the download must
# arrive intact.
UTCP=$1
source "$(dirname "$0")/lib.sh"
it_init malformed 32
root=$IT_TMP/root
mkdir -p "$root"
it_random "$root/big" $((24 << 20))
it_random "$root/small" 4096
it_serve ut0 "$UIP" "$KCIDR" 8080 http --root "$root" --verbose
in_ns python3 "$IT_DIR/hostile.py" malformed --dev ut0 --uip "$UIP" --kip "$KIP" --port 8080 --root "$root" \
  --rate $((4 << 20)) --rounds 100 --expect "$IT_TMP/expect" || it_fail "malformed burst"
kill -0 "$SERVE_PID" 2>/dev/null || it_fail "utcp serve died"
it_stop "$SERVE_PID"
in_ns python3 "$IT_DIR/hostile.py" counters --log "$IT_LOGS/serve-ut0.log" --expect "$IT_TMP/expect" ||
  it_fail "counters"
it_check_csum
it_log "PASS"
