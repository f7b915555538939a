#!/bin/sh
# `utcp sim` from the outside: a run succeeds and prints its summary, a capture is written,
# the table prints, and bad flags give one line on stderr and a non-zero exit.
# Usage: cli_test.sh path/to/utcp [scratch-dir]
set -u
utcp=$1
dir=${2:-${TMPDIR:-/tmp}}
failures=0
T=
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

"$utcp" --help >/dev/null || fail "--help exits non-zero"
"$utcp" sim --help | grep -q -- '--burst-loss' || fail "sim --help lacks --burst-loss"

[ $failures -eq 0 ] && echo "cli_test: all passed"
exit $failures
