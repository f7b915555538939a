#!/usr/bin/env bash
# 33: SYN flood at TUN level against `utcp serve --app echo`, in two parts.
# A: 3,000 SYNs over 3 s, in bursts of 300, from random sources in 10.78.0.0/16, which the
#    kernel owns (a local route): it answers utcp's SYN-ACKs with RSTs, as live hosts do, but
#    within a burst the backlog fills before the RSTs come back: without SYN cookies part of
#    each burst is dropped, with them answered with cookies. A Linux client's SYN goes out in
#    the middle of the second burst (without cookies usually meeting the full backlog); it must
#    connect and echo 256 KiB (retrying its SYN after 1 s if need be).
# B: 3,000 SYNs over 3 s from random sources in 10.79.0.0/16, routed to the device, where
#    nobody answers: the embryonic connections stay. A capture counts the sources utcp
#    answered. More than the backlog (128): SYN cookies, and the Linux client must connect and
#    echo during the flood. At most the backlog: no cookies, and the client's SYNs must meet a
#    full backlog (it times out); the flood must be counted as drops.
# At exit utcp must hold no more than the backlog (+2) connections (on each shard: serve --threads).
UTCP=$1
source "$(dirname "$0")/lib.sh"
it_init synflood 33
in_ns ip route add local 10.78.0.0/16 dev lo
it_serve ut0 "$UIP" "$KCIDR" 7 echo --verbose
in_ns ip route add 10.79.0.0/16 dev ut0
in_ns python3 "$IT_DIR/hostile.py" synflood --dev ut0 --uip "$UIP" --port 7 --answered 10.78 --blind 10.79 \
  --syns 3000 --seconds 3 --expect "$IT_TMP/expect" || it_fail "SYN flood"
kill -0 "$SERVE_PID" 2>/dev/null || it_fail "utcp serve died"
it_stop "$SERVE_PID"
in_ns python3 "$IT_DIR/hostile.py" counters --log "$IT_LOGS/serve-ut0.log" --expect "$IT_TMP/expect" ||
  it_fail "counters"
it_log "PASS"
