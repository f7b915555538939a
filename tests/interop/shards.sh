#!/usr/bin/env bash
# 21: one stack per core. `serve --threads 2` opens a multi-queue TUN device with a host and an
# I/O thread per queue; 16 parallel curl downloads are spread by the kernel over both queues,
# each accepted by the listener of its own shard, all intact. On a persistent single-queue
# device --threads 2 falls back to one shard with a message and still serves.
UTCP=$1
source "$(dirname "$0")/lib.sh"
it_init shards 21
command -v curl >/dev/null || it_fail "curl is missing"

mkdir -p "$IT_TMP/root"
it_random "$IT_TMP/root/file" 1048576
want=$(it_sha "$IT_TMP/root/file")

# download N: N parallel curls of the file, each checked.
download() {
  local pids=() i
  for i in $(seq "$1"); do
    in_ns curl -sS -f -o "$IT_TMP/got$i" "http://$UIP/file" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || it_fail "a parallel curl failed"; done
  for i in $(seq "$1"); do
    [ "$(it_sha "$IT_TMP/got$i")" = "$want" ] || it_fail "download $i differs"
  done
}

it_serve ut0 "$UIP" "$KCIDR" 80 http --root "$IT_TMP/root" --threads 2 -v
download 16
it_stop "$SERVE_PID"
log=$IT_LOGS/serve-ut0.log
grep -q "2 queues and threads" "$log" || it_fail "serve did not report two shards"
s0=$(grep -c '^accepted .*shard 0)' "$log" || true)
s1=$(grep -c '^accepted .*shard 1)' "$log" || true)
# 16 downloads, and the connection of it_serve's readiness check when it was still there to accept.
[ $((s0 + s1)) -ge 16 ] || it_fail "accepted $s0 + $s1 connections, fewer than 16"
# 16 flows all hashed to one queue: a chance of 2 in 65,536.
[ "$s0" -gt 0 ] && [ "$s1" -gt 0 ] || it_fail "one shard got every connection ($s0 / $s1)"
grep -q '^shard 1 (queue 1 of ut0):' "$log" || it_fail "no counters for shard 1"
it_log "16 downloads: $s0 on shard 0, $s1 on shard 1"

# A persistent device made without IFF_MULTI_QUEUE: one shard, and a line saying why.
in_ns ip tuntap add dev ut1 mode tun
it_serve ut1 "$UIP" "$KCIDR" 80 http --root "$IT_TMP/root" --threads 2
download 4
it_stop "$SERVE_PID"
grep -q 'no multi-queue TUN device' "$IT_LOGS/serve-ut1.log" || it_fail "no fallback message: $(cat "$IT_LOGS/serve-ut1.log")"
it_check_csum
it_log "PASS"
