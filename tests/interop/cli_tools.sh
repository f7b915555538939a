#!/usr/bin/env bash
# 17: connect, get and serve where things go wrong, and what they report. A read error in
# connect's input resets the connection and exits 1 with the reason; `get --out` leaves an
# existing file alone after a refused connection or a 404 and replaces it after a download;
# `serve --port 0` says which port it got; --interval, --json and --trace on a TUN transfer;
# a capture that cannot be written is an error.
UTCP=$1
source "$(dirname "$0")/lib.sh"
it_init clitools 17
common=(--tun ut0 --ip "$UIP" --kernel-ip "$KCIDR")
wait_listening() {
  for _ in $(seq 100); do grep -q listening "$IT_LOGS/$1.log" 2>/dev/null && return 0; sleep 0.05; done
  it_fail "$1 did not start"
}

# connect --send DIRECTORY: the read fails (EISDIR) mid-input: RST, not FIN, and exit 1 at once.
it_bg rst python3 "$IT_DIR/helpers.py" expect-rst-server 0.0.0.0 5001
rst=$IT_LAST_PID
wait_listening rst
rc=0
timeout 20 ip netns exec "$IT_NS" "$UTCP" connect "${common[@]}" --to "$KIP:5001" --send "$IT_TMP" \
  >/dev/null 2>"$IT_TMP/err" || rc=$?
[ $rc -eq 1 ] || it_fail "connect --send DIRECTORY exited $rc (124: it hung): $(cat "$IT_TMP/err")"
grep -q 'Is a directory' "$IT_TMP/err" || it_fail "connect --send DIRECTORY: $(cat "$IT_TMP/err")"
wait "$rst" || it_fail "the peer saw no reset after connect's read error"
it_log "connect --send DIRECTORY: $(cat "$IT_TMP/err")"

# get --out FILE: a refused connection and a 404 leave FILE as it was; a download replaces it.
echo "keep me" >"$IT_TMP/keep"
in_ns "$UTCP" get "http://$KIP:8001/x" "${common[@]}" --out "$IT_TMP/keep" 2>"$IT_TMP/err" \
  && it_fail "get from a closed port succeeded"
grep -q refused "$IT_TMP/err" || it_fail "get from a closed port: $(cat "$IT_TMP/err")"
[ "$(cat "$IT_TMP/keep")" = "keep me" ] || it_fail "a refused get changed --out"
mkdir -p "$IT_TMP/www"
it_random "$IT_TMP/www/file" 3000000
it_bg http python3 -m http.server --bind 0.0.0.0 --directory "$IT_TMP/www" 8000
for _ in $(seq 100); do in_ns python3 "$IT_DIR/helpers.py" wait 127.0.0.1 8000 1 && break; done
in_ns "$UTCP" get "http://$KIP:8000/missing" "${common[@]}" --out "$IT_TMP/keep" 2>"$IT_TMP/err" \
  && it_fail "get of a missing file succeeded"
grep -q 404 "$IT_TMP/err" || it_fail "get of a missing file: $(cat "$IT_TMP/err")"
[ "$(cat "$IT_TMP/keep")" = "keep me" ] || it_fail "a 404 changed --out"
[ -z "$(find "$IT_TMP" -maxdepth 1 -name '.keep.utcp-*')" ] || it_fail "get left a temporary file"
# A download with --interval, --json and --trace.
in_ns "$UTCP" get "http://$KIP:8000/file" "${common[@]}" --out "$IT_TMP/keep" --interval 0.2 --json \
  --trace "$IT_TMP/get.csv" >"$IT_TMP/get.json" 2>"$IT_TMP/err" || it_fail "get: $(cat "$IT_TMP/err")"
[ "$(it_sha "$IT_TMP/keep")" = "$(it_sha "$IT_TMP/www/file")" ] || it_fail "get did not replace --out with the body"
python3 - "$IT_TMP/get.json" "$IT_TMP/get.csv" <<'PY' || it_fail "get --json/--trace: $(head -c 400 "$IT_TMP/get.json")"
import csv, json, sys
d = json.load(open(sys.argv[1]))
assert d["start"]["command"] == "get" and d["end"]["ok"] is True, d["end"]
assert d["end"]["body_bytes"] == 3000000
c = d["connections"]
assert len(c) == 1 and c[0]["bytes_received"] > 3000000, c
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) >= 1 and {"time", "flow", "snd_una", "cwnd", "srtt_ms", "rto_ms", "in_flight", "retransmits"} <= set(rows[0])
PY
# Interval lines on stderr when --interval is given (not --json), and a trace of the sender:
# connect sending a file.
it_bg sink python3 "$IT_DIR/helpers.py" sink 0.0.0.0 5002 "$IT_TMP/sunk"
sink=$IT_LAST_PID
wait_listening sink
in_ns "$UTCP" connect "${common[@]}" --to "$KIP:5002" --send "$IT_TMP/www/file" --out /dev/null --interval 0.02 \
  --trace "$IT_TMP/up.csv" 2>"$IT_TMP/err" || it_fail "connect --interval: $(cat "$IT_TMP/err")"
wait "$sink" || it_fail "sink server"
grep -qE '^\[ *0.00- *0.0[1-9] +s\] +[0-9.]+ [KMG]?i?B +[0-9.]+ [kMG]bit/s +[0-9]+ ' "$IT_TMP/err" \
  || it_fail "connect --interval: no interval line: $(cat "$IT_TMP/err")"
grep -qE '^\[ *0.00- *[0-9.]+ +s\] +2.9 MiB .* total' "$IT_TMP/err" || it_fail "connect: no total line: $(cat "$IT_TMP/err")"
python3 - "$IT_TMP/up.csv" <<'PY' || it_fail "connect --trace: $(head -5 "$IT_TMP/up.csv")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) >= 2, len(rows)
una = [int(r["snd_una"]) for r in rows]
# A row as the flow opens (nothing acknowledged yet), and its end, however short the transfer.
assert una[0] == 0 and una == sorted(una) and una[-1] >= 2000000, una[-5:]
assert "-" in rows[0]["flow"] and not rows[0]["flow"].startswith("fd "), rows[0]["flow"]
assert all(int(r["cwnd"]) > 0 for r in rows[1:])
PY

# serve --port 0 says which port the stack chose; a client reaches it there.
it_bg serve0 "$UTCP" serve "${common[@]}" --port 0 --app echo
serve=$IT_LAST_PID
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^utcp serve: echo on [0-9.]*:\([0-9]*\) .*/\1/p' "$IT_LOGS/serve0.log")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] && [ "$port" != 0 ] || it_fail "serve --port 0 did not say its port: $(cat "$IT_LOGS/serve0.log")"
in_ns python3 "$IT_DIR/helpers.py" wait "$UIP" "$port" 10 || it_fail "serve --port 0: nothing on port $port"
in_ns python3 "$IT_DIR/helpers.py" echo "$UIP" "$port" 100000 || it_fail "echo on the chosen port $port"
it_stop "$serve"

# A capture that cannot be written: an error at exit, not silence.
it_bg full "$UTCP" serve "${common[@]}" --port 7 --app echo --pcap /dev/full
full=$IT_LAST_PID
in_ns python3 "$IT_DIR/helpers.py" wait "$UIP" 7 10 || it_fail "serve --pcap /dev/full did not come up"
kill -TERM "$full"
rc=0
wait "$full" || rc=$?
[ $rc -eq 1 ] || it_fail "serve --pcap /dev/full exited $rc"
grep -q 'No space left on device' "$IT_LOGS/full.log" || it_fail "serve --pcap /dev/full: $(cat "$IT_LOGS/full.log")"
it_check_csum
it_log "PASS"
