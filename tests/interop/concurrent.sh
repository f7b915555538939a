#!/usr/bin/env bash
# 5: 200 concurrent connections from Linux to `serve --app echo`, all echoed intact, and
# 50 parallel curl downloads from `serve --app http`.
UTCP=$1
source "$(dirname "$0")/lib.sh"
it_init conc 5
it_serve ut0 "$UIP" "$KCIDR" 7 echo
in_ns python3 "$IT_DIR/helpers.py" concurrent "$UIP" 7 200 65536 >&2 || it_fail "200 concurrent echo connections"
it_stop "$SERVE_PID"

mkdir -p "$IT_TMP/root"
it_random "$IT_TMP/root/file" 262144
want=$(it_sha "$IT_TMP/root/file")
it_serve ut0 "$UIP" "$KCIDR" 80 http --root "$IT_TMP/root"
pids=()
for i in $(seq 50); do
  in_ns curl -sS -f -o "$IT_TMP/got$i" "http://$UIP/file" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || it_fail "a parallel curl failed"; done
for i in $(seq 50); do
  [ "$(it_sha "$IT_TMP/got$i")" = "$want" ] || it_fail "parallel download $i differs"
done
it_log "50 parallel downloads ok"
it_check_csum
it_log "PASS"
