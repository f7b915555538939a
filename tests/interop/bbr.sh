#!/usr/bin/env bash
# BBR (issue 17) against Linux: `utcp connect --cc bbr` sends 16 MiB to a Python sink on the
# Linux side, without loss and with 3 % seeded loss each way in utcp's driver (plus 5 ms each
# way, so that the path has a round trip for BBR's model); the sha256 must match, and utcp's
# --trace must show BBR at work: its states through Startup into ProbeBW, a bandwidth estimate,
# delivery-rate samples and every byte counted delivered.
UTCP=$1
source "$(dirname "$0")/lib.sh"
it_init bbr 23
N=${UTCP_IT_BBR:-16777216}
it_random "$IT_TMP/up" "$N"

wait_listening() {
  for _ in $(seq 100); do grep -q listening "$IT_LOGS/$1.log" 2>/dev/null && return 0; sleep 0.05; done
  it_fail "$1 did not start"
}

port=5100
for loss in 0 3; do
  port=$((port + 1))
  it_bg "sink$loss" python3 "$IT_DIR/helpers.py" sink 0.0.0.0 "$port" "$IT_TMP/sunk$loss"
  sink=$IT_LAST_PID
  wait_listening "sink$loss"
  t0=$(now_s)
  in_ns "$UTCP" connect --tun ut0 --ip "$UIP" --kernel-ip "$KCIDR" --cc bbr --delay 5 --loss "$loss" --seed 17 \
    --to "$KIP:$port" --send "$IT_TMP/up" --out /dev/null --trace "$IT_TMP/bbr$loss.csv" 2>"$IT_LOGS/connect$loss.log" ||
    it_fail "connect --cc bbr at $loss % loss: $(tail -3 "$IT_LOGS/connect$loss.log")"
  t1=$(now_s)
  wait "$sink" || it_fail "sink server ($loss % loss)"
  [ "$(it_sha "$IT_TMP/sunk$loss")" = "$(it_sha "$IT_TMP/up")" ] || it_fail "sha256 differs at $loss % loss"
  it_log "utcp bbr -> linux, $loss % loss each way, 5 ms each way: $N bytes, $(it_rate "$N" "$(echo "$t1 - $t0" | bc -l)")"
  python3 - "$IT_TMP/bbr$loss.csv" "$N" "$loss" <<'PY' || it_fail "the trace at $loss % loss does not show BBR at work"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
n, loss = int(sys.argv[2]), sys.argv[3]
assert rows, "no rows"
states = [r["cc_state"] for r in rows]
assert states[0] in ("Startup", ""), states[0]
assert any(s.startswith("ProbeBW") for s in states), sorted(set(states))
assert all(int(r["pacing_rate"]) > 0 for r in rows if r["cc_state"]), "BBR paces always"
assert max(int(r["bw"]) for r in rows) > 0 and max(int(r["delivery_rate"]) for r in rows) > 0
last = max(int(r["delivered"]) for r in rows)
assert last >= n, f"delivered {last} of {n}"
seen = []
for s in states:
    if s and (not seen or seen[-1] != s):
        seen.append(s)
print(f"[bbr] {loss} % loss: states {' '.join(seen[:8])}{' ...' if len(seen) > 8 else ''}; "
      f"bw up to {max(int(r['bw']) for r in rows) / 1048576:.1f} MiB/s; "
      f"{max(int(r['retransmits']) for r in rows)} retransmitted segments", file=sys.stderr)
PY
done
it_check_csum
it_log "PASS"
