#!/usr/bin/env bash
# Where the CPU goes on the device path: N concurrent downloads of MB MiB from `utcp serve
# --threads T` over TUN, through the Linux router of bench_path.sh (C curl -> R -> S), with the
# CPU time of every participant over the downloads:
#   - utcp serve: each thread's user + system time (/proc/PID/task/TID/stat), the I/O threads
#     (one per shard) apart from the connection threads;
#   - the curls: their user + system time (the shell's `times` for its waited children);
#   - ksoftirqd/0 and /1; softirq time (the forwarding in S and R, the client's TCP receive)
#     is shown apart but is inside the times above: this kernel accounts CPU time by ticks
#     (no CONFIG_IRQ_TIME_ACCOUNTING), so a tick in softirq counts for the task it interrupted,
#     mostly the utcp I/O thread or curl whose system call raised it;
#   - the whole machine (/proc/stat: user, system, softirq, idle), from which "everything
#     else" is what none of the above ran (other processes on the machine).
# From the download's own CPU per MiB (server + curls + ksoftirqd) it prints the most the
# machine's cores could carry, whatever the server's threads.
# Prints the aggregate rate and a table in cores (CPU seconds per wall second); with PERF=1
# also `perf record` on the server during the downloads (report in $PERF_OUT, default
# /tmp/device_cpu.perf.txt, and the data beside it); with PERF=stat the server's task clock
# and context switches (`perf stat`); with PERF=sched how much of the wall time each I/O
# thread spent on a CPU, waiting for one, and asleep (`perf sched`).
# Usage: scripts/device_cpu.sh UTCP_BINARY [THREADS [FLOWS [MB]]]   (extra serve options: SERVE_OPTS)
#   THREADS "linux": the same downloads from python3's http.server on S (Linux's TCP), for the
#   same accounting of Linux's server.
set -euo pipefail
UTCP=${1:?usage: device_cpu.sh UTCP_BINARY [THREADS [FLOWS [MB]]]}
threads=${2:-1}
flows=${3:-16}
mb=${4:-32}
bytes=$((mb * 1048576))

. "$(dirname "$0")/bench_path.sh"
bench_path_require ip curl ethtool

bench_path_setup utcp-dc
mkdir "$tmp/www"
head -c "$bytes" /dev/urandom >"$tmp/www/file"
if [ "$threads" = linux ]; then
  # The same downloads from Linux's TCP: python3's http.server on S's own address.
  ip netns exec "$S" python3 -m http.server --bind 10.82.0.1 --directory "$tmp/www" 8080 >/dev/null 2>&1 &
  utcp_pid=$!
  pids+=("$utcp_pid")
  url=http://10.82.0.1:8080/file
  bench_wait_up "$url"
  server="python3 http.server (Linux TCP)"
else
  # shellcheck disable=SC2086
  bench_serve --threads "$threads" -v ${SERVE_OPTS:-}
  url=http://10.81.0.2/file
  server="serve --threads $threads${SERVE_OPTS:+ $SERVE_OPTS}"
fi
hz=$(getconf CLK_TCK)

# Ticks of each thread of the server: "TID NAME TICKS" lines.
thread_ticks() {
  local t
  for t in /proc/"$utcp_pid"/task/*; do
    awk -v tid="${t##*/}" '{ match($0, /\(.*\)/); name = substr($0, RSTART + 1, RLENGTH - 2)
      sub(/^[^)]*\) /, ""); print tid, name, $12 + $13 }' "$t/stat" 2>/dev/null || true
  done
}
# The machine: user nice system idle iowait irq softirq steal, in ticks.
machine() { awk '$1 == "cpu" { print $2, $3, $4, $5, $6, $7, $8, $9 }' /proc/stat; }
softirqd() {
  local s=0 p
  for p in $(pgrep -x 'ksoftirqd/[0-9]+' || true); do
    s=$((s + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
  done
  echo "$s"
}
# The I/O threads (one per shard, named utcp-io by io/driver.cpp).
io_tids=$(thread_ticks | awk '$2 == "utcp-io" { print $1 }')

load=$(cut -d' ' -f1-3 /proc/loadavg)
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$utcp_pid/stat"; }
p0=$(proc_ticks)
thread_ticks >"$tmp/t0"
m0=$(machine)
k0=$(softirqd)
t0=$(date +%s.%N)
if [ "${PERF:-0}" = 1 ]; then
  perf record -F 999 ${PERF_G:-} -a -o "$tmp/perf.data" >/dev/null 2>&1 &
  perf_pid=$!
elif [ "${PERF:-0}" = sched ]; then
  perf sched record -a -o "$tmp/sched.data" >/dev/null 2>&1 &
  perf_pid=$!
elif [ "${PERF:-0}" = stat ]; then
  perf stat -e task-clock,context-switches,cpu-migrations -p "$utcp_pid" -o "$tmp/perf.stat" &
  perf_pid=$!
fi
# The curls in a shell of their own, which reports their CPU time with `times`.
curl_times=$(ip netns exec "$C" bash -c '
  for i in $(seq '"$flows"'); do curl -sS -f -o /dev/null '"$url"' & done
  wait
  times' | tail -1)
t1=$(date +%s.%N)
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
k1=$(softirqd)
m1=$(machine)
thread_ticks >"$tmp/t1"
p1=$(proc_ticks)
if [ "${PERF:-0}" = 1 ]; then
  kill -INT "$perf_pid"
  wait "$perf_pid" || true
  cp "$tmp/perf.data" "${PERF_OUT:-/tmp/device_cpu.perf.txt}.data"
  perf report -i "$tmp/perf.data" --no-children --stdio --sort comm,dso,symbol 2>/dev/null | grep -v '^$' | head -200 >"${PERF_OUT:-/tmp/device_cpu.perf.txt}" || true
elif [ "${PERF:-0}" = sched ]; then
  kill -INT "$perf_pid"
  wait "$perf_pid" || true
  # Per I/O thread, from the scheduler's switches: time on a CPU (softirq work done in its
  # system calls included), time runnable but waiting for a CPU, and the rest (asleep).
  perf sched timehist -i "$tmp/sched.data" 2>/dev/null >"$tmp/sched.txt" || true
  for tid in $io_tids; do
    awk -v tid="$tid" -v w="$wall" '$3 ~ "\\[" tid "/" { sd += $5; rt += $6 }
      END { printf "io thread %s (perf sched): on CPU %.2f, runnable waiting %.2f, asleep %.2f (fractions of the wall time)\n", tid, rt / 1000 / w, sd / 1000 / w, 1 - (rt + sd) / 1000 / w }' "$tmp/sched.txt"
  done
elif [ "${PERF:-0}" = stat ]; then
  kill -INT "$perf_pid"
  wait "$perf_pid" || true
  grep -E 'task-clock|context-switches|migrations' "$tmp/perf.stat" | sed 's/^/server: /'
fi

# The process's figure includes its threads that ended (the connection threads): those, the
# accept loops and the monitor are the process's time less the I/O threads', which run throughout.
io=0
while read -r tid _ ticks; do
  before=$(awk -v t="$tid" '$1 == t { print $3 }' "$tmp/t0")
  d=$((ticks - ${before:-0}))
  if grep -qx "$tid" <<<"$io_tids"; then
    io=$((io + d))
    echo "io thread $tid: $(awk -v d="$d" -v hz="$hz" -v w="$wall" 'BEGIN { printf "%.2f", d / hz / w }') cores"
  fi
done <"$tmp/t1"
conn=$((p1 - p0 - io))
# curl's `times`: "XmY.YYYs XmY.YYYs" (user, system of the children).
curl_s=$(awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } print s }' <<<"$curl_times")
read -r u0 n0 s0 i0 w0 q0 sq0 st0 <<<"$m0"
read -r u1 n1 s1 i1 w1 q1 sq1 st1 <<<"$m1"
cores() { awk -v t="$1" -v hz="$hz" -v w="$wall" 'BEGIN { printf "%.2f", t / hz / w }'; }
busy=$(((u1 + n1 + s1 + q1 + sq1 + st1) - (u0 + n0 + s0 + q0 + sq0 + st0)))
curl_ticks=$(awk -v s="$curl_s" -v hz="$hz" 'BEGIN { printf "%d", s * hz }')
other=$((busy - io - conn - curl_ticks - (k1 - k0)))
echo "== $flows x $mb MiB from $server: $(awk -v n="$flows" -v b="$bytes" -v w="$wall" 'BEGIN { printf "%.1f", n * b / w / 1048576 }') MiB/s aggregate, ${wall%.*}.$(cut -d. -f2 <<<"$wall" | cut -c1-2) s"
echo "cores used (CPU s per wall s, of $(nproc)):"
if [ "$threads" = linux ]; then
  echo "  the server process      $(cores "$conn")"
else
  echo "  utcp I/O threads        $(cores "$io")"
  echo "  utcp connection threads $(cores "$conn")   (and the accept loops)"
fi
echo "  curl x $flows              $(cores "$curl_ticks")"
echo "  ksoftirqd               $(cores $((k1 - k0)))"
echo "  (softirq, inside the above $(cores $((sq1 - sq0))): the forwarding in S and R and the client's TCP receive)"
echo "  everything else         $(cores "$other")   (other processes on the machine)"
echo "  idle                    $(cores $((i1 + w1 - i0 - w0)))"
echo "  machine: user $(cores $((u1 + n1 - u0 - n0))) system $(cores $((s1 - s0))) softirq $(cores $((sq1 - sq0))) irq $(cores $((q1 - q0)))"
# The download's own work: the server, the curls and ksoftirqd (the softirq work done on top
# of them is in their times). Other processes on the machine are left out, so this gives the
# machine's ceiling for this download: its cores divided by the CPU it takes per MiB.
part=$((p1 - p0 + curl_ticks + (k1 - k0)))
rate=$(awk -v n="$flows" -v b="$bytes" -v w="$wall" 'BEGIN { printf "%.1f", n * b / w / 1048576 }')
echo "  the download's own work  $(cores "$part") cores: $(awk -v t="$part" -v hz="$hz" -v r="$rate" -v w="$wall" 'BEGIN { printf "%.2f", t / hz / (r * w) * 1000 }') CPU ms per MiB, so at most $(awk -v t="$part" -v hz="$hz" -v r="$rate" -v w="$wall" -v c="$(nproc)" 'BEGIN { printf "%.0f", c / (t / hz / (r * w)) }') MiB/s on $(nproc) cores"
[ "$threads" = linux ] || echo "  connections per shard: $(awk '/^accepted / { k = "0"; if (match($0, /shard [0-9]+/)) k = substr($0, RSTART + 6, RLENGTH - 6); n[k]++ }
  END { for (k in n) printf "shard %s: %d  ", k, n[k] }' "$tmp/serve.log")"
echo "RESULT device_cpu_threads${threads}_${flows}flows_mibps $(awk -v n="$flows" -v b="$bytes" -v w="$wall" 'BEGIN { printf "%.1f", n * b / w / 1048576 }')"
echo "RESULT device_cpu_threads${threads}_${flows}flows_io_cores $(cores "$io")"
echo "RESULT device_cpu_threads${threads}_${flows}flows_own_cpu_ms_per_mib $(awk -v t="$part" -v hz="$hz" -v r="$rate" -v w="$wall" 'BEGIN { printf "%.2f", t / hz / (r * w) * 1000 }')"
mhz=$(awk -F: '/^cpu MHz/ { print $2 + 0; exit }' /proc/cpuinfo)
echo "RESULT device_cpu_threads${threads}_${flows}flows_server_cycles_per_byte $(awk -v t=$((p1 - p0)) -v hz="$hz" -v mhz="$mhz" -v b=$((bytes * flows)) 'BEGIN { printf "%.2f", t / hz * mhz * 1e6 / b }')"
echo "(load average before: $load; cycles at ${mhz} MHz)"
