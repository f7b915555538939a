#!/usr/bin/env bash
# Installs the build tree $1 into a scratch prefix, then builds and runs a tiny consumer
# against it twice: with find_package(utcp) and with pkg-config.
set -euo pipefail
build=$1
cxx=${2:-c++}
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cmake --install "$build" --prefix "$scratch/prefix" >/dev/null

cmake -S "$here/consumer" -B "$scratch/cmake-build" -DCMAKE_PREFIX_PATH="$scratch/prefix" \
      -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
cmake --build "$scratch/cmake-build" >/dev/null
"$scratch/cmake-build/consumer"

PKG_CONFIG_PATH="$scratch/prefix/lib/pkgconfig:$scratch/prefix/lib/x86_64-linux-gnu/pkgconfig" \
  pkg-config --define-variable=prefix="$scratch/prefix" --cflags --libs utcp >"$scratch/flags"
# shellcheck disable=SC2046
"$cxx" "$here/consumer/main.cpp" $(cat "$scratch/flags") -o "$scratch/pc-consumer"
"$scratch/pc-consumer"
echo "install_consumer: find_package and pkg-config consumers both ran"
