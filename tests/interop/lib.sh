# Shared by the interop tests: each test runs utcp on a TUN device inside a network
# namespace of its own, with Linux's TCP as the peer, and removes everything it made on
# exit, also on failure. Usage: source lib.sh; it_init NAME INDEX (INDEX picks the subnet:
# 10.77.INDEX.0/24 and fd00:77:INDEX::/64, so tests can run in parallel).
# UTCP_IT_OFFLOAD=off and UTCP_IT_THREADS=N choose the path under test (see it_init).
set -euo pipefail

IT_SKIP=77
IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT_PIDS=()
IT_NS=
IT_MORE_NS=()  # further namespaces a test made (a router's other side); deleted on exit
IT_TMP=

it_log() { echo "[$IT_NAME] $*" >&2; }
it_fail() {
  it_log "FAIL: $*"
  exit 1
}
it_skip() {
  echo "[$IT_NAME] SKIP: $*" >&2
  exit $IT_SKIP
}

it_cleanup() {
  local rc=$?
  set +e
  local pid ns
  for pid in "${IT_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${IT_PIDS[@]}"; do
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  [ -n "$IT_NS" ] && ip netns del "$IT_NS" 2>/dev/null
  for ns in "${IT_MORE_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  [ -n "$IT_TMP" ] && [ -z "${IT_KEEP:-}" ] && rm -rf "$IT_TMP"
  if [ $rc -ne 0 ] && [ $rc -ne $IT_SKIP ] && [ -d "${IT_LOGS:-}" ]; then
    for f in "$IT_LOGS"/*.log; do
      [ -s "$f" ] && { echo "---- $(basename "$f")"; tail -n 30 "$f"; }
    done >&2
  fi
  [ -n "${IT_LOGS:-}" ] && rm -rf "$IT_LOGS"
  exit $rc
}

# it_init NAME INDEX: checks the prerequisites (skips without them), makes the namespace.
it_init() {
  IT_NAME=$1
  local index=$2
  UTCP=${UTCP:?the utcp binary}
  [ "$(id -u)" = 0 ] || it_skip "needs root (network namespaces and TUN devices)"
  [ -c /dev/net/tun ] || it_skip "/dev/net/tun is missing: no TUN support here"
  command -v ip >/dev/null || it_skip "the ip command (iproute2) is missing"
  command -v python3 >/dev/null || it_fail "python3 is missing"
  KIP=10.77.$index.1
  UIP=10.77.$index.2
  KIP6=fd00:77:$index::1
  UIP6=fd00:77:$index::2
  KCIDR=$KIP/24
  KCIDR6=$KIP6/64
  IT_NS=utcp-it-$IT_NAME-$$-$RANDOM
  trap it_cleanup EXIT
  trap 'exit 130' INT TERM
  if ! ip netns add "$IT_NS" 2>/dev/null; then
    IT_NS=
    it_skip "cannot create a network namespace (ip netns add failed)"
  fi
  ip netns exec "$IT_NS" ip link set lo up
  IT_TMP=$(mktemp -d /tmp/utcp-it-$IT_NAME.XXXXXX)
  IT_LOGS=$(mktemp -d /tmp/utcp-it-logs-$IT_NAME.XXXXXX)
  # The tools' options under test, from the registration (CMakeLists.txt): UTCP_IT_OFFLOAD=off
  # adds --no-offload to serve, connect and get; UTCP_IT_THREADS=N adds --threads N to serve.
  # A wrapper adds them; `exec` keeps the pid the tool's own.
  local tun_opts="" serve_opts=""
  [ "${UTCP_IT_OFFLOAD:-on}" = off ] && tun_opts="--no-offload"
  [ -n "${UTCP_IT_THREADS:-}" ] && serve_opts="--threads $UTCP_IT_THREADS"
  if [ -n "$tun_opts$serve_opts" ]; then
    cat >"$IT_TMP/utcp" <<WRAP
#!/usr/bin/env bash
case "\$1" in
  serve) exec "$UTCP" serve $tun_opts $serve_opts "\${@:2}" ;;
  connect | get) exec "$UTCP" "\$1" $tun_opts "\${@:2}" ;;
esac
exec "$UTCP" "\$@"
WRAP
    chmod +x "$IT_TMP/utcp"
    UTCP=$IT_TMP/utcp
    it_log "utcp serve ${tun_opts:+$tun_opts }${serve_opts:-(default threads)}"
  fi
  it_log "namespace $IT_NS"
}

# Runs a command inside the namespace.
in_ns() { ip netns exec "$IT_NS" "$@"; }

# it_bg NAME CMD...: starts CMD in the namespace in the background, output to a log file;
# sets IT_LAST_PID. `ip netns exec` execs, so the pid is the command's own.
it_bg() {
  local name=$1
  shift
  ip netns exec "$IT_NS" "$@" >"$IT_LOGS/$name.log" 2>&1 &
  IT_LAST_PID=$!
  IT_PIDS+=("$IT_LAST_PID")
}

# it_stop PID: ends a process this test started (SIGTERM, then SIGKILL) and reaps it.
it_stop() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# it_serve NAME IP KCIDR PORT APP [ARGS...]: utcp serve on device NAME; waits until it
# accepts connections.
it_serve() {
  local dev=$1 ip=$2 kcidr=$3 port=$4 app=$5
  shift 5
  it_bg "serve-$dev" "$UTCP" serve --tun "$dev" --ip "$ip" --kernel-ip "$kcidr" --port "$port" --app "$app" "$@"
  SERVE_PID=$IT_LAST_PID
  in_ns python3 "$IT_DIR/helpers.py" wait "$ip" "$port" 10 || it_fail "utcp serve on $ip:$port did not come up"
}

# it_capture NS DEV FILE: tcpdump of DEV's TCP packets (headers only) in namespace NS, in the
# background until it_stop; sets CAP_PID once tcpdump listens.
it_capture() {
  ip netns exec "$1" tcpdump -i "$2" -nn -s 128 -B 32768 --immediate-mode -U -w "$3" tcp >"$IT_LOGS/tcpdump-$2.log" 2>&1 &
  CAP_PID=$!
  IT_PIDS+=("$CAP_PID")
  for _ in $(seq 100); do
    grep -q 'listening on' "$IT_LOGS/tcpdump-$2.log" && return
    sleep 0.1
  done
  it_fail "tcpdump on $2 did not start"
}

# it_settle FILE: waits (at most 10 s) until tcpdump stops adding to FILE, so that stopping it
# loses nothing still in its buffer on a loaded machine.
it_settle() {
  local last=-1 size
  for _ in $(seq 50); do
    size=$(stat -c %s "$1")
    [ "$size" = "$last" ] && return
    last=$size
    sleep 0.2
  done
}

it_sha() { sha256sum "$1" | cut -d' ' -f1; }

# it_random FILE BYTES: a file of random bytes.
it_random() { head -c "$2" /dev/urandom >"$1"; }

# Linux's count of TCP segments with a bad checksum in the namespace; must stay 0.
it_check_csum() {
  local n
  n=$(in_ns nstat -az TcpInCsumErrors | awk '$1 == "TcpInCsumErrors" { print $2 }')
  [ "${n:-0}" = 0 ] || it_fail "TcpInCsumErrors is $n"
}

# it_rate BYTES SECONDS: "12.3 MiB/s".
it_rate() { python3 -c "import sys; b,s=float(sys.argv[1]),float(sys.argv[2]); print(f'{b/max(s,1e-9)/1048576:.1f} MiB/s')" "$1" "$2"; }
now_s() { date +%s.%N; }
