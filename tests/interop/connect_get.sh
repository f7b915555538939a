#!/usr/bin/env bash
# 3: `utcp connect` and `utcp get` against Python servers on the Linux side, both
# directions; sha256 matches. Impairment options after the binary apply to every utcp run
# (test 4 runs this with --loss/--dup/--reorder).
UTCP=$1
INDEX=${2:-3}
shift 2 || shift $#
IMPAIR=("$@")
source "$(dirname "$0")/lib.sh"
it_init "cg$INDEX" "$INDEX"
N=${UTCP_IT_CG:-33554432}
[ ${#IMPAIR[@]} -gt 0 ] && N=${UTCP_IT_IMPAIRED:-16777216}

it_random "$IT_TMP/up" "$N"
it_random "$IT_TMP/down" "$N"

# wait_listening LOG: until a helper server says it listens.
wait_listening() {
  for _ in $(seq 100); do grep -q listening "$IT_LOGS/$1.log" 2>/dev/null && return 0; sleep 0.05; done
  it_fail "$1 did not start"
}
timed() {
  local what=$1 size=$2
  shift 2
  local t0 t1
  t0=$(now_s)
  "$@" || it_fail "$what"
  t1=$(now_s)
  it_log "$what: $size bytes, $(it_rate "$size" "$(echo "$t1 - $t0" | bc -l)")"
}
common=(--tun ut0 --ip "$UIP" --kernel-ip "$KCIDR" "${IMPAIR[@]}")

# utcp -> Linux, from a file.
it_bg sink python3 "$IT_DIR/helpers.py" sink 0.0.0.0 5001 "$IT_TMP/sunk"
sink=$IT_LAST_PID
wait_listening sink
timed "connect --send file (utcp -> linux)" "$N" in_ns "$UTCP" connect "${common[@]}" --to "$KIP:5001" --send "$IT_TMP/up" --out /dev/null
wait "$sink" || it_fail "sink server"
[ "$(it_sha "$IT_TMP/sunk")" = "$(it_sha "$IT_TMP/up")" ] || it_fail "sha256 of data sent by connect differs"

# utcp -> Linux, from stdin.
it_bg sink2 python3 "$IT_DIR/helpers.py" sink 0.0.0.0 5003 "$IT_TMP/sunk2"
sink=$IT_LAST_PID
wait_listening sink2
timed "connect < stdin (utcp -> linux)" "$N" in_ns "$UTCP" connect "${common[@]}" --to "$KIP:5003" <"$IT_TMP/up" >/dev/null
wait "$sink" || it_fail "sink server (stdin)"
[ "$(it_sha "$IT_TMP/sunk2")" = "$(it_sha "$IT_TMP/up")" ] || it_fail "sha256 of stdin sent by connect differs"

# Linux -> utcp.
it_bg source python3 "$IT_DIR/helpers.py" source 0.0.0.0 5002 "$IT_TMP/down"
source_pid=$IT_LAST_PID
wait_listening source
timed "connect --out (linux -> utcp)" "$N" in_ns "$UTCP" connect "${common[@]}" --to "$KIP:5002" --no-send --out "$IT_TMP/got"
wait "$source_pid" || it_fail "source server"
[ "$(it_sha "$IT_TMP/got")" = "$(it_sha "$IT_TMP/down")" ] || it_fail "sha256 of data received by connect differs"
rm -f "$IT_TMP/got"

# utcp get from Python's http.server.
mkdir -p "$IT_TMP/www"
mv "$IT_TMP/down" "$IT_TMP/www/file"
it_bg http python3 -m http.server --bind 0.0.0.0 --directory "$IT_TMP/www" 8000
for _ in $(seq 100); do in_ns python3 "$IT_DIR/helpers.py" wait 127.0.0.1 8000 1 && break; done
timed "get (linux -> utcp)" "$N" in_ns "$UTCP" get "http://$KIP:8000/file" "${common[@]}" --out "$IT_TMP/got"
[ "$(it_sha "$IT_TMP/got")" = "$(it_sha "$IT_TMP/www/file")" ] || it_fail "sha256 of get differs"
if in_ns "$UTCP" get "http://$KIP:8000/missing" "${common[@]}" --out /dev/null 2>"$IT_TMP/err"; then
  it_fail "get of a missing file succeeded"
fi
grep -q 404 "$IT_TMP/err" || it_fail "get of a missing file: '$(cat "$IT_TMP/err")'"
it_check_csum
it_log "PASS"
