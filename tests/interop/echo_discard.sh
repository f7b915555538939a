#!/usr/bin/env bash
# 2 (and 7 with v6): a Python client sends 64 MiB to `serve --app discard` and to
# `serve --app echo`; the echo comes back identical.
UTCP=$1
FAMILY=${2:-v4}
source "$(dirname "$0")/lib.sh"
if [ "$FAMILY" = v6 ]; then it_init echo6 8; else it_init echo 2; fi
N=${UTCP_IT_ECHO:-67108864}
if [ "$FAMILY" = v6 ]; then ip=$UIP6 kcidr=$KCIDR6; else ip=$UIP kcidr=$KCIDR; fi

it_serve ut0 "$ip" "$kcidr" 9 discard
in_ns python3 "$IT_DIR/helpers.py" discard "$ip" 9 "$N" >&2 || it_fail "discard"
it_stop "$SERVE_PID"

it_serve ut0 "$ip" "$kcidr" 7 echo
in_ns python3 "$IT_DIR/helpers.py" echo "$ip" 7 "$N" >&2 || it_fail "echo"
it_check_csum
it_log "PASS"
