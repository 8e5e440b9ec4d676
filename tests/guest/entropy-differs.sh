#!/usr/bin/env bash
# Boots the kernel twice and checks that the stack canary and the generator's first output differ between the
# boots (issue 4: "canaries and seeds differ across boots"). The kernel prints them only when asked
# (`--cmdline print-canary`): "kernite: entropy: canary <16 hex> first-output <16 hex>".
#
#   entropy-differs.sh KERNITE VMM TIMEOUT
#
# Also checks each canary's low byte is zero and the canary is not zero. Exit 77 (skip) for kvm without a usable
# /dev/kvm, as expect-run.sh does.
set -euo pipefail

kernite=$1
vmm=$2
timeout=$3

if [[ ! -x $kernite ]]; then
    echo "FAIL: $kernite is missing: build first" >&2
    exit 1
fi
if [[ $vmm == kvm ]] && ! (exec 3<>/dev/kvm) 2>/dev/null; then
    echo "SKIP: /dev/kvm not usable"
    exit 77
fi

boot()
{
    local output status=0
    output=$("$kernite" run --vmm "$vmm" --timeout "$timeout" --cmdline "print-canary quick" 2>&1) || status=$?
    if [[ $status -ne 0 ]]; then
        echo "FAIL: boot exited $status:" >&2
        echo "$output" | tail -20 >&2
        exit 1
    fi
    local line
    line=$(echo "$output" | grep -E -o 'entropy: canary [0-9a-f]{16} first-output [0-9a-f]{16}' || true)
    if [[ -z $line ]]; then
        echo "FAIL: no canary line in the output:" >&2
        echo "$output" | tail -20 >&2
        exit 1
    fi
    if ! echo "$output" | grep -q -E 'entropy: reseed ok \(boot seed yes'; then
        echo "FAIL: no boot seed, or the runtime reseed found no source:" >&2
        echo "$output" | grep entropy >&2 || true
        exit 1
    fi
    # Under the Kernite monitor the reseed must have used the Entropy hypercall.
    if [[ $vmm == kvm ]] && ! echo "$output" | grep -q -E 'entropy: reseed ok .*host bytes [1-9]'; then
        echo "FAIL: the reseed got nothing from the monitor's Entropy hypercall:" >&2
        echo "$output" | grep entropy >&2 || true
        exit 1
    fi
    # ... and the generator's first output came from the monitor's boot pool (BootInfo::entropy_pool).
    if [[ $vmm == kvm ]] && ! echo "$output" | grep -q -E 'entropy: reseed ok .*boot pool 64 bytes'; then
        echo "FAIL: the monitor's boot pool did not reach the generator:" >&2
        echo "$output" | grep entropy >&2 || true
        exit 1
    fi
    echo "$line"
}

first=$(boot)
second=$(boot)
echo "boot 1: $first"
echo "boot 2: $second"
read -r _ _ canary1 _ output1 <<<"$first"
read -r _ _ canary2 _ output2 <<<"$second"
for canary in "$canary1" "$canary2"; do
    if [[ ${canary: -2} != 00 ]]; then
        echo "FAIL: canary $canary: low byte is not zero" >&2
        exit 1
    fi
    if [[ $canary == 0000000000000000 ]]; then
        echo "FAIL: canary is zero" >&2
        exit 1
    fi
done
if [[ $canary1 == "$canary2" ]]; then
    echo "FAIL: the canary is the same on both boots ($canary1)" >&2
    exit 1
fi
if [[ $output1 == "$output2" ]]; then
    echo "FAIL: the generator's first output is the same on both boots ($output1)" >&2
    exit 1
fi
echo "PASS: canaries and generator output differ across boots ($vmm)"
