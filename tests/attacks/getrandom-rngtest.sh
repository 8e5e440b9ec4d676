#!/usr/bin/env bash
# A statistical test of getrandom(2) as a program sees it (issue 4 item 6): tests/attacks/entropy.c writes 4 MiB
# of getrandom output to stdout under `kernite run`, and the host runs rngtest (Debian rng-tools5: the FIPS 140-2
# monobit, poker, runs, long-run and continuous-run tests on blocks of 20,000 bits) on it.
#
#   getrandom-rngtest.sh KERNITE kvm|qemu PROGRAM
#
# rngtest exits 1 as soon as one block fails, but a perfect source fails about 0.1% of blocks (FIPS 140-2's
# thresholds are set that way; the host's own /dev/urandom fails 1-5 of 1677 blocks). So the verdict is taken
# from rngtest's counts instead: all 1677 blocks tested and at most 1% of them failed (an expected 1-2; a
# Poisson count above 16 has probability below 1e-10), while a biased, repeating or counter-like source fails
# nearly every block. The bytes must also be all there (exactly 4 MiB) and not all the same.
set -u
kernite=$1
vmm=$2
program=$3
bytes=$((4 << 20))
if [[ $vmm == kvm ]] && ! { [[ -r /dev/kvm && -w /dev/kvm ]]; }; then
    echo "SKIP: /dev/kvm not usable"
    exit 77
fi
command -v rngtest >/dev/null || { echo "FAIL: rngtest is not installed (scripts/install-deps.sh: rng-tools5)"; exit 1; }
[[ -x $kernite && -x $program ]] || { echo "FAIL: $kernite or $program is not built"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kernite-rngtest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

status=0
timeout -s KILL 240 "$kernite" run --vmm "$vmm" --timeout 180 "$program" -- getrandom "$bytes" \
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
if ((failures * 100 > blocks)); then
    echo "FAIL: $failures of $blocks FIPS 140-2 blocks failed (more than 1%)"
    exit 1
fi
echo "PASS: $failures of $blocks FIPS 140-2 blocks failed (at most 1% allowed; a random source fails ~0.1%) ($vmm)"
