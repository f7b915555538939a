#!/usr/bin/env bash
# The installed package, as a user meets it: installs the build tree $1 (component dev: the
# libraries, headers, CMake package and pkg-config files) into a scratch prefix, moves the
# prefix elsewhere (an installed tree must not depend on where it was installed), then builds
# and runs a C program (examples/event_loop.c, over utcp/posix.h) and a C++ program
# (examples/two_stacks.cpp, over utcp/utcp.hpp) against it twice: with find_package(utcp) and
# with pkg-config (utcp-host from C, utcp from C++).
# Usage: run.sh BUILD_DIR [C_COMPILER [CXX_COMPILER]]
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR [CC [CXX]]}
cc=${2:-cc}
cxx=${3:-c++}
examples=$(cd "$(dirname "$0")/../../examples" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

cmake --install "$build" --component dev --prefix "$scratch/installed" >/dev/null
mv "$scratch/installed" "$scratch/prefix"
prefix=$scratch/prefix
[ -f "$prefix/include/utcp/posix.h" ] || fail "posix.h not installed"
ls "$prefix"/lib*/libutcp_host.* >/dev/null 2>&1 || fail "the host library (behind posix.h) not installed"

# 1. find_package(utcp) with utcp::host (C) and utcp::utcp (C++): examples/CMakeLists.txt as is.
cmake -S "$examples" -B "$scratch/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_CXX_COMPILER="$cxx" >"$scratch/configure.log" 2>&1 || { cat "$scratch/configure.log"; fail "configure"; }
grep -q "^utcp_DIR:PATH=$prefix/" "$scratch/cmake-build/CMakeCache.txt" || fail "find_package did not use $prefix"
cmake --build "$scratch/cmake-build" --target event_loop two_stacks >"$scratch/build.log" 2>&1 ||
  { cat "$scratch/build.log"; fail "build with find_package"; }
"$scratch/cmake-build/event_loop" 65536 20 >/dev/null || fail "event_loop (C, find_package)"
"$scratch/cmake-build/two_stacks" 65536 >/dev/null || fail "two_stacks (C++, find_package)"

# 2. pkg-config: the modules find the prefix from where they are (${pcfiledir}).
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$(ls "$prefix"/lib*/pkgconfig/utcp.pc "$prefix"/lib/*/pkgconfig/utcp.pc 2>/dev/null | head -1)")
c_flags=$(pkg-config --cflags --libs utcp-host)
cxx_flags=$(pkg-config --cflags --libs utcp)
case "$c_flags" in *"$prefix"*) ;; *) fail "utcp-host.pc does not point into the prefix: $c_flags" ;; esac
case "$c_flags" in *-std=*) fail "utcp-host.pc carries a language standard: $c_flags" ;; esac
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Werror "$examples/event_loop.c" $c_flags -o "$scratch/event_loop" ||
  fail "cc with pkg-config utcp-host"
# shellcheck disable=SC2086
"$cxx" -std=c++23 -Wall -Werror "$examples/two_stacks.cpp" $cxx_flags -o "$scratch/two_stacks" ||
  fail "c++ with pkg-config utcp"
"$scratch/event_loop" 65536 20 >/dev/null || fail "event_loop (C, pkg-config)"
"$scratch/two_stacks" 65536 >/dev/null || fail "two_stacks (C++, pkg-config)"
echo "install: C and C++ programs built and ran against a moved prefix, with find_package and with pkg-config"
