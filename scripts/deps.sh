#!/usr/bin/env bash
# Installs the Debian packages the build and tests need, and only those that are missing.
set -euo pipefail
want=(cmake ninja-build g++ make pkg-config libgtest-dev libgmock-dev libbenchmark-dev
      libcli11-dev libpcap-dev clang-19 libclang-rt-19-dev valgrind iproute2 ethtool curl python3 liblwip-dev
      gnuplot-nox iperf3 tshark tcpdump nftables)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: missing ${missing[*]} and not root; install them" >&2; exit 1; }
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
