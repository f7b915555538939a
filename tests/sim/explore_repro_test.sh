#!/bin/sh
# `utcp explore --repro` (docs/EXPLORE.md, "Reproducers"): for each planted bug
# (Config::TestFaults), explore finds it and writes a script and a pcap; `utcp script` fails on
# the script with its --test_fault line and passes without it; the pcap holds the run's
# segments (tcpdump reads it when installed).
# Usage: explore_repro_test.sh path/to/utcp [scratch-dir]
set -u
utcp=$1
dir=${2:-${TMPDIR:-/tmp}}/explore_repro_test_$$
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
mkdir -p "$dir" || exit 1
trap 'rm -rf "$dir"' EXIT

# check NAME SCENARIO FAULT EXPECTED-FAILURE EXPLORE-OPTIONS...
check() {
  name=$1 scenario=$2 fault=$3 expect=$4
  shift 4
  out=$("$utcp" explore --scenario "$scenario" --test-fault "$fault" --repro "$dir/$name" --quiet "$@" 2>&1)
  rc=$?
  [ $rc -eq 1 ] || { fail "$name: explore exited $rc, not 1 (a violation): $out"; return; }
  pkt="$dir/$name/$scenario.pkt" pcap="$dir/$name/$scenario.pcap"
  echo "$out" | grep -q "^reproducer: $pkt .*$pcap (\([0-9]*\) segments)" || fail "$name: no reproducer line: $out"
  grep -q "^--test_fault=$fault\$" "$pkt" || fail "$name: $pkt has no --test_fault=$fault line"
  line=$(echo "$out" | sed -n 's/.*the script fails at line \([0-9]*\);.*/\1/p')
  [ -n "$line" ] || fail "$name: explore does not say where the script fails: $out"
  # With the fault: the script fails, at the line explore named, in the expected way.
  res=$("$utcp" script "$pkt" 2>&1) && fail "$name: the script passes with the fault: $res"
  echo "$res" | grep -q "^FAIL $pkt:$line: $expect" || fail "$name: not '$pkt:$line: $expect': $res"
  # Without it: a correct stack passes the same script.
  grep -v '^--test_fault=' "$pkt" >"$dir/$name/correct.pkt"
  res=$("$utcp" script "$dir/$name/correct.pkt" 2>&1) || fail "$name: a correct stack fails the script: $res"
  # The pcap: as many records as segments explore reported, read back by tcpdump.
  n=$(echo "$out" | sed -n 's/^reproducer: .*(\([0-9]*\) segments)$/\1/p')
  [ -n "$n" ] && [ "$n" -gt 0 ] || fail "$name: no segment count: $out"
  if command -v tcpdump >/dev/null 2>&1; then
    got=$(tcpdump -nr "$pcap" 2>/dev/null | grep -c ' IP 10\.0\.0\.[12]\.[0-9]* > 10\.0\.0\.[12]\.[0-9]*: Flags')
    [ "$got" = "$n" ] || fail "$name: tcpdump reads $got TCP segments from $pcap, explore wrote $n"
  fi
  # The JSON names the same files.
  js=$("$utcp" explore --scenario "$scenario" --test-fault "$fault" --repro "$dir/$name" --quiet --json "$@" 2>/dev/null)
  echo "$js" | grep -q "\"script\": \"$pkt\"" || fail "$name: --json lacks the script: $js"
  echo "$js" | grep -q "\"failing_line\": $line" || fail "$name: --json lacks failing_line $line: $js"
}

# RFC 6298 §5.3: a partial ACK stops the retransmission timer; the script expects the
# retransmission at the RTO deadline, which the faulty stack never sends.
check partial_ack transfer partial_ack_stops_rto "missing segment" \
  --bytes 600 --mtu 576 --nodelay --max-loss 1 --max-dup 0 --max-reorder 0 --depth 30
# RFC 9293 §3.10.7.4: a FIN beyond a gap taken as in order; the script expects the ACK that
# still names the gap.
check fin_ooo close accept_fin_out_of_order "wrong ack" \
  --bytes 100 --max-loss 0 --max-dup 0 --max-reorder 1 --max-timers 2 --depth 20

# The other side's point of view (no fault there): the run as that stack made it, which passes.
out=$("$utcp" explore --scenario close --test-fault server:accept_fin_out_of_order --repro "$dir/client" --repro-side client \
  --bytes 100 --max-loss 0 --max-dup 0 --max-reorder 1 --max-timers 2 --depth 20 --quiet 2>&1)
echo "$out" | grep -q "^reproducer: .*(the client's point of view" || fail "--repro-side client: $out"
grep -q '^--test_fault' "$dir/client/close.pkt" && fail "the client's script plants a fault"
res=$("$utcp" script "$dir/client/close.pkt" 2>&1) || fail "the client's recorded run fails: $res"

usage_error() {
  err=$("$utcp" "$@" 2>&1 >/dev/null)
  [ $? -eq 2 ] || fail "'$*' is not a usage error: $err"
}
usage_error explore --test-fault nope
usage_error explore --test-fault middle:partial_ack_stops_rto
usage_error explore --repro-side both

# A run without a violation writes nothing.
"$utcp" explore --scenario handshake --max-loss 0 --max-dup 0 --max-reorder 0 --repro "$dir/none" --quiet >/dev/null 2>&1 \
  || fail "a clean run with --repro failed"
[ -e "$dir/none" ] && fail "a clean run wrote $dir/none"

if [ $failures -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "explore reproducers: OK"
