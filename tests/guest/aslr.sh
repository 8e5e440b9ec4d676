#!/usr/bin/env bash
# KASLR, judged from the host: three boots print three different kernel bases (`--print-layout`), each
# page-aligned inside the window (kernel/boot/boot_params.h), on stderr; `--no-aslr` gives the link base and a
# warning. (The entropy, in bits over many boots, is a `make bench` figure: aslr_bits_kernel.)
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
done
echo "kernel bases: ${bases[*]}"
if [[ $(printf '%s\n' "${bases[@]}" | sort -u | wc -l) -ne 3 ]]; then
    echo "FAIL: the three boots did not get three different bases"
    fail=1
fi
stderr=$("$kernite" run --vmm "$vmm" --timeout 60 --print-layout --no-aslr --cmdline quick 2>&1 >/dev/null)
grep -q "^layout kernel $link_base\$" <<<"$stderr" || { echo "FAIL: --no-aslr did not use the link base: $stderr"; fail=1; }
grep -q "warning: ASLR is off" <<<"$stderr" || { echo "FAIL: --no-aslr without its warning: $stderr"; fail=1; }
exit $fail
