#!/usr/bin/env bash
# make bench: measure Kernite's figures side by side in one run, print a table, write build/bench/results.json.
#
# Figures (DESIGN.md "Figures we hold ourselves to"); each is one figure_* function below:
#   boot_median_ms, boot_floor_ms, boot_floor_ratio  `kernite run` (demo) vs build/bench/kvm-floor, KVM
#   qemu_median_ms, qemu_vs_kvm_ratio                 the same kernel under `kernite run --vmm qemu`
#   kernel_image_bytes                                stripped build/kernel/kernite-hardened.elf
#   min_mem_mib                                       smallest --mem (MiB) that boots the demo, KVM
#   kasan_boot_ratio                                  debug (KASAN+UBSAN) quick boot / hardened quick boot, KVM
#   syscall_ns, syscall_ratio_vs_linux,               bench/apps/run.sh: a getppid loop, the SQLite and the Lua
#   sqlite_ratio_vs_linux, lua_ratio_vs_linux         test scripts, natively and under `kernite run` (issue 3)
#   virtio_rng_stage_us_{kvm,tcg} (+ _off_, boot_)    bench/virtio_rng_cost.sh: virtio-rng's boot stage under QEMU
#   heap_hardened_vs_plain, heap_oscar_vs_plain, ...  build/bench/heap-bench: the kernel heap against a plain
#                                                     allocator, same run, server trace (issue 5)
#   heap_{plain,hardened}_instructions_per_operation, heap-bench --replay under callgrind: instructions and
#   heap_{plain,hardened}_l1d_misses_per_operation,   simulated L1d misses per operation, exact (valgrind)
#   heap_hardened_vs_plain_instructions
#   syscall_ns_isolation_ring, syscall_ns_isolation_none   system-call round trip of the ring3-probe's getpid loop
#                                                     with the program in ring 3 and in ring 0 (--isolation), KVM
#                                                     (QEMU TCG without /dev/kvm); the same under TCG: *_tcg
#   aslr_bits_<region>, aslr_boot_ratio              random bits of each region's base over 24 boots (kernel,
#                                                     kernel_heap, kernel_slab, kernel_alias, kernel_stack, app,
#                                                     heap, mmap, stack); boot with and without ASLR (issue 4)
#   security_tax_boot, security_tax_lua,              hardened / baseline kernel, side by side: quick boot, the
#   security_tax_sqlite                               Lua and SQLite scripts under `kernite run` (issue 4)
#   security_tax_lua_instructions,                    the Lua and SQLite scripts' emulated kernel instructions,
#   security_tax_sqlite_instructions,                 hardened / baseline, and each protection's share on Lua
#   security_cost_<protection>_lua                    (hardened with it against hardened without it)
# Whole-process times are hyperfine medians (-N: no shell in between). A figure that cannot be measured (no
# /dev/kvm, say) is null in the JSON, with a "<name>_reason" string; nothing is ever faked.
#
# To add a figure: write figure_<name>() that calls measure helpers, json_set and row, and append it to `figures`.
#
# Environment:
#   BENCH_RUNS=30           runs per KVM command (at least 30 for the published figures)
#   BENCH_QEMU_RUNS=30      runs for QEMU (10 is enough when it is slow; the table says how many were used)
#   BENCH_WARMUP=3          warm-up runs per command
#   KERNITE_BENCH_ARGS=""   extra `kernite run` arguments for the demo boots (e.g. "--cmdline quick")
#   BENCH_STRICT=1          exit non-zero when a goal is missed (default: only when a figure could not be measured)
#   KERNITE_BIN, KERNITE_IMAGE  override build/bin/kernite and build/kernel/kernite-hardened.elf
#   BENCH_FIGURES=""        only these figures, by function name or without its prefix ("heap figure_aslr";
#                           default: all; results.json then holds only theirs)
#   BENCH_ASLR_BOOTS=24     boots for aslr_bits_*; BENCH_TAX_RUNS=5 (interleaved), BENCH_TAX_LUA_SCALE=0.02 for security_tax_*,
#                           BENCH_TAX_BOOT_ROUNDS=8 interleaved rounds of BENCH_RUNS boots for security_tax_boot
#   BENCH_KASAN_RUNS=10     runs per kernel for kasan_boot_ratio
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

kernite=${KERNITE_BIN:-$repo_root/build/bin/kernite}
floor=$repo_root/build/bench/kvm-floor
image=${KERNITE_IMAGE:-$repo_root/build/kernel/kernite-hardened.elf}
out_dir=$repo_root/build/bench
results=$out_dir/results.json
runs=${BENCH_RUNS:-30}
qemu_runs=${BENCH_QEMU_RUNS:-30}
warmup=${BENCH_WARMUP:-3}
# The boot figures time a kernel that boots and exits at once (`quick`, issue 2: "demo that exits at once");
# KERNITE_BENCH_ARGS="" times the full self-check demo instead.
read -ra demo_args <<<"${KERNITE_BENCH_ARGS---cmdline quick}"

mkdir -p "$out_dir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kernite-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ---------------------------------------------------------------------------------------------------------
# Results: an ordered flat JSON object, and the table rows.
# ---------------------------------------------------------------------------------------------------------
json_keys=()
declare -A json_values=()
table_rows=()
measurement_errors=0
goals_missed=0

# json_set KEY VALUE: VALUE is a JSON literal (number, true, false, null) as text.
json_set()
{
    local key=$1 value=$2
    [[ -v json_values[$key] ]] || json_keys+=("$key")
    json_values[$key]=$value
}

json_set_string()
{
    local key=$1 text=$2
    text=${text//\\/\\\\}
    text=${text//\"/\\\"}
    text=${text//$'\n'/ }
    text=${text//$'\t'/ }
    json_set "$key" "\"$text\""
}

json_get()
{
    echo "${json_values[$1]:-null}"
}

# figure_null KEY REASON [error]: the figure could not be measured. With `error`, that is a failure of the
# benchmark (Kernite did not boot); without, a limit of this machine (no /dev/kvm).
figure_null()
{
    local key=$1 reason=$2
    json_set "$key" null
    json_set_string "${key}_reason" "$reason"
    if [[ ${3:-} == error ]]; then
        measurement_errors=$((measurement_errors + 1))
        echo "bench: $key: $reason" >&2
    fi
}

# row FIGURE VALUE GOAL VERDICT
row()
{
    table_rows+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4")
}

# row_goal FIGURE KEY UNIT GOAL OP LIMIT: a table row judged against a goal (OP: le, lt, ge, gt); n/a for null.
# Runs in the current shell (not in $(...)) so that it can count missed goals.
row_goal()
{
    local label=$1 key=$2 unit=$3 goal=$4 op=$5 limit=$6 value result
    value=$(json_get "$key")
    if [[ $value == null ]]; then
        result="n/a"
    elif awk -v v="$value" -v l="$limit" -v op="$op" 'BEGIN {
            ok = (op == "le") ? v <= l : (op == "lt") ? v < l : (op == "ge") ? v >= l : v > l
            exit ok ? 0 : 1 }'; then
        result=PASS
    else
        result=FAIL
        goals_missed=$((goals_missed + 1))
    fi
    row "$label" "$(show "$key" "$unit")" "$goal" "$result"
}

# Arithmetic on figures that may be null: ratio A B -> A/B with 2 decimals, or null.
ratio()
{
    local a b
    a=$(json_get "$1") b=$(json_get "$2")
    if [[ $a == null || $b == null ]]; then
        echo null
    else
        awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "null" }'
    fi
}

show()
{
    local value
    value=$(json_get "$1")
    [[ $value == null ]] && echo "null" || echo "$value${2:-}"
}

# ---------------------------------------------------------------------------------------------------------
# Measuring.
# ---------------------------------------------------------------------------------------------------------
kvm_reason=""
kvm_usable()
{
    if [[ ! -c /dev/kvm ]]; then
        kvm_reason="/dev/kvm does not exist"
    elif ! kvm_reason=$( (exec 3<>/dev/kvm) 2>&1); then
        kvm_reason="cannot open /dev/kvm read-write: ${kvm_reason##*: }"
    else
        kvm_reason=""
        return 0
    fi
    return 1
}

# sanity_run NAME EXPECT_REGEX COMMAND...: one run before timing: must exit 0 (and print EXPECT_REGEX if given),
# so that hyperfine never times a failing command. Sets sanity_error on failure.
sanity_error=""
sanity_run()
{
    local name=$1 expect=$2 status=0
    shift 2
    timeout -s KILL 120 "$@" </dev/null >"$tmp/$name.out" 2>&1 || status=$?
    if [[ $status -ne 0 ]]; then
        sanity_error="$(printf '%q ' "$@")exited $status: $(tail -n 1 "$tmp/$name.out")"
        return 1
    fi
    if [[ -n $expect ]] && ! grep -Eq -- "$expect" "$tmp/$name.out"; then
        sanity_error="$(printf '%q ' "$@")printed no line matching /$expect/"
        return 1
    fi
    return 0
}

# measure NAME RUNS COMMAND...: time each COMMAND (a string, split by hyperfine without a shell) and set the
# global array `medians` to their medians in milliseconds, in order. The raw JSON stays in build/bench/.
medians=()
measure()
{
    local name=$1 count=$2
    shift 2
    medians=()
    if ! hyperfine -N --style basic --warmup "$warmup" --runs "$count" \
        --export-json "$out_dir/hyperfine-$name.json" "$@" >&2; then
        sanity_error="hyperfine failed on $*"
        return 1
    fi
    mapfile -t medians < <(awk '/"median":/ { gsub(/[",]/, ""); printf "%.3f\n", $2 * 1000 }' \
        "$out_dir/hyperfine-$name.json")
    if [[ ${#medians[@]} -ne $# ]]; then
        sanity_error="found ${#medians[@]} medians for $# commands in $out_dir/hyperfine-$name.json"
        return 1
    fi
}

# measure_interleaved NAME ROUNDS RUNS COMMAND...: like measure, in ROUNDS rounds of RUNS runs of each command,
# every other round in reverse order, the medians taken over all rounds. For ratios of two boots: the machines are
# shared and their load drifts over a few hundred boots, which one block per command would put into the ratio
# (hardened/baseline boot read 1.08-1.18 in back-to-back blocks, 1.08-1.09 interleaved, same session).
measure_interleaved()
{
    local name=$1 rounds=$2 count=$3 round
    shift 3
    local jsons=() order
    medians=()
    for ((round = 0; round < rounds; round++)); do
        order=("$@")
        if ((round % 2 == 1)); then
            local i reversed=()
            for ((i = $# - 1; i >= 0; i--)); do reversed+=("${order[i]}"); done
            order=("${reversed[@]}")
        fi
        jsons+=("$out_dir/hyperfine-$name-$round.json")
        if ! hyperfine -N --style basic --warmup "$warmup" --runs "$count" --export-json "${jsons[-1]}" \
            "${order[@]}" >&2; then
            sanity_error="hyperfine failed on $*"
            return 1
        fi
    done
    mapfile -t medians < <(python3 - "${jsons[@]}" -- "$@" <<'PY'
import json, statistics, sys
split = sys.argv.index("--")
times = {}
for path in sys.argv[1:split]:
    for result in json.load(open(path))["results"]:
        times.setdefault(result["command"], []).extend(result["times"])
for command in sys.argv[split + 1:]:
    print("%.3f" % (statistics.median(times[command]) * 1000))
PY
    )
    if [[ ${#medians[@]} -ne $# ]]; then
        sanity_error="found ${#medians[@]} medians for $# commands in $out_dir/hyperfine-$name-*.json"
        return 1
    fi
}

# measure_one KEY NAME RUNS COMMAND: measure one command into figure KEY (null with the error if it fails).
measure_one()
{
    local key=$1 name=$2 count=$3 command=$4
    if measure "$name" "$count" "$command"; then
        json_set "$key" "${medians[0]}"
    else
        figure_null "$key" "$sanity_error" error
    fi
}

# ---------------------------------------------------------------------------------------------------------
# Figures.
# ---------------------------------------------------------------------------------------------------------
figure_boot_kvm()
{
    local kernite_ok=0 floor_ok=0 kernite_command floor_command
    kernite_command=$(printf '%q ' "$kernite" run --vmm kvm "${demo_args[@]}")
    floor_command=$(printf '%q' "$floor")
    json_set kvm_available "$([[ -z $kvm_reason ]] && echo true || echo false)"
    if [[ -n $kvm_reason ]]; then
        figure_null boot_median_ms "$kvm_reason"
        figure_null boot_floor_ms "$kvm_reason"
    else
        if sanity_run kernite-kvm "kernite: demo ok" "$kernite" run --vmm kvm "${demo_args[@]}"; then
            kernite_ok=1
        else
            figure_null boot_median_ms "$sanity_error" error
        fi
        if sanity_run floor "" "$floor"; then
            floor_ok=1
        else
            figure_null boot_floor_ms "$sanity_error" error
        fi
        if ((kernite_ok && floor_ok)); then
            # Side by side in one hyperfine invocation: the same machine state for both.
            if measure kvm "$runs" "$kernite_command" "$floor_command"; then
                json_set boot_median_ms "${medians[0]}"
                json_set boot_floor_ms "${medians[1]}"
            else
                figure_null boot_median_ms "$sanity_error" error
                figure_null boot_floor_ms "$sanity_error" error
            fi
        elif ((kernite_ok)); then
            measure_one boot_median_ms kvm "$runs" "$kernite_command"
        elif ((floor_ok)); then
            measure_one boot_floor_ms floor "$runs" "$floor_command"
        fi
    fi
    json_set boot_floor_ratio "$(ratio boot_median_ms boot_floor_ms)"
    json_set boot_runs "$runs"
    json_set_string boot_demo_args "${demo_args[*]}"
    row_goal "kernite run ${demo_args[*]} (KVM), median" boot_median_ms " ms" "< 10 ms (aim 3)" lt 10
    row "kvm-floor, median" "$(show boot_floor_ms " ms")" "-" "-"
    row_goal "kernite / floor" boot_floor_ratio "x" "<= 1.5x" le 1.5
}

figure_boot_qemu()
{
    local accelerator=kvm
    [[ -z $kvm_reason ]] || accelerator=tcg
    if sanity_run kernite-qemu "kernite: demo ok" "$kernite" run --vmm qemu "${demo_args[@]}"; then
        measure_one qemu_median_ms qemu "$qemu_runs" "$(printf '%q ' "$kernite" run --vmm qemu "${demo_args[@]}")"
    else
        figure_null qemu_median_ms "$sanity_error" error
    fi
    json_set qemu_runs "$qemu_runs"
    json_set_string qemu_accelerator "$accelerator"
    json_set qemu_vs_kvm_ratio "$(ratio qemu_median_ms boot_median_ms)"
    row "kernite run --vmm qemu, median ($qemu_runs runs, $accelerator)" "$(show qemu_median_ms " ms")" "-" "-"
    row_goal "qemu / kernite" qemu_vs_kvm_ratio "x" ">= 20x" ge 20
}

figure_image_size()
{
    if [[ ! -f $image ]]; then
        figure_null kernel_image_bytes "$image is not built" error
    elif ! strip -o "$tmp/kernel.stripped" "$image" 2>"$tmp/strip.err"; then
        figure_null kernel_image_bytes "strip failed: $(head -n 1 "$tmp/strip.err")" error
    else
        json_set kernel_image_bytes "$(stat -c %s "$tmp/kernel.stripped")"
    fi
    row_goal "kernel image, stripped (hardened)" kernel_image_bytes " B" "< 1 MiB (aim 300 KiB)" lt 1048576
}

figure_min_mem()
{
    local mib status
    if [[ -n $kvm_reason ]]; then
        figure_null min_mem_mib "$kvm_reason"
    else
        json_set min_mem_mib null
        for ((mib = 2; mib <= 16; mib++)); do
            status=0
            timeout -s KILL 60 "$kernite" run --vmm kvm --mem "${mib}M" --timeout 10 "${demo_args[@]}" \
                </dev/null >"$tmp/mem.out" 2>&1 || status=$?
            if [[ $status -eq 0 ]] && grep -q "kernite: demo ok" "$tmp/mem.out"; then
                json_set min_mem_mib "$mib"
                break
            fi
        done
        if [[ $(json_get min_mem_mib) == null ]]; then
            figure_null min_mem_mib "the demo did not boot with --mem 2M..16M (16M: status $status)" error
        fi
    fi
    row_goal "smallest --mem that boots the demo (KVM)" min_mem_mib " MiB" "<= 8 MiB (aim 4)" le 8
}

# Guest instruction cost in ring 0 and ring 3 (bench/probes/ring_loop.c). On nested PVM hosts ring 0 is
# emulated (docs/platform-notes.md): the boot figures above are then bounded by kernel instruction count.
figure_ring_cost()
{
    local probe=$repo_root/build/bench/ring-loop line
    if [[ -n $kvm_reason ]]; then
        figure_null ring0_ns_per_iteration "$kvm_reason"
        figure_null ring3_ns_per_iteration "$kvm_reason"
    elif [[ ! -x $probe ]]; then
        figure_null ring0_ns_per_iteration "$probe is not built" error
        figure_null ring3_ns_per_iteration "$probe is not built" error
    else
        line=$("$probe" 0 20000) || { figure_null ring0_ns_per_iteration "ring-loop 0 failed" error; return; }
        json_set ring0_ns_per_iteration "$(awk '{ print $(NF-3) }' <<<"$line")"
        line=$("$probe" 3 20000000) || { figure_null ring3_ns_per_iteration "ring-loop 3 failed" error; return; }
        json_set ring3_ns_per_iteration "$(awk '{ print $(NF-3) }' <<<"$line")"
    fi
    json_set ring0_vs_ring3_ratio "$(ratio ring0_ns_per_iteration ring3_ns_per_iteration)"
    row "guest loop iteration, ring 0" "$(show ring0_ns_per_iteration " ns")" "-" "-"
    row "guest loop iteration, ring 3" "$(show ring3_ns_per_iteration " ns")" "-" "-"
}

# How many instructions the kernel executes to boot: QEMU TCG with -icount shift=0 makes one instruction one
# nanosecond of guest time, so `boot-timeline` reads in thousands of instructions. This is the PVH path (the
# kernel relocates itself and builds its own tables, which our monitor does for it), minus the two busy-wait
# calibrations only this path needs (TSC against the PIT; the xAPIC timer, since TCG has no TSC-deadline
# timer): an upper bound for a boot under our monitor. At native speed (real KVM) it is what the
# kernel adds to the floor; on hosts that emulate ring 0 it is about what the boot costs in microseconds.
figure_boot_instructions()
{
    local line total calibration timer
    if ! command -v qemu-system-x86_64 >/dev/null; then
        figure_null boot_instructions_thousands "qemu-system-x86_64 is not installed" error
        return
    fi
    line=$(timeout 120 qemu-system-x86_64 -M microvm,x-option-roms=off,rtc=off,pit=on,pic=on,isa-serial=on \
        -m 128M -nodefaults -no-user-config -display none -no-reboot -accel tcg -cpu max \
        -icount shift=0,align=off -device isa-debug-exit,iobase=0xf4,iosize=0x04 -chardev stdio,id=c,signal=off \
        -serial chardev:c -kernel "$image" -append "quick boot-timeline" </dev/null 2>/dev/null \
        | grep -a "boot timeline" || true)
    total=$(grep -o 'total [0-9]*' <<<"$line" | awk '{ print $2 }')
    calibration=$(grep -o 'platform+tsc-calibration [0-9]*' <<<"$line" | awk '{ print $2 }')
    timer=$(grep -o ' timer [0-9]*' <<<"$line" | awk '{ print $2 }')
    if [[ -z $total || -z $calibration || -z $timer ]]; then
        figure_null boot_instructions_thousands "no boot timeline from QEMU TCG with icount" error
    else
        json_set boot_instructions_thousands "$((total - calibration - timer))"
    fi
    row "kernel boot, thousands of instructions (PVH path without calibrations, TCG icount)" \
        "$(show boot_instructions_thousands)" "-" "-"
}

# ASLR: over 24 boots (issue 4), how many bits of each region's base vary. With 24 samples a truly random bit
# stays constant with probability 2^-23, so the count of bits that took both values measures the entropy. Each
# boot runs a static-PIE program (tests/attacks entropy.glibc) with --print-layout, so one boot gives every
# region: kernel, kernel-heap, kernel-stack (the kernel's own), app, heap, mmap, stack (the program's). The bit
# count can exceed log2(choices) by one when the range of bases straddles a power of two (the program's stack and
# mmap bases: 2^28 choices, 29 bits vary): aslr_range_bits_<region> gives the range-and-step estimate beside it.
aslr_regions=(kernel kernel-heap kernel-slab kernel-alias kernel-stack app heap mmap stack)
figure_aslr()
{
    local boots=${BENCH_ASLR_BOOTS:-24} program=$repo_root/build/tests/attacks/bin/entropy.glibc i region key
    local -A first=() changed=() low=() high=() stride=()
    if [[ -n $kvm_reason ]]; then
        for region in "${aslr_regions[@]}"; do
            figure_null "aslr_bits_${region//-/_}" "$kvm_reason"
        done
        return
    fi
    if [[ ! -x $program ]]; then
        for region in "${aslr_regions[@]}"; do
            figure_null "aslr_bits_${region//-/_}" "$program is not built (target attack-programs)" error
        done
        return
    fi
    local start_ns=$(date +%s%N)
    for ((i = 0; i < boots; i++)); do
        "$kernite" run --vmm kvm --timeout 60 --print-layout "$program" -- at-random 2>"$tmp/layout.err" >/dev/null </dev/null || true
        for region in "${aslr_regions[@]}"; do
            base=$(awk -v r="$region" '$1 == "layout" && $2 == r { print $3; exit }' "$tmp/layout.err")
            if [[ -z $base ]]; then
                for key in "${aslr_regions[@]}"; do
                    figure_null "aslr_bits_${key//-/_}" "boot $i printed no 'layout $region' line: $(tail -n 1 "$tmp/layout.err")" error
                done
                return
            fi
            [[ -v first[$region] ]] || { first[$region]=$base; changed[$region]=0; low[$region]=0; high[$region]=0; stride[$region]=0; }
            changed[$region]=$((changed[$region] | (base ^ first[$region])))
            # Offsets from the first base (signed differences work for kernel-half addresses too), their range
            # and the gcd of all offsets (the placement's step).
            local offset=$((base - first[$region])) a b
            ((offset < low[$region])) && low[$region]=$offset
            ((offset > high[$region])) && high[$region]=$offset
            a=${stride[$region]} b=$((offset < 0 ? -offset : offset))
            while ((b != 0)); do local t=$((a % b)); a=$b b=$t; done
            stride[$region]=$a
        done
    done
    json_set aslr_boots "$boots"
    json_set aslr_regions_seconds "$((($(date +%s%N) - start_ns) / 1000000000))"
    for region in "${aslr_regions[@]}"; do
        local bits=0
        for ((i = 0; i < 64; i++)); do
            (((changed[$region] >> i) & 1)) && bits=$((bits + 1))
        done
        key=aslr_bits_${region//-/_}
        json_set "$key" "$bits"
        # A second estimate, which does not over-count a range that straddles a power of two: log2 of the number
        # of steps in the observed range, scaled by (n+1)/(n-1) (the expected share of a uniform range that n
        # samples span).
        json_set "aslr_range_bits_${region//-/_}" "$(awk -v r="$((high[$region] - low[$region]))" -v s="${stride[$region]}" \
            -v n="$boots" 'BEGIN { if (s <= 0) print 0; else printf "%.1f", log(r / s * (n + 1) / (n - 1) + 1) / log(2) }')"
        if [[ $region == kernel ]]; then
            row_goal "kernel base, random bits over $boots boots" "$key" " bits" ">= 30 (Linux KASLR: 9)" ge 30
        else
            row_goal "$region base, random bits over $boots boots" "$key" " bits" ">= 28 (Linux mmap: 28)" ge 28
        fi
    done

    # What ASLR costs at boot: the same quick boot with and without it, side by side.
    if measure aslr "$runs" "$(printf '%q ' "$kernite" run --vmm kvm --cmdline quick)" \
        "$(printf '%q ' "$kernite" run --vmm kvm --no-aslr --cmdline quick)"; then
        json_set boot_aslr_median_ms "${medians[0]}"
        json_set boot_no_aslr_median_ms "${medians[1]}"
        json_set aslr_boot_ratio "$(ratio boot_aslr_median_ms boot_no_aslr_median_ms)"
    else
        figure_null aslr_boot_ratio "$sanity_error" error
    fi
    row "boot with / without ASLR (quick), medians" \
        "$(show boot_aslr_median_ms " ms") / $(show boot_no_aslr_median_ms " ms") = $(show aslr_boot_ratio "x")" "-" "-"
}

# The security tax (issue 4): the hardened kernel against the baseline one (protections off), side by side in
# one hyperfine invocation each, medians: a quick boot, and the Lua and SQLite scripts of bench/apps under
# `kernite run` (the Lua script at BENCH_TAX_LUA_SCALE of its benchmark size, to keep make bench reasonable where
# ring 0 is emulated). security_tax_X = hardened / baseline (1.02 = 2% dearer); goal <= 1.10 boot, <= 1.02 apps.
figure_security_tax()
{
    local build=$repo_root/build tax_runs=${BENCH_TAX_RUNS:-5} lua_scale=${BENCH_TAX_LUA_SCALE:-0.02}
    local tax_boot_rounds=${BENCH_TAX_BOOT_ROUNDS:-8}
    local lua=$build/apps/bin/lua.stripped sqlite=$build/apps/bin/sqlite3.stripped template=$build/tests/programs/rootfs
    local start_ns=$(date +%s%N)
    if [[ -n $kvm_reason ]]; then
        figure_null security_tax_boot "$kvm_reason"
        figure_null security_tax_lua "$kvm_reason"
        figure_null security_tax_sqlite "$kvm_reason"
        return
    fi
    if measure_interleaved tax-boot "$tax_boot_rounds" "$runs" "$(printf '%q ' "$kernite" run --vmm kvm --cmdline quick)" \
        "$(printf '%q ' "$kernite" run --vmm kvm --kernel baseline --cmdline quick)"; then
        json_set boot_hardened_median_ms "${medians[0]}"
        json_set boot_baseline_median_ms "${medians[1]}"
        json_set security_tax_boot "$(ratio boot_hardened_median_ms boot_baseline_median_ms)"
    else
        figure_null security_tax_boot "$sanity_error" error
    fi
    # tax_program KEY EXPECTED_STATUS PROGRAM ARGS...: hardened and baseline runs of one program, each side in its
    # own rootfs copy, interleaved (ABAB..., then BABA... every other round: back-to-back blocks of one side read
    # 1.0 to 1.35 for the same images on this shared machine). No separate sanity run (a SQLite run takes seconds
    # to minutes where ring 0 is emulated): every timed run's exit status must be the expected one (Lua 0; SQL 1,
    # its deliberate error). Medians of the wall times.
    tax_program()
    {
        local key=$1 expected=$2 program=$3 side round start status
        shift 3
        if [[ ! -x $program || ! -d $template ]]; then
            figure_null "security_tax_$key" "$program or $template is not built (targets apps, test-programs-rootfs)" error
            return
        fi
        local -A times=()
        for side in hardened baseline; do
            rm -rf "$tmp/root-$side"
            cp -a "$template" "$tmp/root-$side"
            times[$side]=""
        done
        for ((round = 0; round < tax_runs; round++)); do
            local order=(hardened baseline)
            ((round % 2)) && order=(baseline hardened)
            for side in "${order[@]}"; do
                start=$(date +%s%N)
                status=0
                "$kernite" run --vmm kvm --kernel "$side" --timeout 900 --rootfs "$tmp/root-$side" "$program" -- "$@" \
                    >/dev/null 2>"$tmp/tax-$key.err" || status=$?
                if [[ $status != "$expected" ]]; then
                    figure_null "security_tax_$key" "the $key run on $side exited with status $status, expected $expected: $(tail -1 "$tmp/tax-$key.err")" error
                    return
                fi
                times[$side]+="$((($(date +%s%N) - start) / 1000)) "
            done
        done
        for side in hardened baseline; do
            json_set "${key}_${side}_median_ms" "$(tr ' ' '\n' <<<"${times[$side]}" | grep . | sort -n \
                | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m / 1000 }')"
        done
        json_set "security_tax_$key" "$(ratio "${key}_hardened_median_ms" "${key}_baseline_median_ms")"
    }
    tax_program lua 0 "$lua" lua/test.lua "$lua_scale"
    tax_program sqlite 1 "$sqlite" -batch -init /dev/null :memory: ".read sql/test.sql"
    json_set security_tax_runs "$tax_runs"
    json_set security_tax_boot_runs "$((tax_boot_rounds * runs))"
    json_set security_tax_lua_scale "$lua_scale"
    json_set security_tax_seconds "$((($(date +%s%N) - start_ns) / 1000000000))"
    row_goal "security tax: boot (quick), hardened / baseline" security_tax_boot "x" "<= 1.10" le 1.10
    # The programs' wall-clock ratios are reported, not judged: on this shared machine the medians of one side
    # move by more than 2% from run to run (the same images read 0.97 and 1.03 within the hour, 2026-12-04).
    # The 1.02 goal is judged on the exact counts, security_tax_{lua,sqlite}_instructions (figure_security_cost).
    row "security tax: Lua script x$lua_scale, wall clock, hardened / baseline ($tax_runs runs; goal judged on instructions)" \
        "$(show security_tax_lua "x")" "-" "-"
    row "security tax: SQLite script, wall clock, hardened / baseline ($tax_runs runs; goal judged on instructions)" \
        "$(show security_tax_sqlite "x")" "-" "-"
}

# What each protection costs (the brief: every security feature's overhead in the benchmark table): the hardened
# kernel against hardened kernels with one protection off each (cmake target tax-kernels, cmake/KernelFlags.cmake),
# on the Lua script at BENCH_TAX_LUA_SCALE, counted in emulated kernel instructions: where KVM emulates guest
# ring 0 (nested KVM through PVM here, docs/platform-notes.md) perf's kvm:kvm_emulate_insn counts every kernel
# instruction, which is that platform's cost model, exact and repeatable where the wall clock of a 4 s run is not
# (docs/security-model.md, "Where the security tax goes"). security_cost_<protection>_lua = (with it - without it)
# / baseline in percent; the variants are "without" except hardened-zero-regs, the opt-in register zeroing, which
# is "with" unless the build was configured with KERNITE_ZERO_CALL_USED_REGS=ON. security_tax_lua_instructions and
# security_tax_sqlite_instructions = hardened / baseline on the Lua and SQLite scripts. Needs perf (linux-perf)
# and root.
tax_variants=(canary:hardened-no-canary zero_regs:hardened-zero-regs auto_init:hardened-no-auto-init
    hardened_heap:hardened-simple-heap fortify:hardened-no-fortify)
figure_security_cost()
{
    local build=$repo_root/build lua_scale=${BENCH_TAX_LUA_SCALE:-0.02} entry key variant reason="" note
    local lua=$build/apps/bin/lua.stripped sqlite=$build/apps/bin/sqlite3.stripped
    local template=$build/tests/programs/rootfs zero_regs_default=0
    local -A counts=()
    local keys=(security_tax_lua_instructions security_tax_sqlite_instructions)
    for entry in "${tax_variants[@]}"; do keys+=("security_cost_${entry%%:*}_lua"); done
    grep -q '^KERNITE_ZERO_CALL_USED_REGS:BOOL=ON$' "$build/CMakeCache.txt" 2>/dev/null && zero_regs_default=1
    if [[ -n $kvm_reason ]]; then
        reason=$kvm_reason
    elif ! command -v perf >/dev/null; then
        reason="perf is not installed (scripts/install-deps.sh installs linux-perf)"
    elif [[ ! -x $lua || ! -x $sqlite || ! -d $template ]]; then
        reason="$lua, $sqlite or $template is not built (targets apps, test-programs-rootfs)"
    elif ! cmake --build "$build" --target tax-kernels >&2; then
        reason="building the tax-kernels variants failed"
    fi
    # count NAME IMAGE EXPECTED-STATUS PROGRAM ARGS...: emulated kernel instructions of one run into counts[NAME].
    count()
    {
        local name=$1 image=$2 expected=$3 status=0
        shift 3
        rm -rf "$tmp/root-cost"
        cp -a "$template" "$tmp/root-cost"
        perf stat -e kvm:kvm_emulate_insn -x, -o "$tmp/cost-$name.txt" "$kernite" run --vmm kvm --kernel "$image" \
            --timeout 900 --rootfs "$tmp/root-cost" "$@" >/dev/null 2>"$tmp/cost-$name.err" || status=$?
        if ((status != expected)); then
            reason="the $name run on $image exited with status $status, expected $expected: $(tail -1 "$tmp/cost-$name.err")"
            return 1
        fi
        counts[$name]=$(awk -F, '/kvm:kvm_emulate_insn/ { print $1 }' "$tmp/cost-$name.txt")
        [[ ${counts[$name]} =~ ^[0-9]+$ ]] || { reason="perf counted no kvm:kvm_emulate_insn events on $image"; return 1; }
    }
    # The SQLite script ends with a deliberate error (bench/apps/run.sh): status 1 is its success.
    if [[ -z $reason ]]; then
        count hardened "$build/kernel/kernite-hardened.elf" 0 "$lua" -- lua/test.lua "$lua_scale" &&
            count baseline "$build/kernel/kernite-baseline.elf" 0 "$lua" -- lua/test.lua "$lua_scale" &&
            count sqlite_hardened "$build/kernel/kernite-hardened.elf" 1 "$sqlite" -- -batch -init /dev/null :memory: \
                ".read sql/test.sql" &&
            count sqlite_baseline "$build/kernel/kernite-baseline.elf" 1 "$sqlite" -- -batch -init /dev/null :memory: \
                ".read sql/test.sql" || true
    fi
    if [[ -z $reason ]] && ((counts[baseline] < 100000)); then
        reason="ring 0 is not emulated here (${counts[baseline]} emulated instructions): counts do not price anything"
    fi
    if [[ -z $reason ]]; then
        for entry in "${tax_variants[@]}"; do
            count "${entry%%:*}" "$build/kernel/kernite-${entry#*:}.elf" 0 "$lua" -- lua/test.lua "$lua_scale" || break
        done
    fi
    if [[ -n $reason ]]; then
        for key in "${keys[@]}"; do figure_null "$key" "$reason" "$([[ -n $kvm_reason ]] || echo error)"; done
        return
    fi
    json_set security_cost_hardened_instructions "${counts[hardened]}"
    json_set security_cost_baseline_instructions "${counts[baseline]}"
    json_set security_tax_sqlite_hardened_instructions "${counts[sqlite_hardened]}"
    json_set security_tax_sqlite_baseline_instructions "${counts[sqlite_baseline]}"
    json_set security_tax_lua_instructions "$(awk -v h="${counts[hardened]}" -v b="${counts[baseline]}" 'BEGIN { printf "%.3f", h / b }')"
    json_set security_tax_sqlite_instructions "$(awk -v h="${counts[sqlite_hardened]}" -v b="${counts[sqlite_baseline]}" \
        'BEGIN { printf "%.3f", h / b }')"
    row_goal "security tax: Lua x$lua_scale, emulated kernel instructions, hardened / baseline" \
        security_tax_lua_instructions "x" "<= 1.02" le 1.02
    row_goal "security tax: SQLite script, emulated kernel instructions, hardened / baseline" \
        security_tax_sqlite_instructions "x" "<= 1.02" le 1.02
    for entry in "${tax_variants[@]}"; do
        key=${entry%%:*} variant=${entry#*:} note="hardened without it: $variant"
        if [[ $key == zero_regs ]] && ((zero_regs_default == 0)); then
            # Opt-in: the variant has it and the default image does not.
            json_set "security_cost_${key}_lua" "$(awk -v h="${counts[hardened]}" -v v="${counts[$key]}" \
                -v b="${counts[baseline]}" 'BEGIN { printf "%.2f", (v - h) * 100 / b }')"
            note="opt-in, not in the default image: $variant has it"
        else
            json_set "security_cost_${key}_lua" "$(awk -v h="${counts[hardened]}" -v v="${counts[$key]}" \
                -v b="${counts[baseline]}" 'BEGIN { printf "%.2f", (h - v) * 100 / b }')"
        fi
        row "  of which $key ($note), % of baseline" "$(show "security_cost_${key}_lua" " %")" "-" "-"
    done
}

# Real programs natively and under Kernite (issue 3 item 7): bench/apps/run.sh prints `name value` lines
# (syscall_ns, syscall_ratio_vs_linux, sqlite_ratio_vs_linux, lua_ratio_vs_linux and their native and absolute
# figures), merged here as they are. A figure it could not measure, or a failure of the script, is an error.
figure_apps()
{
    local status=0 name value key
    KERNITE_BIN=$kernite KERNITE_BUILD_DIR=$repo_root/build \
        bash "$repo_root/bench/apps/run.sh" >"$tmp/apps.out" 2>"$tmp/apps.err" || status=$?
    # Its table and its errors, not hyperfine's progress.
    awk '/^benchmark / { table = 1 } table || /^bench\/apps: /' "$tmp/apps.err" >&2
    while read -r name value; do
        [[ $name =~ ^[a-z0-9_]+$ && $value =~ ^(null|-?[0-9]+(\.[0-9]+)?)$ ]] && json_set "$name" "$value"
    done <"$tmp/apps.out"
    for key in syscall_ns syscall_ratio_vs_linux sqlite_ratio_vs_linux lua_ratio_vs_linux; do
        if [[ $(json_get "$key") == null ]]; then
            figure_null "$key" "bench/apps/run.sh (exit $status): $(grep -E "^bench/apps: (.* )?${key}[ :]" "$tmp/apps.err" \
                | head -n 1 | sed 's/^bench\/apps: [a-z0-9_ ]*: //')" error
        fi
    done
    row "getppid round trip under kernite run" "$(show syscall_ns " ns")" "-" "-"
    row_goal "getppid round trip, kernite / Linux" syscall_ratio_vs_linux "x" "<= 1.0" le 1.0
    row_goal "SQLite script, kernite / Linux" sqlite_ratio_vs_linux "x" "<= 1.2" le 1.2
    row_goal "Lua script, kernite / Linux" lua_ratio_vs_linux "x" "<= 1.2" le 1.2
}

# The kernel heap (issue 5): build/bench/heap-bench replays a server trace through the plain allocator, the
# hardened heap (default and --heap full) and OSCAR mode in one run (host code: allocator work, not ring-0
# emulation), and prints `figure NAME VALUE` lines.
figure_heap()
{
    local bench=$out_dir/heap-bench key output status=0
    local keys=(heap_hardened_vs_plain heap_hardened_vs_plain_filled heap_full_vs_plain heap_oscar_vs_plain
        heap_libc_vs_plain heap_hardened_vs_libc heap_hardened_memory_vs_plain heap_oscar_memory_vs_plain heap_oscar_page_table_bytes_per_allocation)
    if [[ ! -x $bench ]]; then
        for key in "${keys[@]}"; do figure_null "$key" "$bench is not built (Google Benchmark missing?)" error; done
        return
    fi
    output=$("$bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true 2>&1) || status=$?
    for key in "${keys[@]}"; do
        local value
        value=$(awk -v k="$key" '$1 == "figure" && $2 == k { print $3 }' <<<"$output")
        if [[ $value =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
            json_set "$key" "$value"
        else
            figure_null "$key" "heap-bench (exit $status) printed no $key" error
        fi
    done
    heap_instruction_figures "$bench"
    row_goal "heap: hardened / plain throughput" heap_hardened_vs_plain "x" ">= 0.9" ge 0.9
    row "heap: instructions per operation, plain / hardened" "$(show heap_plain_instructions_per_operation) / $(show heap_hardened_instructions_per_operation)" "-" "-"
    row "heap: L1d misses per operation, plain / hardened" "$(show heap_plain_l1d_misses_per_operation) / $(show heap_hardened_l1d_misses_per_operation)" "-" "-"
    row "heap: for reference, the host's malloc: instructions, L1d misses per operation" "$(show heap_libc_instructions_per_operation) / $(show heap_libc_l1d_misses_per_operation)" "-" "-"
    row "heap: for reference, hardened / host malloc throughput" "$(show heap_hardened_vs_libc "x")" "-" "-"
    row "heap: hardened / plain, objects filled" "$(show heap_hardened_vs_plain_filled "x")" "-" "-"
    row "heap: --heap full / plain" "$(show heap_full_vs_plain "x")" "-" "-"
    row "heap: --heap oscar / plain (host mmap)" "$(show heap_oscar_vs_plain "x")" "-" "-"
    row "heap: hardened memory / plain" "$(show heap_hardened_memory_vs_plain "x")" "-" "-"
    row "heap: oscar memory / plain" "$(show heap_oscar_memory_vs_plain "x")" "-" "-"
    row "heap: oscar page tables per allocation" "$(show heap_oscar_page_table_bytes_per_allocation " B")" "-" "-"
}

# The same replay under callgrind (`heap-bench --replay`): instructions and simulated L1d misses per operation
# inside the measured replays only. Exact and repeatable, where the times above move with the machine's load.
heap_instruction_figures()
{
    local bench=$1 which key totals rounds=2 operations
    local keys=(instructions_per_operation l1d_misses_per_operation)
    if ! command -v valgrind >/dev/null; then
        for which in plain hardened libc; do
            for key in "${keys[@]}"; do figure_null "heap_${which}_$key" "valgrind is not installed" error; done
        done
        figure_null heap_hardened_vs_plain_instructions "valgrind is not installed" error
        return
    fi
    for which in plain hardened libc; do
        if ! valgrind --tool=callgrind --cache-sim=yes --toggle-collect='*measured_replays*' \
            --callgrind-out-file="$tmp/callgrind-heap-$which.out" "$bench" --replay "$which" "$rounds" \
            >"$tmp/callgrind-heap-$which.log" 2>&1; then
            for key in "${keys[@]}"; do
                figure_null "heap_${which}_$key" "callgrind on heap-bench --replay $which failed: $(tail -n 1 "$tmp/callgrind-heap-$which.log")" error
            done
            continue
        fi
        # events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
        totals=$(awk '$1 == "totals:" { print $2, $6 + $7 }' "$tmp/callgrind-heap-$which.out")
        operations=$(awk '$1 == "replayed" { print $2 * $4 }' "$tmp/callgrind-heap-$which.log")
        if [[ -z $totals || -z $operations ]]; then
            for key in "${keys[@]}"; do figure_null "heap_${which}_$key" "no callgrind totals for $which" error; done
            continue
        fi
        json_set "heap_${which}_instructions_per_operation" "$(awk -v t="${totals% *}" -v n="$operations" 'BEGIN { printf "%.1f", t / n }')"
        json_set "heap_${which}_l1d_misses_per_operation" "$(awk -v t="${totals#* }" -v n="$operations" 'BEGIN { printf "%.3f", t / n }')"
    done
    local plain hardened
    plain=$(json_get heap_plain_instructions_per_operation)
    hardened=$(json_get heap_hardened_instructions_per_operation)
    if [[ $plain != null && $hardened != null ]]; then
        json_set heap_hardened_vs_plain_instructions "$(awk -v p="$plain" -v h="$hardened" 'BEGIN { printf "%.3f", p / h }')"
    else
        figure_null heap_hardened_vs_plain_instructions "an instruction count is missing" error
    fi
}

# virtio-rng under QEMU (kernel/drivers/virtio): the boot-timeline stage with and without the device, medians of
# interleaved boots (bench/virtio_rng_cost.sh), per accelerator.
figure_virtio_rng()
{
    local status=0 key value
    "$repo_root/bench/virtio_rng_cost.sh" "${BENCH_VIRTIO_RUNS:-11}" >"$tmp/virtio.out" 2>"$tmp/virtio.err" || status=$?
    if [[ $status -ne 0 ]]; then
        figure_null virtio_rng_stage_us_tcg "bench/virtio_rng_cost.sh (exit $status): $(tail -n 1 "$tmp/virtio.err")" error
        return
    fi
    while read -r key value; do
        [[ $key =~ ^[a-z0-9_]+$ && $value =~ ^(null|[0-9]+(\.[0-9]+)?)$ ]] && json_set "$key" "$value"
    done <"$tmp/virtio.out"
    for accel in kvm tcg; do
        row "virtio-rng boot stage, QEMU $accel, with / without device" \
            "$(show virtio_rng_stage_us_$accel " us") / $(show virtio_rng_stage_off_us_$accel " us")" "-" "-"
    done
}
# System-call round trip in each isolation mode (DESIGN.md: "the default is chosen by measured cost"): the
# ring3-probe (kernel/probes/ring3_probe.cpp) makes 2000 getpid calls from hand-written code, in ring 3
# (`--isolation ring`) or ring 0 (`--isolation none`), and prints the mean round trip; medians of
# BENCH_ISOLATION_RUNS boots per mode, the modes alternating, under KVM (QEMU TCG when KVM is not usable) and
# under QEMU TCG. The probe has no SSE, so it runs in ring 0 even where KVM emulates ring 0 (PVM).
figure_isolation_syscall()
{
    local runs=${BENCH_ISOLATION_RUNS:-5} variant mode i line vmm_args suffix
    for variant in default tcg; do
        if [[ $variant == tcg ]]; then
            suffix=_tcg vmm_args=(--vmm qemu --qemu-tcg)
            command -v qemu-system-x86_64 >/dev/null || {
                figure_null syscall_ns_isolation_ring_tcg "qemu-system-x86_64 is not installed" error
                figure_null syscall_ns_isolation_none_tcg "qemu-system-x86_64 is not installed" error
                continue
            }
        elif [[ -n $kvm_reason ]]; then
            suffix="" vmm_args=(--vmm qemu --qemu-tcg)
        else
            suffix="" vmm_args=(--vmm kvm)
        fi
        declare -A samples=([ring]="" [none]="")
        for ((i = 0; i < runs; i++)); do
            for mode in ring none; do
                line=$(timeout -s KILL 300 "$kernite" run "${vmm_args[@]}" --isolation "$mode" --cmdline ring3-probe \
                    --timeout 240 </dev/null 2>&1 | grep -o 'syscall round trip [0-9]* ns' | head -n 1) || true
                [[ -n $line ]] && samples[$mode]+="$(awk '{ print $4 }' <<<"$line")"$'\n'
            done
        done
        for mode in ring none; do
            if [[ -z ${samples[$mode]} ]]; then
                figure_null "syscall_ns_isolation_${mode}${suffix}" "the ring3-probe did not report (--isolation $mode)" error
            else
                json_set "syscall_ns_isolation_${mode}${suffix}" \
                    "$(printf '%s' "${samples[$mode]}" | sort -n | awk '{ v[NR] = $1 } END {
                        if (NR % 2) print v[(NR + 1) / 2]; else printf "%d", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
            fi
        done
        json_set "isolation_none_vs_ring_syscall_ratio${suffix}" \
            "$(ratio "syscall_ns_isolation_none${suffix}" "syscall_ns_isolation_ring${suffix}")"
        unset samples
    done
    json_set_string syscall_isolation_vmm "$([[ -n $kvm_reason ]] && echo "qemu-tcg ($kvm_reason)" || echo kvm)"
    row "syscall round trip, ring 3 (--isolation ring)" "$(show syscall_ns_isolation_ring " ns")" "-" "-"
    row "syscall round trip, ring 0 (--isolation none)" "$(show syscall_ns_isolation_none " ns")" "-" "-"
    row "syscall round trip, ring 3, QEMU TCG" "$(show syscall_ns_isolation_ring_tcg " ns")" "-" "-"
    row "syscall round trip, ring 0, QEMU TCG" "$(show syscall_ns_isolation_none_tcg " ns")" "-" "-"
}

# KASAN (issue 5 item 4): what the debug kernel's sanitizers cost at boot: its quick boot against the hardened
# one's, side by side in one hyperfine run. Fewer runs than the other boot figures (BENCH_KASAN_RUNS, default
# 10): a debug boot takes seconds where guest ring 0 is emulated (docs/platform-notes.md). The debug profile
# also has UBSAN and -O1, so the ratio is the debug profile's; its note says so.
figure_kasan_boot()
{
    local kasan_runs=${BENCH_KASAN_RUNS:-10} debug_command hardened_command
    if [[ -n $kvm_reason ]]; then
        figure_null kasan_boot_ratio "$kvm_reason"
        return
    fi
    debug_command=$(printf '%q ' "$kernite" run --vmm kvm --kernel debug --cmdline quick)
    hardened_command=$(printf '%q ' "$kernite" run --vmm kvm --kernel hardened --cmdline quick)
    if ! sanity_run kernite-debug "kernite: demo ok" "$kernite" run --vmm kvm --kernel debug --cmdline quick; then
        figure_null kasan_boot_ratio "$sanity_error" error
    elif measure kasan "$kasan_runs" "$debug_command" "$hardened_command"; then
        json_set boot_debug_median_ms "${medians[0]}"
        json_set boot_hardened_median_ms "${medians[1]}"
        json_set kasan_boot_ratio "$(ratio boot_debug_median_ms boot_hardened_median_ms)"
    else
        figure_null kasan_boot_ratio "$sanity_error" error
    fi
    json_set kasan_boot_runs "$kasan_runs"
    json_set_string kasan_boot_note "debug profile (KASAN + UBSAN + FORTIFY, -O1) vs hardened, --cmdline quick, KVM"
    row "debug (KASAN+UBSAN) boot, median ($kasan_runs runs)" "$(show boot_debug_median_ms " ms")" "-" "-"
    row "debug / hardened boot (quick)" "$(show kasan_boot_ratio "x")" "-" "-"
}

figures=(figure_boot_kvm figure_boot_qemu figure_image_size figure_min_mem figure_ring_cost figure_boot_instructions
    figure_aslr figure_apps figure_security_tax figure_security_cost figure_heap figure_virtio_rng figure_isolation_syscall
    figure_kasan_boot)
# BENCH_FIGURES="heap figure_aslr": run only those figures (results.json then holds only them).
if [[ -n ${BENCH_FIGURES:-} ]]; then
    figures=()
    for name in $BENCH_FIGURES; do figures+=("figure_${name#figure_}"); done
fi

# ---------------------------------------------------------------------------------------------------------
for tool in hyperfine strip awk; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (run scripts/install-deps.sh)" >&2; exit 1; }
done
[[ -x $kernite ]] || { echo "bench: $kernite is not built (run make build)" >&2; exit 1; }
kvm_usable || echo "bench: KVM figures are null: $kvm_reason" >&2

for figure in "${figures[@]}"; do
    echo "bench: ${figure#figure_}" >&2
    "$figure"
done

{
    echo "{"
    for ((i = 0; i < ${#json_keys[@]}; i++)); do
        separator=","
        ((i == ${#json_keys[@]} - 1)) && separator=""
        printf '  "%s": %s%s\n' "${json_keys[i]}" "${json_values[${json_keys[i]}]}" "$separator"
    done
    echo "}"
} >"$results.tmp"
mv "$results.tmp" "$results"

echo
{
    printf 'figure\tvalue\tgoal\tresult\n'
    printf '%s\n' "${table_rows[@]}"
} | column -t -s $'\t'
echo
echo "results: $results"
[[ -z $kvm_reason ]] || echo "note: no usable /dev/kvm ($kvm_reason): KVM figures are null, QEMU ran with TCG"

if ((measurement_errors > 0)); then
    echo "bench: $measurement_errors figure(s) could not be measured" >&2
    exit 1
fi
if [[ ${BENCH_STRICT:-0} == 1 ]] && ((goals_missed > 0)); then
    echo "bench: $goals_missed goal(s) missed" >&2
    exit 1
fi
