# The two commands: `make demo` and `make test`, each from a fresh clone. Also install, bench,
# fuzz, soak.
JOBS ?= $(shell nproc)
CTEST_JOBS ?= $(JOBS)
# The main suite's interop tests mostly wait on namespaces, devices and timers: run twice as many at once.
MAIN_CTEST_JOBS ?= $(shell echo $$(( $(JOBS) * 2 )))
PREFIX ?= /usr/local
.PHONY: all deps build demo install test test-asan test-main fuzz-build bench fuzz soak format clean

all: build

deps:
	@scripts/deps.sh

build/%/build.ninja: CMakeLists.txt CMakePresets.json | deps
	@cmake --preset $* >/dev/null

build: deps build/ci/build.ninja
	@cmake --build build/ci -j $(JOBS)

# Installs what is missing, builds only the utcp tool (not the whole tree), runs the demo.
demo:
	@JOBS=$(JOBS) scripts/demo.sh

# The libraries, headers, CMake package, pkg-config files and the utcp tool, optimised
# (build/release), under PREFIX (DESTDIR is honoured, for packagers).
install: deps build/release/build.ninja
	@cmake --build build/release -j $(JOBS) --target utcp utcp_host utcp_cli
	@DESTDIR=$(DESTDIR) cmake --install build/release --prefix $(PREFIX)

# Sanitizer suite first, then the fuzzers, then the main suite, whose summary line ends the output.
test: deps test-asan fuzz-build test-main

test-asan: build/asan-ubsan/build.ninja
	@cmake --build build/asan-ubsan -j $(JOBS)
	@cd build/asan-ubsan && ctest -j $(CTEST_JOBS) --output-on-failure -LE 'interop|install|bench' --timeout 900

fuzz-build: build/fuzz/build.ninja
	@cmake --build build/fuzz -j $(JOBS)

test-main: build/ci/build.ninja
	@cmake --build build/ci -j $(JOBS)
	@cd build/ci && ctest -j $(MAIN_CTEST_JOBS) --output-on-failure --timeout 900

bench: deps build/release/build.ninja
	@cmake --build build/release -j $(JOBS)
	@scripts/bench.sh build/release

fuzz: deps fuzz-build
	@scripts/fuzz.sh build/fuzz $${FUZZ_SECONDS:-300}

soak: deps build/release/build.ninja
	@cmake --build build/release -j $(JOBS)
	@UTCP_SOAK=1 build/release/tests/utcp_state_tests --gtest_filter='*Soak*:*soak*'
	@if [ -x build/release/tests/utcp_sim_tests ]; then UTCP_SOAK=1 build/release/tests/utcp_sim_tests; fi
	@for s in close simultaneous-close; do build/release/apps/utcp explore --scenario $$s --max-loss 2 --max-dup 1 --max-reorder 1 --depth 60 --quiet || exit 1; done

format:
	@find include src host io apps sim tests bench fuzz examples -name '*.[ch]pp' -o -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf build
