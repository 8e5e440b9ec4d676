#!/usr/bin/env bash
# Differential test (issue 3 item 6): run one program natively on Linux and under `kernite run`, each in a fresh
# copy of a rootfs template, and require the same stdout (byte for byte) and the same exit status.
#
#   differential.sh [OPTIONS] -- PROGRAM [ARGS...]
#
# Options:
#   --kernite PATH        the monitor (default: build/bin/kernite of this checkout)
#   --rootfs DIR          the rootfs template, copied twice (default: an empty directory)
#   --stdin FILE          the program's stdin on both sides, a path relative to the rootfs copy (default /dev/null)
#   --timeout SECONDS     `kernite run --timeout` and the native run's limit (default 120)
#   --expect-status N     the native run must exit with N (default 0): a test whose program fails natively, or
#                         that passes only because both sides crash the same way, is a broken test
#   --expect-stdout REGEX a line of the native stdout must match (grep -E); repeatable
#   --compare-stderr      also compare stderr, without the lines Kernite itself writes (prefix "kernite: ")
#   --native-twice        determinism check instead: run natively twice (fresh copies) and compare the runs;
#                         no Kernite run. Every program's output must pass this before its differential test means
#                         anything.
#   --kernite-option OPT  append OPT to the `kernite run` options (repeatable), e.g. `--isolation none`
#   --forbid-event TYPE   the Kernite run must report no security event of TYPE (repeatable): its events go to a
#                         file (`kernite run --events`) that is checked after the run, e.g. `kasan` and `ubsan`
#                         for the debug kernel, whose reports would be false ones on these programs
#   --keep                keep the temporary directory even when the test passes
#
# The native run mirrors what `kernite run` gives a program: the working directory is the root of the rootfs
# copy (so use relative paths in ARGS), the environment is exactly Kernite's default environment (see
# default_environment below; --env is not used), stdin is /dev/null unless --stdin, no core dumps. PROGRAM is a
# host path; `kernite run` loads the same file, and argv[0] is PROGRAM on both sides.
#
# Exit status: 0 same, 1 different or a run failed (the diagnosis shows both statuses, a diff of stdout and the
# tails of stderr; the temporary directory is kept), 2 usage. A Kernite that cannot run programs yet fails the
# test: there is no skip.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)

# Kernite's default environment for the program, in its order (default_program_environment in monitor/cli.h,
# what `kernite run` gives without --env). Checked against `kernite run --help` below, so it cannot drift.
default_environment=(PATH=/usr/local/bin:/usr/bin:/bin HOME=/ TERM=dumb)

kernite=$repo_root/build/bin/kernite
rootfs=""
stdin_file=""
timeout=120
expect_status=0
expect_stdout=()
compare_stderr=0
native_twice=0
keep=0
kernite_options=()
forbidden_events=()

usage()
{
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

while [[ $# -gt 0 ]]; do
    case $1 in
    --kernite) kernite=$2; shift 2 ;;
    --rootfs) rootfs=$2; shift 2 ;;
    --stdin) stdin_file=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --expect-status) expect_status=$2; shift 2 ;;
    --expect-stdout) expect_stdout+=("$2"); shift 2 ;;
    --compare-stderr) compare_stderr=1; shift ;;
    --native-twice) native_twice=1; shift ;;
    --kernite-option) kernite_options+=("$2"); shift 2 ;;
    --forbid-event) forbidden_events+=("$2"); shift 2 ;;
    --keep) keep=1; shift ;;
    --) shift; break ;;
    -h | --help) usage ;;
    *) echo "differential: unknown option '$1'" >&2; usage ;;
    esac
done
[[ $# -ge 1 ]] || { echo "differential: no PROGRAM after --" >&2; usage; }
program=$1
shift
arguments=("$@")

fail()
{
    echo "FAIL: $*"
    exit 1
}

[[ -f $program && -x $program ]] || fail "$program is not an executable file (did the build make it?)"
[[ -z $rootfs || -d $rootfs ]] || fail "rootfs template $rootfs is not a directory (did the build make it?)"
if ((!native_twice)); then
    [[ -x $kernite ]] || fail "$kernite is not built"
    # `kernite run --help` says "Environment: A=1 B=2, then each --env."
    help_environment=$("$kernite" run --help 2>&1 | sed -n 's/.*Environment: \(.*\), then each --env.*/\1/p' \
        | head -n 1) || true
    if [[ -n $help_environment && $help_environment != "${default_environment[*]}" ]]; then
        fail "kernite's default environment is now '$help_environment'; differential.sh uses" \
            "'${default_environment[*]}': update default_environment here and in bench/apps/run.sh"
    fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kernite-differential.XXXXXX")
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup()
{
    local status=$?
    if ((status == 0 && !keep)); then
        rm -rf "$tmp"
    else
        echo "differential: kept $tmp"
    fi
}
trap cleanup EXIT

# fresh_copy DIR: a private copy of the template (modes, times and symlinks kept, as the rootfs packer keeps them).
fresh_copy()
{
    mkdir -p "$1"
    if [[ -n $rootfs ]]; then
        cp -a "$rootfs/." "$1/"
    fi
}

# stdin_for DIR: the stdin path for a run in DIR.
stdin_for()
{
    if [[ -n $stdin_file ]]; then
        echo "$1/$stdin_file"
    else
        echo /dev/null
    fi
}

# run_native NAME: run the program in a fresh copy; output in $tmp/NAME.{out,err,status}.
run_native()
{
    local name=$1
    fresh_copy "$tmp/$name.root"
    # The subshell reports the status; its own stderr (bash's "Aborted" notice when the program dies by a
    # signal) is dropped, the program's goes to the file.
    (
        cd "$tmp/$name.root"
        ulimit -c 0
        status=0
        timeout -k 5 "$timeout" env -i "${default_environment[@]}" "$program" "${arguments[@]}" \
            <"$(stdin_for "$tmp/$name.root")" >"$tmp/$name.out" 2>"$tmp/$name.err" || status=$?
        echo "$status" >"$tmp/$name.status"
    ) 2>/dev/null
}

# run_kernite NAME: the same under `kernite run`, with the copy as the rootfs. A watchdog 30 s after Kernite's own
# timeout catches a monitor that hangs.
run_kernite()
{
    local name=$1 status=0
    local command=("$kernite" run "${kernite_options[@]}" --rootfs "$tmp/$name.root" --timeout "$timeout")
    [[ ${#forbidden_events[@]} -eq 0 ]] || command+=(--events "$tmp/$name.events")
    command+=("$program")
    [[ ${#arguments[@]} -eq 0 ]] || command+=(-- "${arguments[@]}")
    fresh_copy "$tmp/$name.root"
    printf '%q ' "${command[@]}" >"$tmp/$name.command"
    timeout -k 5 $((timeout + 30)) "${command[@]}" <"$(stdin_for "$tmp/$name.root")" \
        >"$tmp/$name.out" 2>"$tmp/$name.err" || status=$?
    echo "$status" >"$tmp/$name.status"
}

# Program stderr without Kernite's own lines.
program_stderr()
{
    grep -v '^kernite: ' "$1" || true
}

show_tail()
{
    local label=$1 file=$2
    echo "--- $label (last 15 lines) ---"
    tail -n 15 "$file" | cat -v
}

first=native
if ((native_twice)); then
    second=native-again
    run_native "$first"
    run_native "$second"
else
    second=kernite
    run_native "$first"
    run_kernite "$second"
fi
first_status=$(cat "$tmp/$first.status")
second_status=$(cat "$tmp/$second.status")

problems=()
# The native run is the reference: it must itself be what the test expects.
if [[ $first_status != "$expect_status" ]]; then
    problems+=("the native run exited $first_status, the test expects $expect_status")
fi
for regex in "${expect_stdout[@]}"; do
    grep -Eq -- "$regex" "$tmp/$first.out" || problems+=("the native stdout has no line matching /$regex/")
done
if [[ $first_status != "$second_status" ]]; then
    problems+=("exit status: $first $first_status, $second $second_status")
fi
if ! cmp -s "$tmp/$first.out" "$tmp/$second.out"; then
    sizes="$(stat -c %s "$tmp/$first.out") bytes $first, $(stat -c %s "$tmp/$second.out") bytes $second"
    problems+=("stdout differs ($sizes)")
fi
if ((!native_twice)) && [[ ${#forbidden_events[@]} -gt 0 ]]; then
    if [[ ! -f $tmp/$second.events ]]; then
        problems+=("kernite wrote no events file ($tmp/$second.events)")
    fi
    for type in "${forbidden_events[@]}"; do
        count=$(grep -c "\"type\":\"$type\"" "$tmp/$second.events" 2>/dev/null || true)
        if [[ ${count:-0} -ne 0 ]]; then
            problems+=("kernite reported $count '$type' event(s): $(grep -m 1 "\"type\":\"$type\"" "$tmp/$second.events" | cut -c 1-300)")
        fi
    done
fi
if ((compare_stderr)) && ! cmp -s <(program_stderr "$tmp/$first.err") <(program_stderr "$tmp/$second.err"); then
    problems+=("stderr differs (lines starting with 'kernite: ' ignored)")
fi

description="$(basename "$program")${arguments[*]:+ ${arguments[*]}}"
if [[ ${#problems[@]} -eq 0 ]]; then
    echo "PASS: $description: $first and $second agree (exit status $first_status," \
        "$(stat -c %s "$tmp/$first.out") bytes of stdout)"
    exit 0
fi

echo "FAIL: $description"
for problem in "${problems[@]}"; do
    echo "  - $problem"
done
[[ ! -f $tmp/$second.command ]] || echo "kernite command: $(cat "$tmp/$second.command")"
echo "exit status: $first $first_status, $second $second_status"
echo "--- stdout: $(cmp "$tmp/$first.out" "$tmp/$second.out" 2>&1 | head -n 1 || true)"
echo "--- stdout diff ($first vs $second; first 40 lines, cut at 160 columns, binary shown with cat -v) ---"
diff -a <(cat -v "$tmp/$first.out") <(cat -v "$tmp/$second.out") | head -n 40 | cut -c 1-160 || true
show_tail "$first stderr" "$tmp/$first.err"
show_tail "$second stderr" "$tmp/$second.err"
exit 1
