#!/usr/bin/env bash
# Check that a program is what Kernite's loader runs (issue 3 item 1, PLATFORM.md "Building applications"):
#
#   check-static-elf.sh PROGRAM static-pie|static
#
#   - an x86-64 ELF executable: ET_DYN for static-pie, ET_EXEC for static;
#   - no PT_INTERP (no dynamic loader) and, for static-pie, no DT_NEEDED;
#   - a PT_GNU_STACK without execute permission (the kernel refuses an executable stack);
#   - only R_X86_64_RELATIVE and R_X86_64_IRELATIVE relocations: a static-PIE program relocates itself and
#     applies nothing else, so any other type (TPOFF64 from -rdynamic, GLOB_DAT, ...) would crash it later.
set -euo pipefail

if [[ $# -ne 2 || ($2 != static-pie && $2 != static) ]]; then
    echo "usage: $0 PROGRAM static-pie|static" >&2
    exit 2
fi
program=$1
kind=$2

fail()
{
    echo "check-static-elf: $program: $*" >&2
    exit 1
}

[[ -f $program ]] || fail "no such file"
header=$(readelf -hW "$program") || fail "not an ELF file"
segments=$(readelf -lW "$program")
relocations=$(readelf -rW "$program")

grep -Eq '^ *Machine: +Advanced Micro Devices X86-64' <<<"$header" || fail "not an x86-64 program"
if [[ $kind == static-pie ]]; then
    grep -Eq '^ *Type: +DYN ' <<<"$header" || fail "not ET_DYN: a static-PIE program must be position-independent"
    if readelf -dW "$program" | grep -q '(NEEDED)'; then
        fail "has DT_NEEDED entries: it wants shared libraries"
    fi
else
    grep -Eq '^ *Type: +EXEC ' <<<"$header" || fail "not ET_EXEC: expected a static, fixed-address program"
fi
if grep -Eq '^ *INTERP ' <<<"$segments"; then
    fail "has a PT_INTERP ($(grep -o 'Requesting program interpreter: [^]]*' <<<"$segments")): it is dynamically linked"
fi
stack=$(grep -E '^ *GNU_STACK ' <<<"$segments") || fail "has no PT_GNU_STACK: the stack would be executable"
# readelf prints the flags as the second-to-last column, e.g. "RW " or "RWE".
flags=$(awk '{ print $(NF-1) }' <<<"$stack")
[[ $flags != *E* ]] || fail "asks for an executable stack (PT_GNU_STACK $flags)"

# Relocation lines start with an offset; the type is the third column.
unexpected=$(awk '/^[0-9a-f]+ +[0-9a-f]+ +R_X86_64_/ && $3 != "R_X86_64_RELATIVE" && $3 != "R_X86_64_IRELATIVE" {
        print $3 " " ($5 == "" ? "" : $5) }' <<<"$relocations" | sort | uniq -c | head -n 5)
if [[ -n $unexpected ]]; then
    fail "has relocations other than RELATIVE/IRELATIVE (linked with -rdynamic or against a shared object?):" \
        $'\n'"$unexpected"
fi
exit 0
