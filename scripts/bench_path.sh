# Sourced by the bench scripts that measure through a Linux router (bench_device.sh,
# bench_router.sh): the path, its cleanup and the skip rule, written once.
#
#   C (curl, 10.83.0.2) --veth-- R (router) --veth-- S (10.82.0.1; TUN devices route 10.81.0.0/24)
#
# Offloads are off on every veth: the kernel segments in software, as on a NIC without TSO,
# and a router that drops packets drops segments, not 64 KiB super-segments.
# The caller passes a short prefix for the names and may append the pids it starts to `pids`;
# afterwards C, R, S, tmp and pids are set, and everything is removed on exit.

skip() {
  echo "skipped: $1"
  exit 0
}

# bench_path_require TOOL...: skips unless root with /dev/net/tun and every TOOL installed.
bench_path_require() {
  [ "$(id -u)" = 0 ] || skip "not root (namespaces and a TUN device)"
  [ -c /dev/net/tun ] || skip "/dev/net/tun is missing"
  local c
  for c in "$@"; do command -v "$c" >/dev/null || skip "$c is missing (scripts/deps.sh)"; done
}

# bench_path_setup PREFIX: the namespaces, veths, addresses and routes.
bench_path_setup() {
  local id=$$-$RANDOM
  C=$1-c-$id R=$1-r-$id S=$1-s-$id
  tmp=$(mktemp -d "/tmp/$1.XXXXXX")
  pids=()
  trap bench_path_cleanup EXIT
  trap 'exit 130' INT TERM
  local ns
  for ns in "$C" "$R" "$S"; do
    ip netns add "$ns" || skip "cannot create a network namespace"
    ip netns exec "$ns" ip link set lo up
  done
  ip -n "$C" link add vc type veth peer name vrc netns "$R"
  ip -n "$S" link add vs type veth peer name vrs netns "$R"
  ip -n "$C" addr add 10.83.0.2/24 dev vc
  ip -n "$R" addr add 10.83.0.1/24 dev vrc
  ip -n "$R" addr add 10.82.0.2/24 dev vrs
  ip -n "$S" addr add 10.82.0.1/24 dev vs
  local nd dev
  for nd in "$C vc" "$R vrc" "$R vrs" "$S vs"; do
    read -r ns dev <<<"$nd"
    ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off >/dev/null 2>&1 || echo "note: ethtool -K $dev refused"
    ip -n "$ns" link set "$dev" up
  done
  ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
  ip netns exec "$S" sysctl -qw net.ipv4.ip_forward=1
  ip -n "$C" route add default via 10.83.0.1
  ip -n "$R" route add 10.81.0.0/24 via 10.82.0.1
  ip -n "$S" route add default via 10.82.0.2
}

# Ends the processes this script started (by pid), then removes the namespaces and files.
bench_path_cleanup() {
  set +e
  local p ns
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  for ns in "$C" "$R" "$S"; do [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null; done
  [ -n "$tmp" ] && rm -rf "$tmp"
}

# bench_wait_up URL: waits (10 s at most) until C can fetch URL's headers; else shows serve's log and exits.
bench_wait_up() {
  for _ in $(seq 100); do
    ip netns exec "$C" curl -s -m 2 -o /dev/null -I "$1" && return
    sleep 0.1
  done
  echo "$(basename "$0"): $1 did not come up" >&2
  cat "$tmp/serve.log" >&2
  exit 1
}

# bench_serve [OPTIONS...]: (re)starts `utcp serve` (UTCP) in S on TUN ut0, 10.81.0.2:80, serving
# $tmp/www over HTTP with OPTIONS added; sets utcp_pid and waits until C reaches it.
utcp_pid=
bench_serve() {
  if [ -n "$utcp_pid" ]; then
    kill -TERM "$utcp_pid"
    wait "$utcp_pid" 2>/dev/null || true
  fi
  ip netns exec "$S" "$UTCP" serve --tun ut0 --ip 10.81.0.2 --kernel-ip 10.81.0.1/24 --port 80 --app http \
    --root "$tmp/www" "$@" >"$tmp/serve.log" 2>&1 &
  utcp_pid=$!
  pids+=("$utcp_pid")
  bench_wait_up http://10.81.0.2/file
}
