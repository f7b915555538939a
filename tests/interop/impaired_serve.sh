#!/usr/bin/env bash
# 4: tests 1 and 2 with 16 MiB under the driver's seeded impairment (the options after the
# index: --loss, --dup, --reorder, --seed). connect_get.sh covers test 3 the same way.
UTCP=$1
INDEX=$2
shift 2
IMPAIR=("$@")
source "$(dirname "$0")/lib.sh"
it_init "imp$INDEX" "$INDEX"
command -v curl >/dev/null || it_fail "curl is missing"
N=${UTCP_IT_IMPAIRED:-16777216}
it_log "impairment: ${IMPAIR[*]}"

mkdir -p "$IT_TMP/root"
it_random "$IT_TMP/root/file" "$N"
it_serve ut0 "$UIP" "$KCIDR" 8080 http --root "$IT_TMP/root" "${IMPAIR[@]}" --verbose
t0=$(now_s)
in_ns curl -sS -f --max-time 240 -o "$IT_TMP/got" "http://$UIP:8080/file" || it_fail "curl"
t1=$(now_s)
[ "$(it_sha "$IT_TMP/got")" = "$(it_sha "$IT_TMP/root/file")" ] || it_fail "sha256 of the download differs"
it_log "http download: $N bytes, $(it_rate "$N" "$(echo "$t1 - $t0" | bc -l)")"
it_stop "$SERVE_PID"

it_serve ut0 "$UIP" "$KCIDR" 9 discard "${IMPAIR[@]}"
in_ns python3 "$IT_DIR/helpers.py" discard "$UIP" 9 "$N" >&2 || it_fail "discard"
it_stop "$SERVE_PID"

it_serve ut0 "$UIP" "$KCIDR" 7 echo "${IMPAIR[@]}"
in_ns python3 "$IT_DIR/helpers.py" echo "$UIP" 7 "$N" >&2 || it_fail "echo"
it_check_csum
it_log "PASS"
