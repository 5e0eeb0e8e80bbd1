# Thin wrapper over CMake presets. Every target installs missing Debian packages first.
#   make            release build (build/release)
#   make test       debug+ASan/UBSan build, every unit, example and integration test; then the
#                   unit tests and the threaded integration tests (label tsan) under TSan, then
#                   built by clang (-O3: the header's inlined
#                   fast path differs by compiler), then the release build users get (`make`,
#                   `make install`, `make demo`: GCC -O2, where -Werror sees warnings a debug
#                   build does not) and its unit tests. Every stage runs even when one before it
#                   failed; the end prints one line per stage and "N passed, N failed", and the
#                   exit status is non-zero if anything failed. A stage is a test-<name> target
#                   listed in TEST_STAGES (scripts/test_stage.sh builds, runs and records it).
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
TEST_STAGES ?= asan tsan clang release
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

.PHONY: all deps build test test-asan test-tsan test-clang test-release demo bench fuzz install clean format format-diff

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build build/release -j $(JOBS)

test: deps
	@rm -rf build/test-results
	@rc=0; for s in $(TEST_STAGES); do $(MAKE) --no-print-directory test-$$s || rc=1; done; \
	printf '\n== make test: summary\n'; passed=0; failed=0; \
	for s in $(TEST_STAGES); do \
	  r=build/test-results/$$s; \
	  if [ -f $$r ]; then head -n 1 $$r; set -- $$(sed -n 2p $$r); \
	    passed=$$((passed + $$1)); failed=$$((failed + $$2)); \
	  else echo "stage $$s: did not run"; failed=$$((failed + 1)); rc=1; fi; \
	done; \
	echo "$$passed passed, $$failed failed"; \
	[ $$rc -eq 0 ] && [ $$failed -eq 0 ]

# every label: unit, integration and fuzz (the committed fuzz corpora, replayed)
test-asan: deps
	@bash scripts/test_stage.sh asan asan $(JOBS) $(CTEST_FLAGS)

# unit tests, and the integration tests labelled tsan (tests/CMakeLists.txt: the server's and
# the CLI's threads); tests/integration/skyharness.py adds log_path so reports fail the tests
test-tsan: deps
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  bash scripts/test_stage.sh tsan tsan $(JOBS) $(CTEST_FLAGS) -L 'unit|tsan'

test-clang: deps
	@bash scripts/deps.sh --clang
	@bash scripts/test_stage.sh clang clang $(JOBS) $(CTEST_FLAGS) -L 'unit|fuzz'

# the build `make`, `make install` and `make demo` use, every target of it (GCC -O2 -Werror),
# and its unit tests: the inlined fast path as users compile it
test-release: deps
	@bash scripts/test_stage.sh release release $(JOBS) $(CTEST_FLAGS) -L unit

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

# clang-format over the lines this branch changed, never the whole tree (scripts/format.sh says
# why); format-diff only prints what it would change.
format:
	@bash scripts/deps.sh --format
	@bash scripts/format.sh

format-diff:
	@bash scripts/deps.sh --format
	@bash scripts/format.sh --diff

clean:
	rm -rf build
