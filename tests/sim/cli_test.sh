#!/bin/sh
# `utcp sim` (and `utcp explore`) from the outside: a run succeeds and prints its summary, a
# capture is written, the table prints, and bad flags give one line on stderr and a non-zero exit.
# Usage: cli_test.sh path/to/utcp [scratch-dir]
set -u
utcp=$1
dir=${2:-${TMPDIR:-/tmp}}
failures=0
T=
# Each bad invocation: a non-zero exit below 128 (not a crash) and exactly one line on stderr.
bad() {
  err=$("$utcp" "$@" 2>&1 >/dev/null)
  rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then fail "'$*' exited $rc"; fi
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "'$*' printed more than one line: $err"
}
# A usage error: exit 2 (as Unix tools do, not CLI11's 104-114), one line that points at the
# subcommand's own --help.
usage() {
  help=$1
  shift
  err=$($T "$utcp" "$@" 2>&1 >/dev/null)
  rc=$?
  [ $rc -eq 2 ] || fail "'$*' exited $rc, not 2: $err"
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "'$*' printed more than one line: $err"
  case $err in *"see $help --help"*) ;; *) fail "'$*' does not point at '$help --help': $err" ;; esac
}
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

out=$("$utcp" sim --bytes 200000 --bytes-back 10000 --loss 1 --dup 1 --reorder 1 --corrupt 1 --seed 3 2>&1) \
  || fail "a lossy run: exit $? with: $out"
echo "$out" | grep -q '^data: OK' || fail "no 'data: OK' in: $out"
for word in goodput 'virtual' 'wall' 'segments sent' 'RTO' 'fast' 'duplicate ACKs' 'final cwnd'; do
  echo "$out" | grep -q "$word" || fail "summary lacks '$word'"
done

"$utcp" sim --bytes 20000 --ipv6 --mss 1220 --burst-loss 1,50 --nodelay --no-wscale >/dev/null 2>&1 \
  || fail "an IPv6 run with burst loss"

# --pcap: one pcapng capture per endpoint, with the link's drops marked by comments.
if "$utcp" sim --help 2>&1 | grep -q -- '--pcap'; then
  base="$dir/utcp_cli_test_$$"
  if out=$("$utcp" sim --bytes 300000 --loss 3 --seed 2 --pcap "$base.pcap" 2>&1); then
    for side in client server; do
      f="$base.$side.pcapng"
      [ -s "$f" ] || fail "--pcap wrote no $f"
      # A pcapng Section Header Block starts the file.
      [ "$(od -An -tx1 -N4 "$f" | tr -d ' ')" = 0a0d0d0a ] || fail "$f is not pcapng"
      if command -v tshark >/dev/null 2>&1; then
        # One pass: each packet's protocol column and comment.
        tshark -r "$f" -T fields -e _ws.col.Protocol -e frame.comment >"$base.fields" 2>/dev/null \
          || fail "tshark cannot read $f"
        [ -s "$base.fields" ] || fail "tshark reads no packet in $f"
        grep -q HTTP "$base.fields" && fail "$f decodes as HTTP"
        if [ $side = client ]; then
          grep -q 'dropped by the link' "$base.fields" || fail "tshark sees no drop comment in $f"
        fi
        rm -f "$base.fields"
      fi
    done
    echo "$out" | grep -q "^capture: [0-9]* packets in $base.client.pcapng, [0-9]* packets in $base.server.pcapng ([1-9][0-9]* marked as dropped" \
      || fail "no capture line with marked drops in: $out"
    # The client's capture holds the comments on its lost packets.
    grep -q 'dropped by the link: lost' "$base.client.pcapng" || fail "no drop comment in $base.client.pcapng"
  else
    fail "--pcap: $out"
  fi
  rm -f "$base.client.pcapng" "$base.server.pcapng"
  # A capture that cannot be written is an error, not a count of packets: the client's file
  # is /dev/full, where every write fails.
  ln -sf /dev/full "$base.client.pcapng"
  err=$("$utcp" sim --bytes 300000 --pcap "$base" 2>&1) && fail "sim --pcap to /dev/full exited 0: $err"
  echo "$err" | grep -q 'No space left on device' || fail "sim --pcap to /dev/full: $err"
  rm -f "$base.client.pcapng" "$base.server.pcapng"
fi

# Interval lines (iperf3's habit): with --interval, or by default on a terminal.
out=$("$utcp" sim --bytes 3000000 --loss 1 --interval 0.5 2>&1) || fail "sim --interval: $out"
lines=$(echo "$out" | grep -cE '^\[ *[0-9.]+- *[0-9.]+ +s\] +[0-9.]+ [KMG]?i?B +[0-9.]+ [kMG]bit/s +[0-9]+ +[0-9.]+ [KMG]?i?B +[0-9.]+ ms$')
[ "$lines" -ge 4 ] || fail "sim --interval 0.5: $lines interval lines in: $out"
echo "$out" | grep -qE '^\[ *0.00- *[0-9.]+ +s\] .* total' || fail "sim --interval: no total line in: $out"
[ "$(echo "$out" | grep -c '^\[')" -eq 0 ] && fail "no interval lines"
out=$("$utcp" sim --bytes 300000 2>&1)
echo "$out" | grep -q '^\[' && fail "interval lines when stdout is not a terminal: $out"
if command -v script >/dev/null 2>&1; then
  out=$(script -qec "$utcp sim --bytes 3000000 --loss 1" /dev/null 2>&1)
  echo "$out" | grep -qE '^\[ *0.00- *1.00 +s\]' || fail "no interval lines on a terminal: $out"
fi

# --json: one document (iperf3 -J), with the intervals and the summary.
if command -v python3 >/dev/null 2>&1; then
  "$utcp" sim --bytes 3000000 --loss 1 --json >"$dir/utcp_cli_test_$$.json" 2>&1 || fail "sim --json exited $?"
  python3 - "$dir/utcp_cli_test_$$.json" <<'PY' || fail "sim --json: $(head -c 300 "$dir/utcp_cli_test_$$.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["start"]["command"] == "sim", d["start"]
iv = d["intervals"]
assert len(iv) >= 2 and iv[0]["start"] == 0 and iv[0]["end"] == 1, iv[:2]
assert all(i["bytes"] >= 0 and "retransmits" in i and "snd_cwnd" in i and "rtt_ms" in i for i in iv)
e = d["end"]
assert e["ok"] is True and e["bytes"] == 3000000, e
assert sum(i["bytes"] for i in iv) == 3000000, "intervals add up to the transfer"
assert e["client"]["ssthresh"] < 2**31 - 1 and e["retransmits"] > 0, e
PY
  rm -f "$dir/utcp_cli_test_$$.json"
fi

# --trace: a row per change of either control block, with the documented columns.
trace="$dir/utcp_cli_test_$$.csv"
out=$("$utcp" sim --bytes 1000000 --loss 1 --trace "$trace" 2>&1) || fail "sim --trace: $out"
[ "$(head -1 "$trace")" = "time,flow,snd_una,snd_nxt,cwnd,ssthresh,srtt_ms,rto_ms,in_flight,retransmits,snd_wnd,pacing_rate,cc_state,bw,delivery_rate,delivered" ] \
  || fail "trace header: $(head -1 "$trace")"
rows=$(grep -c '^[0-9.]*,client,' "$trace")
[ "$rows" -gt 500 ] || fail "trace: $rows client rows for 1 MB"
echo "$out" | grep -q "^trace: [0-9]* rows in $trace" || fail "no trace line in: $out"
# snd_una counts the bytes acknowledged: it never goes back and reaches the last window.
grep ',client,' "$trace" | cut -d, -f3 | awk 'NR > 1 && $1 < last { bad = 1 } { last = $1 } END { exit bad || last < 900000 }' \
  || fail "trace: client snd_una goes back or stops short: $(grep ',client,' "$trace" | tail -1)"

# utcp plot (gnuplot): the PNG exists, has the size asked for, and gnuplot said nothing.
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }'; }
if command -v gnuplot >/dev/null 2>&1; then
  png="$dir/utcp_cli_test_$$.png"
  err=$("$utcp" plot "$trace" -o "$png" --size 800x600 2>&1) || fail "utcp plot: $err"
  [ -z "$err" ] || fail "utcp plot printed: $err"
  [ "$(od -An -tx1 -N8 "$png" | tr -d ' ')" = 89504e470d0a1a0a ] || fail "utcp plot wrote no PNG"
  [ "$(png_size "$png")" = 800x600 ] || fail "utcp plot: $(png_size "$png"), not 800x600"
  rm -f "$png"
  out=$("$utcp" sim --bytes 500000 --loss 1 --plot "$png" 2>&1) || fail "sim --plot: $out"
  [ "$(png_size "$png")" = 1200x1000 ] || fail "sim --plot: $(png_size "$png"), not 1200x1000"
  rm -f "$png"
  printf 'a,b\n1,2\n' >"$dir/utcp_cli_test_$$.bad.csv"
  err=$("$utcp" plot "$dir/utcp_cli_test_$$.bad.csv" -o "$png" 2>&1) && fail "utcp plot of a non-trace exited 0"
  echo "$err" | grep -q "no column 'time'" || fail "utcp plot of a non-trace: $err"
  rm -f "$dir/utcp_cli_test_$$.bad.csv" "$png"
  usage "utcp plot" plot "$trace" -o "$png" --size 10x10
else
  echo "cli_test: gnuplot is not installed (scripts/deps.sh installs gnuplot-nox): utcp plot not tested"
fi
rm -f "$trace"

"$utcp" sim --table --bytes 20000 | grep -q '^loss' || fail "--table has no header"

usage utcp
usage utcp nonsense
usage "utcp sim" sim --loss 150
usage "utcp sim" sim --loss -1
usage "utcp sim" sim --loss 101%
usage "utcp sim" sim --loss 2x
usage "utcp sim" sim --burst-loss 1
usage "utcp sim" sim --mss 100
usage "utcp sim" sim --mss 20000
usage "utcp sim" sim --buffer 10
usage "utcp sim" sim --delay x
usage "utcp sim" sim --ipv6 --mss 536
usage "utcp sim" sim --unknown-flag
# --table runs its own grid of loss and buffers on a fixed path: it refuses the link options
# instead of ignoring them.
for opt in "--delay 5" "--loss 1" "--rate 5" "--buffer 65536" "--queue 10" "--mss 1000" "--dup 1"; do
  # shellcheck disable=SC2086
  usage "utcp sim" sim --table $opt
done
bad sim --pcap /nonexistent/dir/x.pcap --bytes 1000

# --loss is a percentage with or without the sign, in sim as in serve/connect/get.
out=$("$utcp" sim --bytes 20000 --loss 2% --dup 1% 2>&1) || fail "sim --loss 2%: $out"
echo "$out" | grep -q 'loss 2%' || fail "sim --loss 2% is not 2 %: $out"

"$utcp" --version | grep -Eq '^utcp [0-9]+\.[0-9]+\.[0-9]+' || fail "--version: $("$utcp" --version 2>&1)"

# The final cwnd and ssthresh are the connection's last, not what the application last saw:
# after fast retransmits ssthresh is no longer its initial 2^31-1. (With a buffer that takes
# all the data at once, the application never looks again before the end.)
out=$("$utcp" sim --bytes 2000000 --buffer 4194304 --loss 2 --seed 5 2>&1) || fail "sim --loss 2: $out"
client=$(echo "$out" | grep '^  client:')
fast=$(echo "$client" | sed -n 's/.*fast \([0-9]*\);.*/\1/p')
[ "${fast:-0}" -gt 0 ] || fail "no fast retransmit to check ssthresh against: $client"
case $client in *"ssthresh 2147483647"*) fail "stale final ssthresh after $fast fast retransmits: $client" ;; esac

if "$utcp" script --help >/dev/null 2>&1; then
  err=$("$utcp" script "$dir" 2>&1) && fail "utcp script DIRECTORY exited 0: $err"
  echo "$err" | grep -q 'Is a directory' || fail "utcp script DIRECTORY: $err"
  echo "$err" | grep -q "^PASS" && fail "utcp script DIRECTORY says PASS: $err"
  err=$("$utcp" script "$dir/utcp_cli_test_missing_$$.pkt" 2>&1) && fail "utcp script MISSING exited 0"
  echo "$err" | grep -q 'No such file or directory' || fail "utcp script MISSING gives no errno: $err"
fi

if "$utcp" serve --help >/dev/null 2>&1; then
  # (A serve that wrongly starts is ended by timeout, after 10 s.)
  T="timeout 10"
  common="--ip 10.99.0.2 --port 7"
  # shellcheck disable=SC2086
  {
    usage "utcp serve" serve --tun x $common --loss 150
    usage "utcp serve" serve --tun x $common --loss 2x
    usage "utcp serve" serve --tun x $common --dup 101
    # Checked before any device is opened, so these need no root.
    err=$($T "$utcp" serve --tun bad/name $common --loss 2% 2>&1)
    [ $? -eq 2 ] || fail "serve --tun bad/name: $err"
    echo "$err" | grep -q 'not a valid device name' || fail "serve --tun bad/name: $err"
    err=$($T "$utcp" serve --tun x --ip 0.0.0.0 --port 7 2>&1)
    [ $? -eq 2 ] || fail "serve --ip 0.0.0.0: $err"
    echo "$err" | grep -q 'unspecified' || fail "serve --ip 0.0.0.0: $err"
    f="$dir/utcp_cli_test_root_$$"
    : >"$f"
    err=$($T "$utcp" serve --tun x $common --app http --root "$f" 2>&1)
    [ $? -eq 2 ] || fail "serve --root FILE: $err"
    echo "$err" | grep -q 'not a directory' || fail "serve --root FILE: $err"
    rm -f "$f"
  }
fi

# utcp explore: a small run to its bounds, its JSON, and usage errors (docs/EXPLORE.md).
out=$("$utcp" explore --scenario handshake --max-loss 1 --max-dup 1 --max-reorder 1 --quiet 2>&1) \
  || fail "explore handshake: exit $? with: $out"
echo "$out" | grep -q 'no violation, complete to the bounds' || fail "explore handshake: $out"
out=$("$utcp" explore --scenario transfer --max-loss 1 --max-dup 0 --max-reorder 0 --json --quiet 2>&1) \
  || fail "explore transfer --json: exit $? with: $out"
echo "$out" | grep -q '"violation": null' || fail "explore --json: $out"
echo "$out" | grep -q '"client_bytes": 100' || fail "explore transfer: not one 100-byte segment: $out"
usage "utcp explore" explore --scenario nope
usage "utcp explore" explore --max-loss x
usage "utcp explore" explore --depth 0

"$utcp" --help >/dev/null || fail "--help exits non-zero"
"$utcp" sim --help | grep -q -- '--burst-loss' || fail "sim --help lacks --burst-loss"

[ $failures -eq 0 ] && echo "cli_test: all passed"
exit $failures
