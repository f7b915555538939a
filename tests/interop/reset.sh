#!/usr/bin/env bash
# 8: an abortive close (RST) from either side is reported as a reset on the other.
UTCP=$1
source "$(dirname "$0")/lib.sh"
it_init reset 9
common=(--tun ut0 --ip "$UIP" --kernel-ip "$KCIDR")
wait_listening() {
  for _ in $(seq 100); do grep -q listening "$IT_LOGS/$1.log" 2>/dev/null && return 0; sleep 0.05; done
  it_fail "$1 did not start"
}

# Linux resets: utcp connect reports it.
it_bg rst python3 "$IT_DIR/helpers.py" rst-server 0.0.0.0 6001
wait_listening rst
if yes | head -c 100000 | in_ns "$UTCP" connect "${common[@]}" --to "$KIP:6001" >/dev/null 2>"$IT_TMP/err"; then
  it_fail "utcp connect exited 0 after a reset"
fi
grep -q "reset" "$IT_TMP/err" || it_fail "utcp connect said '$(cat "$IT_TMP/err")'"
it_log "linux resets -> utcp: $(cat "$IT_TMP/err")"

# utcp resets (connect --abort): Linux sees ECONNRESET.
it_bg expect python3 "$IT_DIR/helpers.py" expect-rst-server 0.0.0.0 6002
expect=$IT_LAST_PID
wait_listening expect
echo hello >"$IT_TMP/msg"
in_ns "$UTCP" connect "${common[@]}" --to "$KIP:6002" --send "$IT_TMP/msg" --abort >/dev/null ||
  it_fail "utcp connect --abort"
wait "$expect" || it_fail "Linux did not see a reset from utcp"
it_log "utcp resets -> linux: ECONNRESET"

# A Linux client resets a connection to utcp serve: the server counts the reset it got.
it_serve ut0 "$UIP" "$KCIDR" 7 echo --verbose
in_ns python3 "$IT_DIR/helpers.py" abort-client "$UIP" 7 || it_fail "abort client"
sleep 0.3
it_stop "$SERVE_PID"
grep -Eq 'resets sent [0-9]+, received [1-9]' "$IT_LOGS/serve-ut0.log" || it_fail "serve did not count the reset"
it_check_csum
it_log "PASS"
