#!/usr/bin/env bash
# make demo on a real network: utcp serves a generated file over HTTP on a TUN device in a
# private network namespace, Linux's curl fetches it, and the transfer rate, the sha256
# check and the stack's counters are printed. Everything is removed afterwards. Without
# root or TUN support it says why and runs the simulator instead.
# Usage: scripts/demo-tun.sh UTCP_BINARY [BYTES]
set -euo pipefail
UTCP=${1:?usage: demo-tun.sh UTCP_BINARY [BYTES]}
BYTES=${2:-67108864}

fallback() {
  echo "demo: $1; running the simulator instead (utcp sim)" >&2
  exec "$UTCP" sim --bytes 16777216 --loss 1 --seed 1
}
[ "$(id -u)" = 0 ] || fallback "not root: a TUN device and a network namespace need root"
[ -c /dev/net/tun ] || fallback "/dev/net/tun is missing: no TUN support here"
command -v ip >/dev/null || fallback "the ip command (iproute2) is missing"
command -v curl >/dev/null || fallback "curl is missing"
"$UTCP" serve --help >/dev/null 2>&1 || fallback "this utcp was built without the io layer"

NS=utcp-demo-$$
TMP=$(mktemp -d /tmp/utcp-demo.XXXXXX)
SERVER=
cleanup() {
  set +e
  if [ -n "$SERVER" ]; then
    kill -TERM "$SERVER" 2>/dev/null
    wait "$SERVER" 2>/dev/null
  fi
  ip netns del "$NS" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$NS" 2>/dev/null || fallback "cannot create a network namespace"
ip netns exec "$NS" ip link set lo up

echo "demo: generating a $((BYTES / 1048576)) MiB file"
mkdir "$TMP/www"
head -c "$BYTES" /dev/urandom >"$TMP/www/file"
want=$(sha256sum "$TMP/www/file" | cut -d' ' -f1)

echo "demo: utcp serve --app http on device utcp0 (utcp 10.99.0.2, Linux 10.99.0.1/24) in namespace $NS"
ip netns exec "$NS" "$UTCP" serve --tun utcp0 --ip 10.99.0.2 --kernel-ip 10.99.0.1/24 --port 80 --app http \
  --root "$TMP/www" --verbose 2>"$TMP/serve.log" &
SERVER=$!
for _ in $(seq 100); do
  ip netns exec "$NS" curl -s -o /dev/null -I http://10.99.0.2/file 2>/dev/null && break
  sleep 0.1
done

echo "demo: Linux's curl fetches http://10.99.0.2/file"
stats=$(ip netns exec "$NS" curl -sS -f -o "$TMP/got" -w '%{size_download} %{time_total} %{speed_download}' \
  http://10.99.0.2/file)
read -r size secs speed <<<"$stats"
got=$(sha256sum "$TMP/got" | cut -d' ' -f1)
printf 'demo: %s bytes in %.2f s: %.1f MiB/s (%.0f Mbit/s)\n' "$size" "$secs" \
  "$(echo "$speed / 1048576" | bc -l)" "$(echo "$speed * 8 / 1000000" | bc -l)"
if [ "$got" = "$want" ]; then
  echo "demo: sha256 ok ($got)"
else
  echo "demo: sha256 MISMATCH: sent $want, received $got" >&2
  exit 1
fi
kill -TERM "$SERVER"
wait "$SERVER" || true
SERVER=
echo "demo: the stack's counters"
grep -v '^http: ' "$TMP/serve.log" | sed 's/^/  /'
