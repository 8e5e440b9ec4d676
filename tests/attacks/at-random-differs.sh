#!/usr/bin/env bash
# AT_RANDOM and the program's libc canary differ on every boot (issue 4 item 6), and the canary is the one libc
# derives from our AT_RANDOM. tests/attacks/entropy.c prints
# "at-random <32 hex> canary <16 hex> from-at-random yes|no" (and exits 1 unless the canary follows from AT_RANDOM).
#
#   at-random-differs.sh KERNITE kvm|qemu PROGRAM BOOTS
set -u
kernite=$1
vmm=$2
program=$3
boots=$4
if [[ $vmm == kvm ]] && ! { [[ -r /dev/kvm && -w /dev/kvm ]]; }; then
    echo "SKIP: /dev/kvm not usable"
    exit 77
fi
[[ -x $kernite && -x $program ]] || { echo "FAIL: $kernite or $program is not built"; exit 1; }
randoms=()
canaries=()
for ((boot = 1; boot <= boots; boot++)); do
    status=0
    output=$(timeout -s KILL 150 "$kernite" run --vmm "$vmm" --timeout 120 "$program" -- at-random 2>&1 </dev/null) || status=$?
    line=$(grep -Eo '^at-random [0-9a-f]{32} canary [0-9a-f]{16} from-at-random (yes|no)$' <<<"$output")
    if [[ $status -ne 0 || -z $line ]]; then
        echo "FAIL: boot $boot exited $status (the canary must come from AT_RANDOM):"
        tail -5 <<<"$output"
        exit 1
    fi
    echo "boot $boot: $line"
    read -r _ random _ canary _ <<<"$line"
    if [[ $random == 00000000000000000000000000000000 || $canary == 0000000000000000 ]]; then
        echo "FAIL: AT_RANDOM or the canary is zero"
        exit 1
    fi
    randoms+=("$random")
    canaries+=("$canary")
done
if [[ $(printf '%s\n' "${randoms[@]}" | sort -u | wc -l) -ne $boots ]]; then
    echo "FAIL: AT_RANDOM repeated across $boots boots"
    exit 1
fi
if [[ $(printf '%s\n' "${canaries[@]}" | sort -u | wc -l) -ne $boots ]]; then
    echo "FAIL: the libc canary repeated across $boots boots"
    exit 1
fi
echo "PASS: $boots boots, $boots different AT_RANDOM values and canaries, each canary derived from AT_RANDOM ($vmm)"
