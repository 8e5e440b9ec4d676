#!/usr/bin/env bash
# Install the Debian 12 packages Kernite needs to build, test and benchmark.
#
# Idempotent: checks each package with dpkg-query and installs only the missing ones (apt-get update first, and
# only then). Silent when nothing is missing, so `make` can call it on every build.
#
#   scripts/install-deps.sh          packages for make build/run/test/bench (what CI needs)
#   scripts/install-deps.sh --dev    also the developer tools for make format/tidy and shellcheck
set -euo pipefail

packages=(
    g++ make cmake ninja-build binutils # toolchain (gcc also builds bench/floor/floor.c)
    libgtest-dev libgmock-dev googletest # host unit tests
    libbenchmark-dev                     # host micro-benchmarks
    qemu-system-x86                      # the QEMU backend (microvm + PVH), TCG fallback without /dev/kvm
    hyperfine                            # make bench: whole-process boot medians
    util-linux                           # make bench/test helpers (taskset, ...)
    coreutils                            # od, dd, truncate, timeout, stat: malformed-image tests, bench
    gawk                                 # tests and bench parse headers and JSON with awk
    python3                              # tests/host/monitor/smoke.sh parses the events file as JSON
    musl-tools                           # static-PIE test programs (musl-gcc)
    busybox-static                       # a ready static program for differential tests
    dpkg-dev xz-utils                    # apps/: apt-get source and dpkg-source unpack Lua and SQLite at build time
    tcl                                  # apps/: SQLite's amalgamation is generated with tclsh
    rng-tools5                           # tests/attacks: rngtest (FIPS 140-2) judges getrandom output
    linux-perf                           # make bench: kvm:kvm_emulate_insn counts (security_cost_*), tools/ring0-profile.py
    valgrind                             # make bench: callgrind counts of the heap replay (heap_*_per_operation)
)

if [[ ${1:-} == --dev ]]; then
    packages+=(clang-format clang-tidy shellcheck)
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [--dev]" >&2
    exit 2
fi

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    if [[ $status != "install ok installed" ]]; then
        missing+=("$package")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

echo "install-deps: installing missing Debian packages: ${missing[*]}"

as_root=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "install-deps: error: not root and sudo is not installed; as root run:" >&2
        echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"

# Verify: a package that apt could not install must fail the build here, not later with a confusing error.
still_missing=()
for package in "${missing[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || still_missing+=("$package")
done
if [[ ${#still_missing[@]} -gt 0 ]]; then
    echo "install-deps: error: still missing after apt-get install: ${still_missing[*]}" >&2
    exit 1
fi
