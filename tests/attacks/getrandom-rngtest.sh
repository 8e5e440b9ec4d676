#!/usr/bin/env bash
# A statistical test of getrandom(2) as a program sees it (issue 4 item 6): tests/attacks/entropy.c writes
# KERNITE_RNGTEST_BYTES (default 128 KiB) of getrandom output to stdout under `kernite run`, and the host runs
# rngtest (Debian rng-tools5: the FIPS 140-2 monobit, poker, runs, long-run and continuous-run tests on blocks of
# 20,000 bits) on it.
#
#   getrandom-rngtest.sh KERNITE kvm|qemu PROGRAM
#
# Size: on the test machines (KVM through PVM, ring 0 emulated) a program gets about 2 KB/s of getrandom output
# through stdout, so the default is 128 KiB (52 blocks, about a minute); KERNITE_RNGTEST_BYTES=4194304 (1677
# blocks) is the issue's "few MiB", for a machine with real KVM.
# rngtest exits 1 as soon as one block fails, but a perfect source fails about 0.1% of blocks (FIPS 140-2's
# thresholds are set that way; the host's own /dev/urandom fails 1-5 of 1677 blocks). So the verdict is taken
# from rngtest's counts instead: every block tested and at most max(2, 1% of the blocks) failed (a Poisson count
# with mean 0.05-2 exceeds that with probability below 1e-3), while a biased, repeating or counter-like source
# fails nearly every block. The bytes must also all be there.
set -u
kernite=$1
vmm=$2
program=$3
bytes=${KERNITE_RNGTEST_BYTES:-$((128 << 10))}
if [[ $vmm == kvm ]] && ! { [[ -r /dev/kvm && -w /dev/kvm ]]; }; then
    echo "SKIP: /dev/kvm not usable"
    exit 77
fi
command -v rngtest >/dev/null || { echo "FAIL: rngtest is not installed (scripts/install-deps.sh: rng-tools5)"; exit 1; }
[[ -x $kernite && -x $program ]] || { echo "FAIL: $kernite or $program is not built"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kernite-rngtest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

status=0
timeout -s KILL 330 "$kernite" run --vmm "$vmm" --timeout 300 "$program" -- getrandom "$bytes" \
    </dev/null >"$tmp/random.bin" 2>"$tmp/stderr.txt" || status=$?
size=$(stat -c %s "$tmp/random.bin")
if [[ $status -ne 0 || $size -ne $bytes ]]; then
    echo "FAIL: the program exited $status with $size of $bytes bytes:"
    tail -5 "$tmp/stderr.txt"
    exit 1
fi
rngtest <"$tmp/random.bin" >"$tmp/rngtest.txt" 2>&1
cat "$tmp/rngtest.txt" | grep -E 'successes|failures|Monobit|Poker|Runs|Long run|Continuous'
successes=$(awk '/FIPS 140-2 successes:/ { print $NF }' "$tmp/rngtest.txt")
failures=$(awk '/FIPS 140-2 failures:/ { print $NF }' "$tmp/rngtest.txt")
blocks=$((bytes * 8 / 20000))
if [[ -z $successes || -z $failures ]]; then
    echo "FAIL: rngtest printed no counts"
    exit 1
fi
if ((successes + failures != blocks)); then
    echo "FAIL: rngtest tested $((successes + failures)) blocks, expected $blocks"
    exit 1
fi
allowed=$((blocks / 100 > 2 ? blocks / 100 : 2))
if ((blocks < 20 || failures > allowed)); then
    echo "FAIL: $failures of $blocks FIPS 140-2 blocks failed (at most $allowed allowed, at least 20 blocks)"
    exit 1
fi
echo "PASS: $failures of $blocks FIPS 140-2 blocks failed (at most $allowed allowed; a random source fails ~0.1%) ($vmm)"
