#!/usr/bin/env bash
# 31: blind injection (RFC 5961) at TUN level. While Linux downloads a file from
# `utcp serve --app http` (read at a capped rate, so it outlasts the attack), hand-built
# packets spoofing the client are sent on its 4-tuple: 2,500 RSTs and 2,000 SYNs with guessed,
# in-window (never exact) sequence numbers, 1,200 RSTs and SYNs outside the window, 500 data
# segments in the window with an unacceptable ACK. A capture on the device checks the
# challenge ACKs stay within the per-flow limit (10/s) and nothing else answers; the download
# must arrive intact, a second request on the connection must get exactly its own response;
# at exit utcp must have counted every injected segment as dropped and seen no reset.
UTCP=$1
source "$(dirname "$0")/lib.sh"
it_init blind 31
root=$IT_TMP/root
mkdir -p "$root"
it_random "$root/big" $((48 << 20))
it_random "$root/small" 4096
it_serve ut0 "$UIP" "$KCIDR" 8080 http --root "$root" --verbose
in_ns python3 "$IT_DIR/hostile.py" blind --dev ut0 --uip "$UIP" --kip "$KIP" --port 8080 --root "$root" \
  --rate $((4 << 20)) --expect "$IT_TMP/expect" || it_fail "blind injection"
kill -0 "$SERVE_PID" 2>/dev/null || it_fail "utcp serve died"
it_stop "$SERVE_PID"
in_ns python3 "$IT_DIR/hostile.py" counters --log "$IT_LOGS/serve-ut0.log" --expect "$IT_TMP/expect" ||
  it_fail "counters"
it_check_csum
it_log "PASS"
