# Thin wrapper over CMake presets. Every target installs missing Debian packages first.
#   make            release build (build/release)
#   make test       debug+ASan/UBSan build, every unit, example and integration test; then the
#                   unit tests again under TSan, then built by clang (-O3: the header's inlined
#                   fast path differs by compiler)
#   make demo       the end-to-end demo on the embedded local endpoint
#   make bench      benchmarks, figures in bench/RESULTS.md
#   make fuzz       every libFuzzer target (tests/fuzz) for FUZZ_SECONDS each (default 60), seeded
#                   with its committed corpus; FUZZ_TARGETS="config_yaml ..." picks some;
#                   FUZZ_SAVE=1 merges new inputs into the corpus (docs/FUZZING.md). `make test`
#                   replays every corpus (ctest label fuzz) in its ASan stage.
#   make install    PREFIX=/usr/local by default
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local
CTEST_FLAGS ?= --output-on-failure
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

.PHONY: all deps build test test-asan test-tsan test-clang demo bench fuzz install clean format

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build build/release -j $(JOBS)

test: test-asan test-tsan test-clang

# every label: unit, integration and fuzz (the committed fuzz corpora, replayed)
test-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build build/asan -j $(JOBS)
	@cd build/asan && ctest $(CTEST_FLAGS) -j $(JOBS)

test-tsan: deps
	@cmake --preset tsan >/dev/null
	@cmake --build build/tsan -j $(JOBS)
	@cd build/tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest $(CTEST_FLAGS) -j $(JOBS) -L unit

test-clang: deps
	@bash scripts/deps.sh --clang
	@cmake --preset clang >/dev/null
	@cmake --build build/clang -j $(JOBS)
	@cd build/clang && ctest $(CTEST_FLAGS) -j $(JOBS) -L 'unit|fuzz'

demo: build
	@bash scripts/demo.sh build/release

bench: deps
	@bash scripts/deps.sh --bench
	@cmake --preset bench >/dev/null
	@cmake --build build/bench -j $(JOBS)
	@bash bench/run.sh build/bench

fuzz: deps
	@bash scripts/deps.sh --fuzz
	@cmake --preset fuzz >/dev/null
	@cmake --build build/fuzz -j $(JOBS) --target fuzz_targets
	@bash tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

install: build
	@cmake --install build/release --prefix $(PREFIX)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
