# The two commands of the README: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

JOBS ?= $(shell nproc)

.PHONY: help deps build build-asan test test-unit test-asan demo bench clean format

help:
	@echo "make demo   - build eddy and run the demo (data in ./eddy-data)"
	@echo "make test   - build and run every test (unit, end-to-end, unit and the hostile suite again under ASan+UBSan)"
	@echo "make bench  - ingest benchmark against kinesalite (see BENCHMARKS.md)"

# Idempotent: installs only what is missing. Needs root (or sudo) for apt-get.
deps:
	@bash scripts/deps.sh

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

build-asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS) --target eddy eddy_unit_tests cbor_request_fuzz json_request_fuzz sigv4_fuzz \
	  sql_parser_fuzz pipeline_file_fuzz record_mapping_fuzz delivery_prefix_fuzz record_json_fuzz

test: build build-asan
	cd build/release && ctest --output-on-failure -j 2
	cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -L unit -j 2
	# The hostile suite once more against a server built with ASan+UBSan: a memory error or an
	# overflowed stack that a release build survives by luck fails here.
	EDDY_BIN=$(CURDIR)/build/asan/eddy ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  bash tests/e2e/python/run_all.sh test_hostile_names test_hostile_input test_hostile_auth test_hostile_host \
	  test_hostile_resources test_hostile_disk

test-unit: build
	cd build/release && ctest --output-on-failure -L unit -j 2

demo: build
	@bash scripts/demo.sh

bench: build
	@bash bench/ingest_vs_kinesalite.sh

format:
	clang-format -i $$(git ls-files 'src/*.h' 'src/*.cc' 'tests/*.cc' 'bench/*.cc' 'fuzz/*.cc')

clean:
	rm -rf build
