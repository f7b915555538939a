#!/usr/bin/env bash
# make demo: builds the utcp tool, and only what it needs, then shows it working. As root with
# /dev/net/tun: utcp serves a file over HTTP on a TUN device and Linux's curl fetches it
# (scripts/demo-tun.sh). Otherwise it says why and runs the simulator instead (utcp sim).
# Uses nothing beyond what scripts/deps.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
b=build/ci
utcp=$b/apps/utcp
jobs=${JOBS:-$(nproc)}

if [ ! -x "$utcp" ]; then
  echo "demo: building the utcp tool in $b (about half of the tree). The first build takes"
  echo "demo: about 3 minutes on 2 idle cores (longer on a busy machine); later ones take seconds."
fi
scripts/deps.sh
[ -f $b/build.ninja ] || cmake --preset ci >/dev/null
cmake --build $b -j "$jobs" --target utcp_cli
echo

ran=
if [ -x scripts/demo-tun.sh ]; then
  set +e
  scripts/demo-tun.sh "$utcp"
  rc=$?
  set -e
  case $rc in
    0) ran=tun ;;
    3) ;;  # cannot run here; demo-tun.sh said why
    *) exit $rc ;;
  esac
fi
if [ -z "$ran" ]; then
  echo "demo: two utcp stacks in the simulator instead: 16 MiB over a 100 Mbit/s link with 10 ms"
  echo "demo: delay each way and 1 % loss each way (seeded: the same run every time)"
  echo "demo: \$ $utcp sim --bytes 16777216 --loss 1 --seed 1"
  "$utcp" sim --bytes 16777216 --loss 1 --seed 1
  ran=sim
fi

cat <<EOT

demo: done. The tool is $utcp; \`make install PREFIX=...\` installs it with the libraries and headers.
Try next:
  every subcommand and its options     $utcp --help
  a lossy run, captured for Wireshark  $utcp sim --loss 2 --pcap run.pcap
  goodput over loss x buffer size      $utcp sim --table
  the packetdrill-syntax scripts       $utcp script tests/scripts/*.pkt
  serve this directory to Linux        sudo $utcp serve --tun utcp0 --ip 10.77.0.2 --kernel-ip 10.77.0.1/24 --port 80 --app http --root .
                                       and in another shell: curl http://10.77.0.2/README.md
  programs to copy                     examples/ (C ABI echo, event loop, the C++ core in your own loop)
  documentation                        README.md, docs/CLI.md, docs/HOST.md, docs/DESIGN.md
EOT
