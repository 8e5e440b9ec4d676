#!/usr/bin/env bash
# Issue 3's application benchmarks, natively and under `kernite run` side by side in one run (issue 3 item 7):
#
#   syscall   tests/programs getppid-loop: N getppid calls; ns per call = (time(N) - time(0)) / N on each side,
#             so process start-up and exit (and Kernite's boot) cancel out
#   sqlite    the SQLite shell running tests/programs/rootfs/sql/test.sql (10,000-row table, indexes, joins)
#   lua       the Lua interpreter running tests/programs/rootfs/lua/test.lua
#
# Whole-process medians from hyperfine (-N, no shell), native and Kernite commands in one hyperfine invocation
# each so that both see the same machine state. Both sides run in a copy of the differential tests' rootfs
# template with the same environment (Kernite's default environment, as tests/programs/differential.sh), the
# native copy on tmpfs (/dev/shm) unless TMPDIR says otherwise.
#
# Prints `name value` lines on stdout for bench/run.sh to merge into results.json:
#   syscall_ns, syscall_native_ns, syscall_ratio_vs_linux, syscall_iterations, syscall_iterations_native,
#   sqlite_ms, sqlite_native_ms, sqlite_ratio_vs_linux, lua_ms, lua_native_ms, lua_ratio_vs_linux
# A figure that cannot be measured is printed as `name null` with the reason on stderr, and the script exits 1.
# The human-readable table and hyperfine's progress go to stderr.
#
# Environment:
#   KERNITE_BUILD_DIR=build      where the programs, the template and bin/kernite are
#   KERNITE_BIN                  the monitor (default KERNITE_BUILD_DIR/bin/kernite)
#   BENCH_APPS_RUNS=5            hyperfine runs per command, after BENCH_APPS_WARMUP=1 warm-up run: where guest
#                                memory is slow to touch (docs/platform-notes.md) one Kernite run of the Lua
#                                script takes about a minute, so the defaults are lower than bench/run.sh's
#   BENCH_SYSCALL_ITERATIONS=1000000   N for the native getppid loop; Kernite's N is chosen by a calibration run
#                                so that one run takes about a second (at most this N, at least 10,000): on
#                                hosts where a system call costs hundreds of microseconds (nested KVM, see
#                                docs/platform-notes.md) a million calls would take minutes per run
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${KERNITE_BUILD_DIR:-$repo_root/build}
kernite=${KERNITE_BIN:-$build/bin/kernite}
runs=${BENCH_APPS_RUNS:-5}
warmup=${BENCH_APPS_WARMUP:-1}
native_iterations=${BENCH_SYSCALL_ITERATIONS:-1000000}
getppid_loop=$build/tests/programs/bin/getppid-loop.musl
sqlite=$build/apps/bin/sqlite3.stripped
lua=$build/apps/bin/lua.stripped
template=$build/tests/programs/rootfs
# Kernite's default environment for programs (tests/programs/differential.sh keeps the reference copy).
default_environment=(PATH=/usr/local/bin:/usr/bin:/bin HOME=/ TERM=dumb)

errors=0
table=()

emit()
{
    echo "$1 $2"
}

# unmeasured NAME... REASON: print the figures as null and count the error.
unmeasured()
{
    local reason=${!#}
    local names=("${@:1:$#-1}")
    for name in "${names[@]}"; do
        emit "$name" null
    done
    echo "bench/apps: ${names[*]}: $reason" >&2
    errors=$((errors + 1))
}

for tool in hyperfine awk; do
    command -v "$tool" >/dev/null || { echo "bench/apps: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

# The native side runs in memory too (tmpfs) when it can: Kernite's rootfs lives in guest memory, and on a disk
# SQLite's fsyncs would measure the disk rather than either kernel.
tmp_parent=${TMPDIR:-/tmp}
if [[ -z ${TMPDIR:-} && -d /dev/shm && -w /dev/shm ]]; then
    tmp_parent=/dev/shm
fi
tmp=$(mktemp -d "$tmp_parent/kernite-bench-apps.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
native_root=$tmp/native-root
kernite_root=$tmp/kernite-root
if [[ -d $template ]]; then
    mkdir -p "$native_root" "$kernite_root"
    cp -a "$template/." "$native_root/"
    cp -a "$template/." "$kernite_root/"
fi

# The commands run with the working directory at the native root; Kernite's program sees its rootfs as `/`.
native_command()
{
    printf '%q ' env -i "${default_environment[@]}" "$@"
}

kernite_command()
{
    local program=$1
    shift
    if [[ $# -gt 0 ]]; then
        printf '%q ' "$kernite" run --rootfs "$kernite_root" --timeout 300 "$program" -- "$@"
    else
        printf '%q ' "$kernite" run --rootfs "$kernite_root" --timeout 300 "$program"
    fi
}

# sanity SIDE EXPECTED_STATUS EXPECT_REGEX COMMAND...: one run before timing, which must exit with the expected
# status (and print a line matching EXPECT_REGEX); sets `reason` when it does not.
reason=""
sanity()
{
    local side=$1 expected=$2 regex=$3 status=0
    shift 3
    (cd "$native_root" && timeout -k 5 300 bash -c "$*") </dev/null >"$tmp/sanity.out" 2>"$tmp/sanity.err" || status=$?
    if [[ $status -ne $expected ]]; then
        reason="$side run exited $status (expected $expected): $(grep -v '^$' "$tmp/sanity.err" | tail -n 1)"
        return 1
    fi
    if [[ -n $regex ]] && ! grep -Eq -- "$regex" "$tmp/sanity.out"; then
        reason="$side run printed no line matching /$regex/"
        return 1
    fi
}

# measure NAME COMMAND...: hyperfine medians (ms) of the commands into the array `medians`. Exit statuses are
# not checked by hyperfine (-i: the SQL script ends in a deliberate error, status 1): the sanity runs did.
medians=()
measure()
{
    local name=$1
    shift
    medians=()
    if ! (cd "$native_root" && hyperfine -N -i --style basic --warmup "$warmup" --runs "$runs" \
        --export-json "$tmp/$name.json" "$@" </dev/null >&2); then
        reason="hyperfine failed"
        return 1
    fi
    mapfile -t medians < <(awk '/"median":/ { gsub(/[",]/, ""); printf "%.3f\n", $2 * 1000 }' "$tmp/$name.json")
    if [[ ${#medians[@]} -ne $# ]]; then
        reason="found ${#medians[@]} medians for $# commands"
        return 1
    fi
}

divide()
{
    awk -v a="$1" -v b="$2" -v digits="${3:-2}" 'BEGIN { if (b > 0) printf "%.*f", digits, a / b; else print "null" }'
}

# --- getppid round trip -----------------------------------------------------------------------------------------
bench_syscall()
{
    local names=(syscall_ns syscall_native_ns syscall_ratio_vs_linux syscall_iterations syscall_iterations_native)
    if [[ ! -x $getppid_loop ]]; then
        unmeasured "${names[@]}" "$getppid_loop is not built"
        return
    fi
    if ! sanity native 0 "" "$(native_command "$getppid_loop" 1000)"; then
        unmeasured "${names[@]}" "$reason"
        return
    fi
    # Calibrate Kernite's N: time one run of 10,000 calls against one of none.
    local start end with without per_call iterations
    start=$(date +%s%N)
    if ! sanity kernite 0 "" "$(kernite_command "$getppid_loop" 0)"; then
        unmeasured "${names[@]}" "$reason"
        return
    fi
    end=$(date +%s%N)
    without=$((end - start))
    start=$(date +%s%N)
    if ! sanity kernite 0 "" "$(kernite_command "$getppid_loop" 10000)"; then
        unmeasured "${names[@]}" "$reason"
        return
    fi
    end=$(date +%s%N)
    with=$((end - start))
    per_call=$(((with - without) / 10000))
    ((per_call > 0)) || per_call=1
    iterations=$((1000000000 / per_call))
    ((iterations <= native_iterations)) || iterations=$native_iterations
    ((iterations >= 10000)) || iterations=10000

    if ! measure syscall \
        "$(native_command "$getppid_loop" 0)" "$(native_command "$getppid_loop" "$native_iterations")" \
        "$(kernite_command "$getppid_loop" 0)" "$(kernite_command "$getppid_loop" "$iterations")"; then
        unmeasured "${names[@]}" "$reason"
        return
    fi
    local native_ns kernite_ns
    native_ns=$(awk -v t0="${medians[0]}" -v t1="${medians[1]}" -v n="$native_iterations" \
        'BEGIN { printf "%.1f", (t1 - t0) * 1e6 / n }')
    kernite_ns=$(awk -v t0="${medians[2]}" -v t1="${medians[3]}" -v n="$iterations" \
        'BEGIN { printf "%.1f", (t1 - t0) * 1e6 / n }')
    emit syscall_ns "$kernite_ns"
    emit syscall_native_ns "$native_ns"
    emit syscall_ratio_vs_linux "$(divide "$kernite_ns" "$native_ns")"
    emit syscall_iterations "$iterations"
    emit syscall_iterations_native "$native_iterations"
    table+=("getppid round trip"$'\t'"$native_ns ns"$'\t'"$kernite_ns ns"$'\t'"$(divide "$kernite_ns" "$native_ns")x")
}

# --- whole-program runs: SQLite and Lua -------------------------------------------------------------------------
# bench_program KEY LABEL EXPECTED_STATUS EXPECT_REGEX PROGRAM ARGS...
bench_program()
{
    local key=$1 label=$2 expected=$3 regex=$4 program=$5
    shift 5
    local names=("${key}_ms" "${key}_native_ms" "${key}_ratio_vs_linux")
    if [[ ! -x $program ]]; then
        unmeasured "${names[@]}" "$program is not built"
        return
    fi
    if [[ ! -d $native_root ]]; then
        unmeasured "${names[@]}" "the rootfs template $template is not built"
        return
    fi
    local native kernite_run
    native=$(native_command "$program" "$@")
    kernite_run=$(kernite_command "$program" "$@")
    if ! sanity native "$expected" "$regex" "$native" || ! sanity kernite "$expected" "$regex" "$kernite_run"; then
        unmeasured "${names[@]}" "$reason"
        return
    fi
    if ! measure "$key" "$native" "$kernite_run"; then
        unmeasured "${names[@]}" "$reason"
        return
    fi
    emit "${key}_ms" "${medians[1]}"
    emit "${key}_native_ms" "${medians[0]}"
    emit "${key}_ratio_vs_linux" "$(divide "${medians[1]}" "${medians[0]}")"
    table+=("$label"$'\t'"${medians[0]} ms"$'\t'"${medians[1]} ms"$'\t'"$(divide "${medians[1]}" "${medians[0]}")x")
}

if [[ ! -x $kernite ]]; then
    echo "bench/apps: $kernite is not built" >&2
fi
bench_syscall
bench_program sqlite "SQLite script (sql/test.sql)" 1 "^sqlite: all queries ran$" \
    "$sqlite" -batch -init /dev/null :memory: ".read sql/test.sql"
bench_program lua "Lua script (lua/test.lua)" 0 "^lua: ([0-9]+) of \\1 checks passed$" "$lua" lua/test.lua

{
    echo
    printf 'benchmark\tLinux\tKernite\tratio\n'
    [[ ${#table[@]} -eq 0 ]] || printf '%s\n' "${table[@]}"
    echo "(medians of $runs runs; goals: syscall ratio <= 1.0, SQLite and Lua <= 1.2)"
} | column -t -s $'\t' >&2

if ((errors > 0)); then
    echo "bench/apps: $errors benchmark(s) could not be measured" >&2
    exit 1
fi
