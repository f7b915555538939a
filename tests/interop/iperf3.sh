#!/usr/bin/env bash
# 19: `utcp serve --app iperf3` measured by Debian's iperf3 client (Linux's TCP): 1, 4 and 8
# parallel streams, forward (the client sends) and -R (utcp sends), each short (-n bytes or
# -t 1). The client must finish, its JSON report (-J) must show the bytes on both ends, and
# utcp's stream results must be the ones the client matched by id.
UTCP=$1
source "$(dirname "$0")/lib.sh"
it_init iperf3 19
command -v iperf3 >/dev/null || it_skip "iperf3 is not installed (scripts/deps.sh installs it)"
it_serve ut0 "$UIP" "$KCIDR" 5201 iperf3
run() {
  local what=$1
  shift
  local rc=0
  timeout 60 ip netns exec "$IT_NS" iperf3 -c "$UIP" -p 5201 -J "$@" >"$IT_TMP/out.json" 2>"$IT_TMP/err" || rc=$?
  [ $rc -eq 0 ] || it_fail "iperf3 -c $* exited $rc: $(cat "$IT_TMP/err") $(head -c 600 "$IT_TMP/out.json")"
  local summary
  summary=$(
    python3 - "$IT_TMP/out.json" "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
args = sys.argv[2:]
assert "error" not in d, d.get("error")
p = int(args[args.index("-P") + 1]) if "-P" in args else 1
reverse = "-R" in args
end = d["end"]
sent, received = end["sum_sent"]["bytes"], end["sum_received"]["bytes"]
streams = end["streams"]
assert len(streams) == p, (len(streams), p)
for s in streams:
    # Each stream has utcp's side too: the client matched utcp's results by stream id.
    assert s["sender"]["bytes"] > 0 and s["receiver"]["bytes"] > 0, s
if "-n" in args:
    n = int(args[args.index("-n") + 1].rstrip("M")) * (1 << 20 if args[args.index("-n") + 1].endswith("M") else 1)
    assert sent >= n, (sent, n)
assert received > 0 and received <= sent, (received, sent)
if reverse:
    assert received == sent, ("utcp sent every byte the client received", sent, received)
rate = end["sum_received"]["bits_per_second"] / 1e6
print(f"{p} stream(s){' reverse' if reverse else ''}: sent {sent}, received {received}, {rate:.0f} Mbit/s")
PY
  ) || it_fail "iperf3 -c $*: $summary $(head -c 1500 "$IT_TMP/out.json")"
  it_log "$what: $summary"
}
run "1 stream, forward" -n 8M
run "1 stream, reverse" -R -n 8M
run "4 streams, forward" -P 4 -n 16M
run "4 streams, reverse" -R -P 4 -n 16M
run "8 streams, forward, -t 1" -P 8 -t 1
run "8 streams, reverse" -R -P 8 -n 16M
# A second client while nothing runs is served; the server keeps going between tests.
run "again, 1 stream" -n 1M
it_stop "$SERVE_PID"
grep -q "iperf3: 8 stream(s)" "$IT_LOGS/serve-ut0.log" || it_fail "serve logged no test: $(cat "$IT_LOGS/serve-ut0.log")"
it_check_csum
it_log "PASS"
