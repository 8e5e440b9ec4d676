#!/usr/bin/env bash
# What virtio-rng (kernel/drivers/virtio) costs a QEMU boot, from the kernel's own boot timeline
# (`--cmdline "quick boot-timeline"`): boots with the device and without it (`--no-virtio-rng`), interleaved so
# both see the same machine load, and prints the medians as `key value` lines:
#   virtio_rng_stage_us_<accel>      stage `virtio-rng` with the device (command-line parse, mapping, handshake,
#                                    one 32-byte request, one reseed block)
#   virtio_rng_stage_off_us_<accel>  the same stage without the device (command-line scan only)
#   virtio_rng_boot_us_<accel>, virtio_rng_boot_off_us_<accel>  the whole in-guest boot (`total`)
# <accel> is `kvm` (QEMU's default here when /dev/kvm works: a seed module and RDRAND are there too) and `tcg`
# (forced by `--no-entropy-seed`, RDRAND hidden; without the device that boot needs `insecure-entropy`).
# Usage: bench/virtio_rng_cost.sh [RUNS] (default 11). KERNITE_BIN overrides build/bin/kernite.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kernite=${KERNITE_BIN:-$repo_root/build/bin/kernite}
runs=${1:-11}

# stage_of OUTPUT NAME: the microseconds of stage NAME in the boot-timeline line, or nothing.
stage_of()
{
    sed -n 's/.*boot timeline (us): //p' <<<"$1" | tr ',' '\n' | awk -v name="$2" '$1 == name { print $2 }'
}

median()
{
    sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "null"; else if (NR % 2) print v[(NR + 1) / 2];
        else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

for accel in kvm tcg; do
    on=() off=() on_total=() off_total=()
    if [[ $accel == kvm ]]; then
        on_args=(--cmdline "quick boot-timeline")
        off_args=(--no-virtio-rng --cmdline "quick boot-timeline")
    else
        on_args=(--no-entropy-seed --cmdline "quick boot-timeline")
        off_args=(--no-entropy-seed --no-virtio-rng --cmdline "quick boot-timeline insecure-entropy")
    fi
    for ((i = 0; i < runs; ++i)); do
        out=$("$kernite" run --vmm qemu --timeout 60 "${on_args[@]}" 2>&1) || { echo "virtio_rng_cost: boot failed: $out" >&2; exit 1; }
        on+=("$(stage_of "$out" virtio-rng)") on_total+=("$(stage_of "$out" total)")
        out=$("$kernite" run --vmm qemu --timeout 60 "${off_args[@]}" 2>&1) || { echo "virtio_rng_cost: boot failed: $out" >&2; exit 1; }
        off+=("$(stage_of "$out" virtio-rng)") off_total+=("$(stage_of "$out" total)")
    done
    echo "virtio_rng_stage_us_$accel $(printf '%s\n' "${on[@]}" | median)"
    echo "virtio_rng_stage_off_us_$accel $(printf '%s\n' "${off[@]}" | median)"
    echo "virtio_rng_boot_us_$accel $(printf '%s\n' "${on_total[@]}" | median)"
    echo "virtio_rng_boot_off_us_$accel $(printf '%s\n' "${off_total[@]}" | median)"
    echo "virtio_rng_stage_samples_$accel ${on[*]}" >&2
done
