#!/usr/bin/env bash
# The TUN demo: utcp serves a generated file over HTTP on a TUN device in a private network
# namespace, Linux's curl fetches it, and the transfer rate, the sha256 check and the stack's
# counters are printed. Everything is removed afterwards. Needs root, /dev/net/tun, ip and
# curl; without one of them it says why and exits 3 (scripts/demo.sh then runs the simulator).
# Usage: scripts/demo-tun.sh UTCP_BINARY [BYTES]
set -euo pipefail
UTCP=${1:?usage: demo-tun.sh UTCP_BINARY [BYTES]}
BYTES=${2:-67108864}

cannot() {
  echo "demo: no TUN demo here: $1" >&2
  exit 3
}
[ "$(id -u)" = 0 ] || cannot "not root (a TUN device and a network namespace need root: sudo make demo)"
[ -c /dev/net/tun ] || cannot "/dev/net/tun is missing: no TUN support in this kernel or container"
command -v ip >/dev/null || cannot "the ip command (iproute2) is missing"
command -v curl >/dev/null || cannot "curl is missing"
"$UTCP" serve --help >/dev/null 2>&1 || cannot "this utcp was built without the io layer (libpcap-dev missing?)"

NS=utcp-demo-$$-$RANDOM
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
ip netns add "$NS" 2>/dev/null || cannot "cannot create a network namespace"
ip netns exec "$NS" ip link set lo up

echo "demo: generating a $((BYTES / 1048576)) MiB file"
mkdir "$TMP/www"
head -c "$BYTES" /dev/urandom >"$TMP/www/file"
want=$(sha256sum "$TMP/www/file" | cut -d' ' -f1)

echo "demo: utcp serve --app http on device utcp0 (utcp 10.99.0.2, Linux 10.99.0.1/24) in namespace $NS"
ip netns exec "$NS" "$UTCP" serve --tun utcp0 --ip 10.99.0.2 --kernel-ip 10.99.0.1/24 --port 80 --app http \
  --root "$TMP/www" --verbose 2>"$TMP/serve.log" &
SERVER=$!
up=
for _ in $(seq 100); do
  if ip netns exec "$NS" curl -s -o /dev/null -I http://10.99.0.2/file 2>/dev/null; then
    up=1
    break
  fi
  kill -0 "$SERVER" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$up" ]; then
  echo "demo: utcp serve did not come up:" >&2
  sed 's/^/  /' "$TMP/serve.log" >&2
  exit 1
fi

echo "demo: Linux's curl fetches http://10.99.0.2/file"
stats=$(ip netns exec "$NS" curl -sS -f -o "$TMP/got" -w '%{size_download} %{time_total} %{speed_download}' \
  http://10.99.0.2/file)
read -r size secs speed <<<"$stats"
got=$(sha256sum "$TMP/got" | cut -d' ' -f1)
awk -v n="$size" -v t="$secs" -v r="$speed" \
  'BEGIN { printf "demo: %d bytes in %.2f s: %.1f MiB/s (%.0f Mbit/s)\n", n, t, r / 1048576, r * 8 / 1e6 }'
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
