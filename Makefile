# Kernite: the entry points DESIGN.md promises. `make` alone builds.
#
#   make build   install missing Debian packages, configure (cmake --preset default), build everything
#   make run     build, then boot the demo: ./build/bin/kernite run $(RUN_ARGS)
#   make test    build, then run every test through CTest (host unit tests and guest boots)
#   make bench   build, then bench/run.sh: boot medians, image size, memory floor -> build/bench/results.json
#   make clean   remove build/
#   make format  clang-format -i on the repository's C and C++ sources
#   make tidy    clang-tidy on the host code, using build/compile_commands.json
#
# Every recipe stops at its first failing command; nothing here ignores an error.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

BUILD_DIR := build
JOBS ?= $(shell nproc)
# Guest tests boot VMs: two at a time keeps a 2-core machine responsive and the suite well under 30 minutes.
TEST_JOBS ?= 2
RUN_ARGS ?=
CTEST_ARGS ?=

# Sources for format and tidy: everything we wrote, never build output or third-party code.
SOURCE_DIRS := abi arch platform kernel libs monitor tools tests bench
FORMAT_FILES = $(shell find $(SOURCE_DIRS) -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.hpp' -o -name '*.c' \) 2>/dev/null)
# clang-tidy reads compile flags from the build; kernel files use GCC-only flags, so tidy covers host code.
TIDY_REGEX := $(CURDIR)/(monitor|tools|libs|tests/host)/.*\.cpp$$

.DEFAULT_GOAL := build
.PHONY: build deps configure run test bench clean format tidy

deps:
	scripts/install-deps.sh

configure: deps
	cmake --preset default

build: configure
	cmake --build --preset default -j$(JOBS)

run: build
	./$(BUILD_DIR)/bin/kernite run $(RUN_ARGS)

test: build
	ctest --preset default -j$(TEST_JOBS) $(CTEST_ARGS)

bench: build
	bench/run.sh

clean:
	rm -rf $(BUILD_DIR)

format:
	scripts/install-deps.sh --dev
	clang-format -i $(FORMAT_FILES)

tidy: configure
	scripts/install-deps.sh --dev
	run-clang-tidy -p $(BUILD_DIR) -quiet \
	    -extra-arg=-Wno-unknown-warning-option -extra-arg=-Wno-unused-command-line-argument \
	    '$(TIDY_REGEX)'
