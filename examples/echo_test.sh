#!/usr/bin/env bash
# The echo examples end to end on the loopback interface: echo_client against echo_server
# (both over the C ABI) and against core_echo (the C++ core in its own loop). Each server
# serves one connection and exits; the client must get its line back byte for byte.
# Usage: echo_test.sh DIR_WITH_THE_EXAMPLES
set -euo pipefail
dir=${1:?usage: echo_test.sh DIR}
tmp=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

for s in echo_server core_echo; do
  "$dir/$s" 0 1 >"$tmp/$s.out" 2>&1 &
  server=$!
  port=
  for _ in $(seq 100); do
    port=$(sed -n '1s/.*udp 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/$s.out")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "FAIL: $s did not start:"; cat "$tmp/$s.out"; exit 1; }
  got=$(timeout 20 "$dir/echo_client" "$port" hello from utcp)
  [ "$got" = "hello from utcp" ] || { echo "FAIL: $s echoed '$got'"; exit 1; }
  timeout 20 tail --pid="$server" -f /dev/null || { echo "FAIL: $s did not exit after one connection"; exit 1; }
  wait "$server" || { echo "FAIL: $s exited $?:"; cat "$tmp/$s.out"; exit 1; }
  server=
  grep -q 'served 1 connection' "$tmp/$s.out" || { echo "FAIL: $s:"; cat "$tmp/$s.out"; exit 1; }
  echo "ok: echo_client -> $s: '$got'"
done
