#!/usr/bin/env bash
# `kernite checksec` on the three built kernel images (issue 4 item 7): each is analysed from the binary alone;
# what it reports must match what its profile compiles in (cmake/KernelFlags.cmake), hardened and baseline must
# differ where baseline turns protections off, and debug must show what it has. Boots nothing.
#
#   checksec.sh KERNITE KERNEL_DIR KERNEL_FLAGS_CMAKE
set -uo pipefail

kernite=$1
kernel_dir=$2
flags_file=$3
fail=0

failure()
{
    echo "FAIL: $*"
    fail=1
}

for file in "$kernite" "$kernel_dir"/kernite-{hardened,debug,baseline}.elf "$flags_file"; do
    if [[ ! -e $file ]]; then
        echo "FAIL: $file is missing: build first"
        exit 1
    fi
done

# field JSON KEY: the value of KEY in a flat JSON object (true/false, a number, or a string without its quotes).
field()
{
    grep -o "\"$2\":\(\"[^\"]*\"\|[a-z0-9]*\)" <<<"$1" | head -1 | cut -d: -f2- | tr -d '"'
}

# expect PROFILE JSON KEY VALUE
expect()
{
    local actual
    actual=$(field "$2" "$3")
    if [[ $actual != "$4" ]]; then
        failure "$1: $3 is '$actual', expected '$4'"
    fi
}

# What a profile compiles in, read from cmake/KernelFlags.cmake: the common flags, the profile's flags and its
# defines (each a `set(NAME ...)` block).
profile_config()
{
    awk -v profile="$1" '
        /^set\(/ { name = $1; sub(/^set\(/, "", name)
                   keep = (name == "KERNITE_KERNEL_COMMON_FLAGS" || name == "KERNITE_KERNEL_PROFILE_FLAGS_" profile ||
                           name == "KERNITE_KERNEL_PROFILE_DEFINES_" profile) }
        keep { sub(/#.*/, ""); print }
        /\)/ { keep = 0 }' "$flags_file"
}

declare -A report
for profile in hardened debug baseline; do
    image=$kernel_dir/kernite-$profile.elf
    json=$("$kernite" checksec --json "$image")
    status=$?
    echo "$profile: $json"
    if [[ $status -ne 0 ]]; then
        failure "$profile: checksec --json exited $status"
        continue
    fi
    report[$profile]=$json
    # Valid JSON, one flat object.
    if ! python3 -c 'import json, sys; o = json.loads(sys.argv[1]); assert isinstance(o, dict)
assert all(not isinstance(v, (dict, list)) for v in o.values())' "$json"; then
        failure "$profile: the output is not one flat JSON object"
    fi

    # Every profile: the same linker script and loader, so the same layout protections and a feature note.
    for key in pie nx wx_free relro feature_note; do
        expect "$profile" "$json" "$key" true
    done
    expect "$profile" "$json" kind kernel
    expect "$profile" "$json" note_profile "$profile"
    expect "$profile" "$json" note_mismatches ""

    # What the binary shows must be what KernelFlags.cmake asks for.
    config=$(profile_config "$profile")
    wants() { grep -q -E -- "$1" <<<"$config" && echo true || echo false; }
    canary=false
    if grep -q -E -- '-fstack-protector(-strong|-all)?( |$)' <<<"$config" \
        && ! grep -q -- '-fno-stack-protector' <<<"$config"; then
        canary=true
    fi
    expect "$profile" "$json" canary "$canary"
    expect "$profile" "$json" kasan "$(wants '-fsanitize=[a-z,-]*(kernel-)?address|KERNITE_KASAN=1')"
    expect "$profile" "$json" ubsan "$(wants '-fsanitize=[a-z,-]*undefined|KERNITE_UBSAN=1')"
    expect "$profile" "$json" cfi \
        "$(wants '-fcf-protection(=full|=branch)?( |$)|-fsanitize=[a-z,-]*k?cfi|KERNITE_CFI=1')"
    expect "$profile" "$json" hardened_heap "$(wants 'KERNITE_HEAP_HARDENED=1')"
    expect "$profile" "$json" fortify "$(wants '_FORTIFY_SOURCE=[1-3]|KERNITE_FORTIFY=1')"
done

# Issue 5: the sanitizers and FORTIFY, from the binary (calls to __asan_*, __ubsan_handle_*, __*_chk): debug has
# KASAN and UBSAN, hardened and debug FORTIFY, baseline none of them.
expect debug "${report[debug]:-}" kasan true
expect debug "${report[debug]:-}" ubsan true
expect debug "${report[debug]:-}" fortify true
expect hardened "${report[hardened]:-}" kasan false
expect hardened "${report[hardened]:-}" ubsan false
expect hardened "${report[hardened]:-}" fortify true
expect baseline "${report[baseline]:-}" kasan false
expect baseline "${report[baseline]:-}" ubsan false
expect baseline "${report[baseline]:-}" fortify false
expect debug "${report[debug]:-}" note_kasan on
expect debug "${report[debug]:-}" note_ubsan on
expect hardened "${report[hardened]:-}" note_fortify 3
expect baseline "${report[baseline]:-}" note_fortify off

# Register zeroing (-fzero-call-used-regs) is opt-in for hardened (KERNITE_ZERO_CALL_USED_REGS, read from this
# build's cache) and never in debug or baseline; checksec finds it in the code, and the note must agree.
zero_regs=false zero_regs_note=off
if grep -q '^KERNITE_ZERO_CALL_USED_REGS:BOOL=ON$' "$kernel_dir/../CMakeCache.txt" 2>/dev/null; then
    zero_regs=true zero_regs_note=on
fi
expect hardened "${report[hardened]:-}" zero_regs "$zero_regs"
expect hardened "${report[hardened]:-}" note_zero_regs "$zero_regs_note"
for profile in debug baseline; do
    expect "$profile" "${report[$profile]:-}" zero_regs false
    expect "$profile" "${report[$profile]:-}" note_zero_regs off
done
# The measurement variant has the other setting (make bench builds it: cmake --build build --target tax-kernels).
variant=$kernel_dir/kernite-hardened-zero-regs.elf
if [[ -f $variant ]]; then
    json=$("$kernite" checksec --json "$variant")
    expect hardened-zero-regs "$json" zero_regs "$([[ $zero_regs == true ]] && echo false || echo true)"
    expect hardened-zero-regs "$json" note_mismatches ""
else
    echo "note: $variant is not built (target tax-kernels): the opt-in side of zero_regs is checked by host tests only"
fi

# Hardened and baseline must differ where baseline turns protections off (DESIGN.md: baseline has them off).
expect hardened "${report[hardened]:-}" canary true
expect baseline "${report[baseline]:-}" canary false
expect hardened "${report[hardened]:-}" hardened_heap true
expect baseline "${report[baseline]:-}" hardened_heap false
expect hardened "${report[hardened]:-}" note_stack_protector strong
expect baseline "${report[baseline]:-}" note_stack_protector none
expect hardened "${report[hardened]:-}" canary_method symbol
# Debug shows what it has: -fstack-protector-all protects more functions than -strong.
expect debug "${report[debug]:-}" canary true
expect debug "${report[debug]:-}" note_stack_protector all
expect debug "${report[debug]:-}" hardened_heap true
debug_sites=$(field "${report[debug]:-}" canary_sites)
hardened_sites=$(field "${report[hardened]:-}" canary_sites)
if ! (( ${debug_sites:-0} > ${hardened_sites:-0} && ${hardened_sites:-0} > 0 )); then
    failure "canary call sites: debug ${debug_sites:-?} should exceed hardened ${hardened_sites:-?} (> 0)"
fi

# The table, with a program beside the image (any ELF program will do; this one is the host's).
table=$("$kernite" checksec "$kernel_dir/kernite-hardened.elf" --program /bin/true)
status=$?
echo "$table"
[[ $status -eq 0 ]] || failure "table with --program exited $status"
grep -q "^  feature note   version=1 profile=hardened" <<<"$table" || failure "the table shows no feature note"
grep -q "^/bin/true: program, " <<<"$table" || failure "the table has no report for --program"
[[ $(grep -c "^  canary " <<<"$table") -eq 2 ]] || failure "expected one canary line per binary"

# Unreadable or malformed files: 127 and a message, never a crash.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
head -c 2000 "$kernel_dir/kernite-hardened.elf" >"$scratch/truncated.elf"
echo "not an ELF" >"$scratch/text.elf"
for bad in "$scratch/truncated.elf" "$scratch/text.elf" "$scratch/missing.elf" "$scratch"; do
    output=$("$kernite" checksec "$bad" 2>&1)
    status=$?
    if [[ $status -ne 127 ]] || ! grep -q "^kernite: checksec: " <<<"$output"; then
        failure "checksec $bad exited $status (127 expected) with: $output"
    fi
done

[[ $fail -eq 0 ]] && echo "checksec: all images as expected"
exit $fail
