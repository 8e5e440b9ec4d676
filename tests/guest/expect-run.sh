#!/usr/bin/env bash
# Run `kernite run ...` once and judge it from the host (STYLE.md habit 13): exit status, output, events.
#
#   expect-run.sh [DRIVER OPTIONS] [-- KERNITE RUN ARGS...]
#
# Driver options:
#   --kernite PATH          the monitor binary (default: build/bin/kernite of this checkout)
#   --vmm kvm|qemu|none     passed as `--vmm`; kvm skips (exit 77) when /dev/kvm is not usable; none passes no --vmm
#   --timeout SECONDS       passed as `--timeout` (default 30 for kvm and none, 60 for qemu)
#   --expect-status N       exact exit status (default 0); a signal or sanitizer report never passes
#   --expect-stdout REGEX   a stdout line matches (grep -E); repeatable
#   --expect-output REGEX   a line of stdout+stderr matches (grep -E); repeatable
#   --reject-output REGEX   no line of stdout+stderr matches; repeatable
#   --expect-event TYPE     the --events file has a JSON line with "type":"TYPE" and a non-empty "boot_id"
#   --armed NAME            the line "crashtest: NAME armed" appears, before any line naming the expected event
#   --attack NAME           the same for a program's attack (tests/attacks): the line "attack: NAME armed"
#   --expect-symbol REGEX   an event of the (first) --expect-event type has a "symbol" matching ^REGEX
#   --malformed KIND        pass `--kernel TMP/image`, a copy of --source-image broken by make-malformed.sh KIND
#   --source-image PATH     the real image --malformed starts from
#   --require PATH          fail (not skip) unless PATH exists: a prerequisite that `make build` makes
#   --keep                  keep the temporary directory even when the test passes
# Everything after `--` is appended to the `kernite run` command line.
#
# Every run gets `--timeout` and `--events TMP/events.jsonl`. A watchdog kills the monitor 30 s after its own
# timeout should have fired, so a hang always fails. On failure the diagnosis shows the command, status,
# elapsed time, the output's tail and the events.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)

kernite=$repo_root/build/bin/kernite
vmm=none
timeout=""
expect_status=0
expect_stdout=()
expect_output=()
reject_output=(
    # The monitor is a hardened host program: a sanitizer report or a crash inside it fails every test.
    '==[0-9]+==ERROR: (Address|Leak|Memory|Thread)Sanitizer'
    'SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer'
    '^Segmentation fault|core dumped'
)
expect_events=()
armed=""
armed_prefix=crashtest
expect_symbol=""
malformed=""
source_image=""
requires=()
keep=0
extra=()

usage()
{
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

while [[ $# -gt 0 ]]; do
    case $1 in
    --kernite) kernite=$2; shift 2 ;;
    --vmm) vmm=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --expect-status) expect_status=$2; shift 2 ;;
    --expect-stdout) expect_stdout+=("$2"); shift 2 ;;
    --expect-output) expect_output+=("$2"); shift 2 ;;
    --reject-output) reject_output+=("$2"); shift 2 ;;
    --expect-event) expect_events+=("$2"); shift 2 ;;
    --armed) armed=$2; armed_prefix=crashtest; shift 2 ;;
    --attack) armed=$2; armed_prefix=attack; shift 2 ;;
    --expect-symbol) expect_symbol=$2; shift 2 ;;
    --malformed) malformed=$2; shift 2 ;;
    --source-image) source_image=$2; shift 2 ;;
    --require) requires+=("$2"); shift 2 ;;
    --keep) keep=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h | --help) usage ;;
    *) echo "expect-run: unknown option '$1'" >&2; usage ;;
    esac
done

case $vmm in
kvm | none) : "${timeout:=30}" ;;
qemu) : "${timeout:=60}" ;;
*) echo "expect-run: --vmm must be kvm, qemu or none, not '$vmm'" >&2; exit 2 ;;
esac

# --- Skip KVM variants where /dev/kvm cannot be used; CTest counts exit 77 as skipped (SKIP_RETURN_CODE). ---
if [[ $vmm == kvm ]]; then
    reason=""
    if [[ ! -e /dev/kvm ]]; then
        reason="/dev/kvm does not exist"
    elif [[ ! -c /dev/kvm ]]; then
        reason="/dev/kvm is not a character device"
    elif ! reason=$( (exec 3<>/dev/kvm) 2>&1); then
        # Opened read-write, as the monitor does; the error text says why not (permission, no module, ...).
        reason=${reason##*: }
        reason="cannot open /dev/kvm read-write: ${reason:-unknown error}"
    else
        reason=""
    fi
    if [[ -n $reason ]]; then
        echo "SKIP: /dev/kvm not usable: $reason"
        exit 77
    fi
fi

fail_setup()
{
    echo "FAIL: $*"
    exit 1
}

[[ -x $kernite ]] || fail_setup "monitor $kernite is not built (run make build)"
for path in "${requires[@]}"; do
    [[ -e $path ]] || fail_setup "$path is missing (run make build)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kernite-guest-test.XXXXXX")
events=$tmp/events.jsonl
out_combined=$tmp/output.txt
out_stdout=$tmp/stdout.txt
out_stderr=$tmp/stderr.txt

args=(run --timeout "$timeout" --events "$events")
[[ $vmm == none ]] || args+=(--vmm "$vmm")
if [[ -n $malformed ]]; then
    [[ -n $source_image ]] || fail_setup "--malformed needs --source-image"
    "$script_dir/make-malformed.sh" "$malformed" "$source_image" "$tmp/image-$malformed.elf" ||
        fail_setup "could not make malformed image '$malformed' from $source_image"
    args+=(--kernel "$tmp/image-$malformed.elf")
fi
args+=("${extra[@]}")

# --- Run. With --expect-stdout the streams are captured apart; otherwise into one file, so that the order of
# lines across stdout and stderr is the order in which the monitor wrote them (needed by --armed). ---
watchdog=$((timeout + 30))
start_ns=$(date +%s%N)
set +e
if [[ ${#expect_stdout[@]} -gt 0 ]]; then
    timeout -s KILL "$watchdog" "$kernite" "${args[@]}" </dev/null >"$out_stdout" 2>"$out_stderr"
    status=$?
    cat "$out_stdout" "$out_stderr" >"$out_combined"
else
    timeout -s KILL "$watchdog" "$kernite" "${args[@]}" </dev/null >"$out_combined" 2>&1
    status=$?
fi
set -e
elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))

# The QEMU console may end lines with CR LF.
sed -i 's/\r$//' "$out_combined"
[[ ! -f $out_stdout ]] || sed -i 's/\r$//' "$out_stdout"

failures=()
failed()
{
    failures+=("$*")
}

# --- Judge. ---
if ((elapsed_ms >= watchdog * 1000)); then
    failed "hang: the monitor ignored --timeout $timeout and was killed by the watchdog after ${watchdog}s"
elif [[ $status -ne $expect_status ]]; then
    case $status in
    124) detail=" (the VM timed out)" ;;
    125) detail=" (the kernel stopped on a security violation or panic)" ;;
    127) detail=" (the monitor refused to start the VM)" ;;
    129 | 13[0-9] | 1[4-9][0-9] | 2[0-5][0-9]) detail=" (signal $((status - 128)): the app's, or the monitor crashed)" ;;
    *) detail="" ;;
    esac
    failed "exit status $status$detail, expected $expect_status"
fi

for regex in "${expect_stdout[@]}"; do
    grep -Eq -- "$regex" "$out_stdout" || failed "no stdout line matches /$regex/"
done
for regex in "${expect_output[@]}"; do
    grep -Eq -- "$regex" "$out_combined" || failed "no output line matches /$regex/"
done
for regex in "${reject_output[@]}"; do
    if line=$(grep -Em1 -- "$regex" "$out_combined"); then
        failed "output line matches forbidden /$regex/: $line"
    fi
done

if [[ -n $armed ]]; then
    armed_line=$(grep -nEm1 -- "$armed_prefix: $armed armed([^A-Za-z0-9_]|$)" "$out_combined" | cut -d: -f1 || true)
    if [[ -z $armed_line ]]; then
        failed "the line '$armed_prefix: $armed armed' never appeared: it stopped before the attack point"
    else
        for type in "${expect_events[@]}"; do
            first=$(grep -nFm1 -- "$type" "$out_combined" | cut -d: -f1 || true)
            if [[ -n $first ]] && ((first < armed_line)); then
                failed "'$type' is reported on output line $first, before the armed line $armed_line"
            fi
        done
    fi
fi

if [[ ${#expect_events[@]} -gt 0 ]]; then
    if [[ ! -s $events ]]; then
        failed "the events file $events is missing or empty"
    else
        if bad=$(grep -nvE '^[[:space:]]*(\{.*\})?[[:space:]]*$' "$events" | head -1) && [[ -n $bad ]]; then
            failed "events file line is not a JSON object: $bad"
        fi
        for type in "${expect_events[@]}"; do
            if ! grep -E "\"type\"[[:space:]]*:[[:space:]]*\"$type\"" "$events" |
                grep -Eq '"boot_id"[[:space:]]*:[[:space:]]*"[^"]+"'; then
                failed "no event with \"type\":\"$type\" and a non-empty \"boot_id\" in the events file"
            fi
        done
        if [[ -n $expect_symbol ]] && ! grep -E "\"type\"[[:space:]]*:[[:space:]]*\"${expect_events[0]}\"" "$events" |
            grep -Eq "\"symbol\"[[:space:]]*:[[:space:]]*\"$expect_symbol"; then
            failed "no \"${expect_events[0]}\" event with a \"symbol\" matching /^$expect_symbol/"
        fi
    fi
fi

# --- Report. ---
command_line=$(printf '%q ' "$kernite" "${args[@]}")
if [[ ${#failures[@]} -eq 0 ]]; then
    echo "PASS: status $status in ${elapsed_ms} ms: $command_line"
    if [[ $keep -eq 1 ]]; then
        echo "kept: $tmp"
    else
        rm -rf "$tmp"
    fi
    exit 0
fi

{
    echo "FAIL: ${failures[0]}"
    for failure in "${failures[@]:1}"; do
        echo "      $failure"
    done
    echo "--- command:  $command_line"
    echo "--- status:   $status after ${elapsed_ms} ms (timeout ${timeout}s)"
    echo "--- output (last 40 of $(wc -l <"$out_combined") lines, stdout+stderr):"
    tail -n 40 "$out_combined"
    if [[ -s $events ]]; then
        echo "--- events ($events):"
        tail -n 20 "$events"
    else
        echo "--- events: none written"
    fi
    echo "--- kept for inspection: $tmp"
}
exit 1
