#!/usr/bin/env bash
# A/B of utcp binaries on the device path of bench_device.sh (C curl -> R router -> S), one flow
# at a time, interleaved: each round restarts `serve --threads 1` with each binary in turn (and
# downloads from python3's http.server on S for "linux"), DOWNLOADS downloads of MB MiB each.
# On a shared machine single downloads spread widely (the scheduler's share, not the stack),
# so compare only rounds of one run, and many of them. Needs root.
#   R ROUND NAME rates R1 R2 ... cpb C load L     per round and configuration: MiB/s of each
#                                                 download, the server's cycles per byte
#                                                 (user + system time, all threads, at the
#                                                 CPU's nominal clock) and the load average
#   NAME: median M mean A (P25-P75, n=N) ...      at the end, over every download
# Usage: scripts/device_ab.sh ROUNDS DOWNLOADS MB NAME=UTCP_BINARY... [linux]
#   (SERVE_OPTS: more serve options for every binary; SERVE_OPTS_NAME: for configuration NAME
#   alone, so one binary can appear under several names, e.g. SERVE_OPTS_big='--sndbuf 4194304')
# Probes of single downloads (for the spread above):
#   CURL_CPU=N          curl runs under `taskset -c N` (pin the server with a NAME=WRAPPER that
#                       execs `taskset -c M BINARY "$@"`)
#   LINUX_CPU=N         Linux's server (python3) runs under `taskset -c N`
#   SERVE_CPUS_NAME="IO CONN"  configuration NAME's I/O thread (utcp-io) on CPU IO, its
#                       connection threads (utcp-conn, started by the main thread) on CONN
#                       (`taskset -p` after start-up; "-" leaves one unpinned)
#   AB_PERF=FILE        `perf stat` of the server around each download; appends
#                       "P ROUND NAME MiB/s context-switches cpu-migrations task-clock-ms"
#   AB_COUNTERS=FILE    stops each utcp server after its round and appends "C ROUND NAME
#                       rates ..." and its serve log's counter lines: tcp, device, I/O thread and
#                       connection thread (they need SERVE_OPTS=-v)
#   AB_RECORD=DIR       `perf record -a -e cpu-clock` (both CPUs, every process, user and
#                       kernel) around each download into DIR/ROUND-NAME-N.data, and appends
#                       "ROUND NAME N MiB/s SERVER_PID" to DIR/index (compare a slow and a fast
#                       download: `perf report -i FILE --sort comm,dso`)
#   AB_STAT=FILE        per download, appends "S ROUND NAME MiB/s" then the server's user and
#                       system ticks, and per CPU the ticks of user, system, softirq and idle
#                       (/proc/stat), the NET_RX / NET_TX softirqs (/proc/softirqs) and the
#                       rescheduling and function-call IPIs (RES, CAL in /proc/interrupts) it took
set -euo pipefail
rounds=${1:?usage: device_ab.sh ROUNDS DOWNLOADS MB NAME=UTCP_BINARY... [linux]}
dls=${2:?} mb=${3:?}
shift 3
[ $# -gt 0 ] || { echo "device_ab: no configuration given" >&2; exit 2; }
for cfg in "$@"; do
  [ "$cfg" = linux ] && continue
  bin=${cfg#*=}
  if [ "$cfg" = "$bin" ] || [ ! -x "$bin" ]; then
    echo "device_ab: $cfg is not NAME=EXECUTABLE" >&2
    exit 2
  fi
done

. "$(dirname "$0")/bench_path.sh"
bench_path_require ip curl ethtool python3

bench_path_setup utcp-ab
mkdir "$tmp/www"
head -c $((mb * 1048576)) /dev/urandom >"$tmp/www/file"
ip netns exec "$S" ${LINUX_CPU:+taskset -c "$LINUX_CPU"} python3 -m http.server --bind 10.82.0.1 --directory "$tmp/www" 8080 >/dev/null 2>&1 &
linux_pid=$!
pids+=("$linux_pid")
bench_wait_up http://10.82.0.1:8080/file
mhz=$(awk -F: '/^cpu MHz/ { print $2 + 0; exit }' /proc/cpuinfo)
hz=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# AB_STAT's snapshot: the server's utime stime, then per CPU user+nice system softirq idle
# (/proc/stat) and NET_RX NET_TX (/proc/softirqs), one line each
ab_snapshot() {
  awk '{ print "srv", $14, $15 }' "/proc/$1/stat"
  awk '/^cpu[0-9]/ { print $1, $2 + $3, $4, $8, $5 }' /proc/stat
  awk '/NET_RX|NET_TX/ { for (i = 2; i <= NF; i++) print $1, i - 2, $i }' /proc/softirqs
  awk '/^ *(RES|CAL):/ { for (i = 2; i <= 3; i++) print $1, i - 2, $i }' /proc/interrupts
}
ab_stat_before() { ab_snapshot "$1" >"$tmp/stat.a"; }
ab_stat_after() {
  ab_snapshot "$1" >"$tmp/stat.b"
  paste -d' ' "$tmp/stat.a" "$tmp/stat.b" | awk -v r="$2" -v n="$3" -v rate="$4" '
    $1 == "srv" { l = l sprintf(" srv_usr %d srv_sys %d", $5 - $2, $6 - $3) }
    $1 ~ /^cpu/ { l = l sprintf(" %s usr %d sys %d si %d idle %d", $1, $7 - $2, $8 - $3, $9 - $4, $10 - $5) }
    $1 ~ /^(NET|RES|CAL)/ { l = l sprintf(" %s%d %d", $1, $2, $6 - $3) }
    END { print "S", r, n, rate l }'
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $dls x $mb MiB per round and configuration"
# In this shell, not a pipeline's subshell: bench_serve's pids must reach the cleanup.
for r in $(seq "$rounds"); do
  for cfg in "$@"; do
    if [ "$cfg" = linux ]; then
      name=linux pid=$linux_pid url=http://10.82.0.1:8080/file
    else
      name=${cfg%%=*}
      UTCP=${cfg#*=}  # bench_serve's binary
      own=SERVE_OPTS_$name
      # shellcheck disable=SC2086
      bench_serve --threads 1 ${SERVE_OPTS:-} ${!own:-}
      cpus=SERVE_CPUS_$name
      if [ -n "${!cpus:-}" ]; then
        read -r io_cpu conn_cpu <<<"${!cpus}"
        for t in /proc/"$utcp_pid"/task/*; do
          [ "$(cat "$t/comm")" = utcp-io ] && [ "$io_cpu" != - ] && taskset -pc "$io_cpu" "${t##*/}" >/dev/null
        done
        [ "$conn_cpu" != - ] && taskset -pc "$conn_cpu" "$utcp_pid" >/dev/null
      fi
      pid=$utcp_pid url=http://10.81.0.2/file
    fi
    a=$(ticks "$pid")
    rates=""
    for n in $(seq "$dls"); do
      [ -n "${AB_STAT:-}" ] && ab_stat_before "$pid"
      if [ -n "${AB_RECORD:-}" ]; then
        mkdir -p "$AB_RECORD"
        perf record -q -a -e cpu-clock -F 4000 -o "$AB_RECORD/$r-$name-$n.data" >/dev/null 2>&1 &
        record_pid=$!
        sleep 0.3
      fi
      if [ -n "${AB_PERF:-}" ]; then
        perf stat -e context-switches,cpu-migrations,task-clock -p "$pid" -o "$tmp/perf" &
        perf_pid=$!
        sleep 0.2
      fi
      rate=$(ip netns exec "$C" ${CURL_CPU:+taskset -c "$CURL_CPU"} curl -sS -f -o /dev/null \
        -w '%{speed_download}' "$url" | awk '{ printf "%.1f", $1 / 1048576 }')
      rates+="$rate "
      if [ -n "${AB_RECORD:-}" ]; then
        kill -INT "$record_pid"
        wait "$record_pid" 2>/dev/null || true
        echo "$r $name $n $rate $pid" >>"$AB_RECORD/index"
      fi
      [ -n "${AB_STAT:-}" ] && ab_stat_after "$pid" "$r" "$name" "$rate" >>"$AB_STAT"
      if [ -n "${AB_PERF:-}" ]; then
        kill -INT "$perf_pid"
        wait "$perf_pid" 2>/dev/null || true
        awk -v r="$r" -v n="$name" -v rate="$rate" '/context-switches/ { cs = $1 } /cpu-migrations/ { m = $1 }
          /task-clock/ { t = $1 } END { print "P", r, n, rate, cs, m, t }' "$tmp/perf" >>"$AB_PERF"
      fi
    done
    b=$(ticks "$pid")
    if [ -n "${AB_COUNTERS:-}" ] && [ "$cfg" != linux ]; then
      kill -TERM "$utcp_pid"
      wait "$utcp_pid" 2>/dev/null || true
      utcp_pid=""
      { echo "C $r $name rates $rates"; grep -E '^(tcp|device|I/O thread|connection thread)' "$tmp/serve.log" || true; } >>"$AB_COUNTERS"
    fi
    echo "R $r $name rates ${rates}cpb $(awk -v t=$((b - a)) -v hz="$hz" -v mhz="$mhz" -v b=$((mb * 1048576 * dls)) \
      'BEGIN { printf "%.2f", t / hz * mhz * 1e6 / b }') load $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$tmp/rounds"
  done
done
awk '$1 == "R" { for (i = 5; i <= NF && $i != "cpb"; i++) print $3, $i }' "$tmp/rounds" | sort -k1,1 -k2n |
  awk '{ v[$1] = v[$1] " " $2; n[$1]++; s[$1] += $2 }
    END { for (k in v) { split(substr(v[k], 2), a, " "); c = n[k]
      m = (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
      hi = int(3 * c / 4); if (hi < 1) hi = 1
      printf "%s: median %.1f mean %.1f (%s-%s, n=%d)\n", k, m, s[k] / c, a[int(c / 4) + 1], a[hi], c } }'
echo "(load after: $(cut -d' ' -f1-3 /proc/loadavg))"
