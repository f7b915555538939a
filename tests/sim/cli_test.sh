#!/bin/sh
# `utcp sim` from the outside: a run succeeds and prints its summary, a capture is written,
# the table prints, and bad flags give one line on stderr and a non-zero exit.
# Usage: cli_test.sh path/to/utcp [scratch-dir]
set -u
utcp=$1
dir=${2:-${TMPDIR:-/tmp}}
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

out=$("$utcp" sim --bytes 200000 --bytes-back 10000 --loss 1 --dup 1 --reorder 1 --corrupt 1 --seed 3 2>&1) \
  || fail "a lossy run: exit $? with: $out"
echo "$out" | grep -q '^data: OK' || fail "no 'data: OK' in: $out"
for word in goodput 'virtual' 'wall' 'segments sent' 'RTO' 'fast' 'duplicate ACKs' 'final cwnd'; do
  echo "$out" | grep -q "$word" || fail "summary lacks '$word'"
done

"$utcp" sim --bytes 20000 --ipv6 --mss 1220 --burst-loss 1,50 --nodelay --no-wscale >/dev/null 2>&1 \
  || fail "an IPv6 run with burst loss"

if "$utcp" sim --help 2>&1 | grep -q -- '--pcap'; then
  pcap="$dir/utcp_cli_test_$$.pcap"
  if out=$("$utcp" sim --bytes 30000 --pcap "$pcap" 2>&1); then
    [ -s "$pcap" ] || fail "--pcap wrote nothing"
    echo "$out" | grep -q '^capture: [0-9]* packets' || fail "no capture line in: $out"
    if command -v tshark >/dev/null 2>&1; then
      tshark -r "$pcap" -q >/dev/null 2>&1 || fail "tshark cannot read $pcap"
    fi
  else
    echo "$out" | grep -q 'libpcap' || fail "--pcap: $out"
  fi
  rm -f "$pcap"
fi

"$utcp" sim --table --bytes 20000 | grep -q '^loss' || fail "--table has no header"

# Each bad invocation: a non-zero exit below 128 (not a crash) and exactly one line on stderr.
bad() {
  err=$("$utcp" "$@" 2>&1 >/dev/null)
  rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then fail "'$*' exited $rc"; fi
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "'$*' printed more than one line: $err"
}
bad
bad nonsense
bad sim --loss 150
bad sim --loss -1
bad sim --burst-loss 1
bad sim --mss 100
bad sim --mss 20000
bad sim --buffer 10
bad sim --delay x
bad sim --ipv6 --mss 536
bad sim --pcap /nonexistent/dir/x.pcap --bytes 1000
bad sim --unknown-flag

"$utcp" --help >/dev/null || fail "--help exits non-zero"
"$utcp" sim --help | grep -q -- '--burst-loss' || fail "sim --help lacks --burst-loss"

[ $failures -eq 0 ] && echo "cli_test: all passed"
exit $failures
