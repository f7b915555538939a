#!/usr/bin/env bash
# 1 (and 7 with --v6): curl downloads 1 KiB, 1 MiB and 256 MiB from `utcp serve --app http`;
# the sha256 of each matches. Also: 404, HEAD, keep-alive, and nothing outside the root.
UTCP=$1
FAMILY=${2:-v4}
source "$(dirname "$0")/lib.sh"
if [ "$FAMILY" = v6 ]; then it_init http6 7; else it_init http 1; fi
command -v curl >/dev/null || it_fail "curl is missing"
BIG=${UTCP_IT_BIG:-268435456}

root=$IT_TMP/root
mkdir -p "$root/sub"
it_random "$root/small" 1024
it_random "$root/medium" 1048576
it_random "$root/big" "$BIG"
echo secret >"$IT_TMP/outside"
ln -s "$IT_TMP/outside" "$root/escape"
echo "<p>index</p>" >"$root/sub/index.html"

if [ "$FAMILY" = v6 ]; then
  ip=$UIP6 kcidr=$KCIDR6 host="[$UIP6]"
else
  ip=$UIP kcidr=$KCIDR host=$UIP
fi
it_serve ut0 "$ip" "$kcidr" 8080 http --root "$root"

for f in small medium big; do
  t0=$(now_s)
  in_ns curl -sS -f -g -o "$IT_TMP/got-$f" "http://$host:8080/$f" || it_fail "curl $f"
  t1=$(now_s)
  [ "$(it_sha "$IT_TMP/got-$f")" = "$(it_sha "$root/$f")" ] || it_fail "sha256 of $f differs"
  size=$(stat -c %s "$root/$f")
  it_log "$f: $size bytes, sha256 ok, $(it_rate "$size" "$(echo "$t1 - $t0" | bc -l)")"
  rm -f "$IT_TMP/got-$f"
done

code() { in_ns curl -s -g -o /dev/null -w '%{http_code}' --path-as-is "$@"; }
[ "$(code "http://$host:8080/missing")" = 404 ] || it_fail "missing file is not 404"
[ "$(code "http://$host:8080/../outside")" != 200 ] || it_fail "served ../outside"
[ "$(code "http://$host:8080/%2e%2e/outside")" != 200 ] || it_fail "served %2e%2e/outside"
[ "$(code "http://$host:8080/sub/%2E%2E/%2e%2e/outside")" != 200 ] || it_fail "served encoded dots"
[ "$(code "http://$host:8080/escape")" != 200 ] || it_fail "followed a symlink out of the root"
[ "$(code "http://$host:8080/sub/")" = 200 ] || it_fail "directory index not served"
[ "$(code -I "http://$host:8080/medium")" = 200 ] || it_fail "HEAD failed"
len=$(in_ns curl -sS -g -I "http://$host:8080/medium" | tr -d '\r' | awk -F': ' 'tolower($1) == "content-length" { print $2 }')
[ "$len" = 1048576 ] || it_fail "HEAD Content-Length is '$len'"
# Two requests on one connection (keep-alive): curl reports reusing it.
in_ns curl -sS -g -v -o /dev/null -o /dev/null "http://$host:8080/small" "http://$host:8080/small" 2>&1 |
  grep -qi 're-using existing connection' || it_fail "keep-alive: the connection was not reused"
# A malformed request gets 400.
reply=$(in_ns python3 -c "
import socket,sys
s=socket.create_connection(('$ip',8080)); s.sendall(b'NONSENSE\r\n\r\n'); print(s.recv(100).split(b'\r\n')[0].decode())")
[[ "$reply" == "HTTP/1.1 400"* ]] || it_fail "malformed request answered '$reply'"
it_check_csum
it_log "PASS"
