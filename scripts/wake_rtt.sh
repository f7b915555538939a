#!/usr/bin/env bash
# What a thread's wake-up costs on this machine: two threads pass a byte back and forth over
# two pipes (each write wakes the other thread's read), pinned to the CPUs given, and the mean
# round trip (two wake-ups) is printed. Same CPU against two CPUs tells what a wake-up across
# CPUs adds; under `chrt -f N` the woken thread preempts whatever runs there at once, so the
# difference from a run without it is the scheduler's delay, the rest the cross-CPU signal.
# (The probe behind PERFORMANCE.md "One flow: what decides the group (issue 18, session 29)".)
# Usage: scripts/wake_rtt.sh [ROUND_TRIPS (default 5000)] [CPU_A,CPU_B ... (default 0,0 1,1 0,1 1,0)]
set -euo pipefail
n=${1:-5000}
shift || true
pairs=${*:-0,0 1,1 0,1 1,0}
command -v cc >/dev/null || { echo "skipped: no C compiler"; exit 0; }
dir=$(mktemp -d /tmp/wake_rtt.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/rtt.c" <<'C'
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int there[2], back[2];
static int rounds, cpu_b;

static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) exit(2);
}

static void* echo(void* unused) {
  (void)unused;
  pin(cpu_b);
  char c;
  for (int i = 0; i < rounds; ++i)
    if (read(there[0], &c, 1) != 1 || write(back[1], &c, 1) != 1) exit(1);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  int cpu_a = atoi(argv[1]);
  cpu_b = atoi(argv[2]);
  rounds = atoi(argv[3]);
  if (pipe(there) != 0 || pipe(back) != 0) return 1;
  pin(cpu_a);
  pthread_t t;
  if (pthread_create(&t, NULL, echo, NULL) != 0) return 1;
  struct timespec a, b;
  char c = 'x';
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < rounds; ++i)
    if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1) return 1;
  clock_gettime(CLOCK_MONOTONIC, &b);
  pthread_join(t, NULL);
  double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / rounds;
  printf("CPUs %d,%d: %.1f us per round trip (%d round trips)\n", cpu_a, cpu_b, us, rounds);
  return 0;
}
C
cc -O2 -pthread -o "$dir/rtt" "$dir/rtt.c"
echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
for p in $pairs; do "$dir/rtt" "${p%,*}" "${p#*,}" "$n"; done
