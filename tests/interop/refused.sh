#!/usr/bin/env bash
# 6: a connection to a port nobody listens on is refused at once (ECONNREFUSED on Linux,
# "connection refused" from utcp connect), and TcpInCsumErrors stays 0 throughout.
UTCP=$1
source "$(dirname "$0")/lib.sh"
it_init refused 6
it_check_csum
it_serve ut0 "$UIP" "$KCIDR" 7 echo
in_ns python3 "$IT_DIR/helpers.py" refused "$UIP" 9 >&2 || it_fail "Linux -> utcp closed port not refused at once"
in_ns python3 "$IT_DIR/helpers.py" echo "$UIP" 7 4194304 >&2 || it_fail "echo"
it_check_csum
it_stop "$SERVE_PID"

# utcp -> Linux closed port.
t0=$(now_s)
if in_ns "$UTCP" connect --tun ut0 --ip "$UIP" --kernel-ip "$KCIDR" --to "$KIP:9" --no-send 2>"$IT_TMP/err"; then
  it_fail "utcp connect to a closed port succeeded"
fi
t1=$(now_s)
grep -q "connection refused" "$IT_TMP/err" || it_fail "utcp connect said '$(cat "$IT_TMP/err")'"
[ "$(echo "$t1 - $t0 < 3" | bc -l)" = 1 ] || it_fail "refusal took $(echo "$t1 - $t0" | bc -l) s"
it_log "utcp connect: $(cat "$IT_TMP/err")"
it_check_csum
it_log "PASS"
