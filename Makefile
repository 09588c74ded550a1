# The two commands of the README: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

JOBS ?= $(shell nproc)

# ccache (Debian's, installed by `make deps`), its cache outside the clone (~/.cache/ccache): a
# second clone on the same machine (CI clones afresh each time) compiles from the cache. Paths are
# made relative to the clone, so clones in different folders share entries; a fresh clone's files
# are all newer than ccache trusts unless told to ignore include files' times.
CCACHE := $(shell command -v ccache 2>/dev/null)
LAUNCHER := $(if $(CCACHE),-DCMAKE_CXX_COMPILER_LAUNCHER=$(CCACHE))
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
export CCACHE_SLOPPINESS := include_file_mtime,include_file_ctime
export CCACHE_MAXSIZE ?= 5G
FORMATTED = $$(git ls-files 'src/*.h' 'src/*.cc' 'tests/*.cc' 'bench/*.cc' 'fuzz/*.cc' 'examples/*.cc' 'examples/*.h')

.PHONY: help deps build build-asan build-tsan test test-unit test-asan demo bench package clean format format-check

help:
	@echo "make demo   - build eddy and run the demo (data in ./eddy-data)"
	@echo "make test   - build and run every test (unit, end-to-end, unit and the hostile suite again under ASan+UBSan)"
	@echo "make bench  - ingest benchmark against kinesalite (see BENCHMARKS.md)"
	@echo "make package - the Debian package build/package/eddy_<version>_<arch>.deb (eddy as a systemd service)"

# Idempotent: installs only what is missing. Needs root (or sudo) for apt-get.
deps:
	@bash scripts/deps.sh

build: deps
	cmake --preset release $(LAUNCHER) >/dev/null
	scripts/stage.sh build-release cmake --build --preset release -j $(JOBS)

build-asan: deps
	cmake --preset asan $(LAUNCHER) >/dev/null
	scripts/stage.sh build-asan cmake --build --preset asan -j $(JOBS) --target eddy eddy_unit_tests cbor_request_fuzz json_request_fuzz sigv4_fuzz \
	  sql_parser_fuzz pipeline_file_fuzz record_mapping_fuzz delivery_prefix_fuzz record_json_fuzz

# ThreadSanitizer over the unit tests of the modules that run threads (eddy_core_tests only: the
# API and the CLI are not compiled under it).
build-tsan: deps
	cmake --preset tsan $(LAUNCHER) >/dev/null
	scripts/stage.sh build-tsan cmake --build --preset tsan -j $(JOBS)

test: build build-asan build-tsan
	cd build/release && ../../scripts/stage.sh test-release ctest --output-on-failure -j 2
	# The sanitizer builds run each test binary once, every test in one process (an ASan process
	# takes about a second to start: 300 of them, one per test as ctest runs them, were 3 minutes).
	cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ../../scripts/stage.sh test-asan-unit bash -c 'tests/eddy_unit_tests --gtest_brief=1 && ctest --output-on-failure -R "^fuzz_replay_" -j 2'
	cd build/tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  ../../scripts/stage.sh test-tsan tests/eddy_core_tests --gtest_brief=1
	# The hostile suite once more against a server built with ASan+UBSan: a memory error or an
	# overflowed stack that a release build survives by luck fails here.
	EDDY_BIN=$(CURDIR)/build/asan/eddy ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  scripts/stage.sh test-hostile-asan bash tests/e2e/python/run_all.sh test_hostile_names test_hostile_input test_hostile_auth test_hostile_host \
	  test_hostile_resources test_hostile_disk

test-unit: build
	cd build/release && ctest --output-on-failure -L unit -j 2

demo: build
	@bash scripts/demo.sh

bench: build
	@bash bench/ingest_vs_kinesalite.sh

# The Debian package (cmake/Packaging.cmake): /usr/bin/eddy, the systemd unit eddy.service, the
# conffile /etc/eddy/eddy.yaml and the docs; `apt install ./eddy_*.deb` on the target machine
# (docs/operations.md). cpack packs build/release as built; tests/package checks the result.
package: build
	rm -rf build/package
	cpack --config build/release/CPackConfig.cmake -B build/package >/dev/null
	rm -rf build/package/_CPack_Packages
	@echo "package: $$(ls build/package/*.deb)"

format:
	clang-format -i $(FORMATTED)

format-check:
	@clang-format --dry-run -Werror $(FORMATTED) || \
	  { echo "format-check: the files above are not formatted as .clang-format says: run make format" >&2; exit 1; }

clean:
	rm -rf build
