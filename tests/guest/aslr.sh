#!/usr/bin/env bash
# KASLR, judged from the host: three boots print three different kernel bases (`--print-layout`), each
# page-aligned inside the window (kernel/boot/boot_params.h), on stderr; `--no-aslr` gives the link base and a
# warning. The kernel's heap (large-block region) and thread-stack region likewise: three different page-aligned
# bases inside their 16 TiB windows (kernel/mm/aslr.h), the window's start with `--no-aslr`. (The entropy, in bits
# over many boots, is a `make bench` figure: aslr_bits_<region>.)
#   aslr.sh KERNITE kvm|qemu
set -u
kernite=$1
vmm=$2
if [[ $vmm == kvm ]] && ! { [[ -r /dev/kvm && -w /dev/kvm ]]; }; then
    echo "SKIP: /dev/kvm not usable"
    exit 77
fi
window_low=$((0xfffff00000000000))
window_high=$((0xffffffffc0000000))
link_base=0xffffffff80100000
fail=0
bases=()
heap_bases=()
slab_bases=()
alias_bases=()
stack_bases=()
# region_ok NAME BASE WINDOW_START: page-aligned, inside [start, start + 16 TiB - the region's size].
region_ok()
{
    local name=$1 base=$2 start=$3 size=$4 window=${5:-$((1 << 44))}
    if [[ -z $base ]]; then
        echo "FAIL: no 'layout $name' line"
        return 1
    fi
    if (( base - start < 0 || base - start > window - size || (base & 0xfff) != 0 )); then
        echo "FAIL: $name base $base is not a page inside its window at $start"
        return 1
    fi
}
for boot in 1 2 3; do
    stderr=$("$kernite" run --vmm "$vmm" --timeout 60 --print-layout --cmdline quick 2>&1 >/dev/null) || {
        echo "FAIL: boot $boot exited $?: $stderr"
        exit 1
    }
    base=$(grep -o '^layout kernel 0x[0-9a-f]*' <<<"$stderr" | awk '{ print $3 }')
    if [[ -z $base ]]; then
        echo "FAIL: boot $boot printed no 'layout kernel' line on stderr: $stderr"
        exit 1
    fi
    # Compare as unsigned 64-bit: bash arithmetic is signed, so offset everything by the window's start.
    offset=$(( base - window_low ))
    if (( offset < 0 || base - window_low > window_high - window_low || (base & 0xfff) != 0 )); then
        echo "FAIL: base $base is not a page inside the KASLR window"
        fail=1
    fi
    bases+=("$base")
    heap=$(grep -o '^layout kernel-heap 0x[0-9a-f]*' <<<"$stderr" | awk '{ print $3 }')
    slab=$(grep -o '^layout kernel-slab 0x[0-9a-f]*' <<<"$stderr" | awk '{ print $3 }')
    alias=$(grep -o '^layout kernel-alias 0x[0-9a-f]*' <<<"$stderr" | awk '{ print $3 }')
    stack=$(grep -o '^layout kernel-stack 0x[0-9a-f]*' <<<"$stderr" | awk '{ print $3 }')
    # kernel/mm/aslr.h: large blocks in the heap window's lower 8 TiB, the slab region in its third quarter,
    # OSCAR's 2 TiB of aliases in its last quarter.
    region_ok kernel-heap "$heap" $((0xffffd00000000000)) $((1 << 40)) $((1 << 43)) || fail=1
    region_ok kernel-slab "$slab" $((0xffffd80000000000)) $((64 << 30)) $((1 << 42)) || fail=1
    region_ok kernel-alias "$alias" $((0xffffdc0000000000)) $((2 << 40)) $((1 << 42)) || fail=1
    region_ok kernel-stack "$stack" $((0xffffc00000000000)) $((4096 * 32 * 4096)) || fail=1
    heap_bases+=("$heap")
    slab_bases+=("$slab")
    alias_bases+=("$alias")
    stack_bases+=("$stack")
done
echo "kernel heap bases: ${heap_bases[*]}; slab bases: ${slab_bases[*]}; alias bases: ${alias_bases[*]};" \
    "kernel stack bases: ${stack_bases[*]}"
for list in "${heap_bases[*]}" "${slab_bases[*]}" "${alias_bases[*]}" "${stack_bases[*]}"; do
    if [[ $(tr ' ' '\n' <<<"$list" | sort -u | wc -l) -ne 3 ]]; then
        echo "FAIL: the three boots did not get three different bases: $list"
        fail=1
    fi
done
echo "kernel bases: ${bases[*]}"
if [[ $(printf '%s\n' "${bases[@]}" | sort -u | wc -l) -ne 3 ]]; then
    echo "FAIL: the three boots did not get three different bases"
    fail=1
fi
stderr=$("$kernite" run --vmm "$vmm" --timeout 60 --print-layout --no-aslr --cmdline quick 2>&1 >/dev/null)
grep -q "^layout kernel $link_base\$" <<<"$stderr" || { echo "FAIL: --no-aslr did not use the link base: $stderr"; fail=1; }
grep -q "^layout kernel-heap 0xffffd00000000000\$" <<<"$stderr" || { echo "FAIL: --no-aslr: kernel heap not at its window's start"; fail=1; }
grep -q "^layout kernel-slab 0xffffd80000000000\$" <<<"$stderr" || { echo "FAIL: --no-aslr: slab region not at its window's start"; fail=1; }
grep -q "^layout kernel-alias 0xffffdc0000000000\$" <<<"$stderr" || { echo "FAIL: --no-aslr: alias region not at its window's start"; fail=1; }
grep -q "^layout kernel-stack 0xffffc00000000000\$" <<<"$stderr" || { echo "FAIL: --no-aslr: kernel stacks not at their window's start"; fail=1; }
grep -q "warning: ASLR is off" <<<"$stderr" || { echo "FAIL: --no-aslr without its warning: $stderr"; fail=1; }
exit $fail
