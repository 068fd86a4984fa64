# The README's contract: `make run` and `make test` work on a fresh Debian 12 machine.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 20
# `make run` collects on loopback with the demo config (unknown exporters go to a default
# tenant); point RUN_ARGS at your own fathom.yaml for anything else.
RUN_ARGS ?= --config examples/demo.yaml
CXX_SOURCES = $(wildcard $(shell git ls-files -co --exclude-standard '*.h' '*.cpp' '*.cc'))

.PHONY: all deps build run demo test test-unit test-fuzz bench format format-check lint clean

all: build

deps:
	@scripts/install-deps

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

run: build
	build/release/src/fathom run $(RUN_ARGS)

# The demo (docs/generator.md): fathom-gen's `demo` scenario. With `make run` already running
# (another terminal), it feeds that fathom on 127.0.0.1:2055 in real time, so its dashboard
# fills; otherwise it starts its own `fathom run`, feeds it over loopback UDP (10x: the 10
# simulated minutes take a minute) and stops it with SIGINT. DEMO_SPEED overrides the speed.
DEMO_SPEED ?=
demo: build
	tools/gen/demo build/release/src/fathom build/release/tools/gen/fathom-gen \
	    $(if $(DEMO_SPEED),--speed $(DEMO_SPEED))

# Unit and golden tests (optimised build), then the same tests plus every fuzzer for
# $(FUZZ_SECONDS) s under ASan/UBSan with clang. ctest's summary ends the log.
test: test-unit test-fuzz

test-unit: build
	ctest --preset release -j $(JOBS)

test-fuzz: deps
	cmake --preset fuzz -DFATHOM_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	cmake --build --preset fuzz -j $(JOBS)
	ctest --preset fuzz -j $(JOBS)

bench: build
	scripts/run-benchmarks build/release

format:
	clang-format -i $(CXX_SOURCES)

format-check:
	clang-format --dry-run -Werror $(CXX_SOURCES)

# clang-tidy on files changed against main (or all with LINT_ALL=1).
lint: build
	scripts/lint

clean:
	rm -rf build

# Live ingest on loopback (bench/live/run): fathom, nfcapd and nfacctd fed by
# fathom-ingest-sender at offered rates; BENCH_LIVE_ARGS passes options, e.g.
# BENCH_LIVE_ARGS='--rates "1 3" --duration 10'. Results land in bench/live/results/.
.PHONY: bench-live
bench-live: build
	scripts/install-bench-deps
	bench/live/run $(BENCH_LIVE_ARGS)
