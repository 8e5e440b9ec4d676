#!/usr/bin/env bash
# The program's standard input (issue 3 item 5), the cases a file-based differential test cannot show:
#   stdin.sh KERNITE BUSYBOX HELLO
# - bytes in two bursts from a slow writer arrive in order (the program blocks between them);
# - 300 KB of binary bytes pass through `cat` byte-exact (several 64 KiB chunks);
# - a closed stdin (<&-) and /dev/null read as end of file, exit 0;
# - a program that never reads stdin is not held up by a writer that never closes it;
# - --vmm qemu refuses a stdin with bytes (127 and a message) and runs with /dev/null.
# Prints one line per check and ends with "N passed, N failed"; exit 1 when any failed.
set -uo pipefail
kernite=$1 busybox=$2 hello=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kernite-stdin.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check()
{
    local what=$1
    shift
    if "$@"; then
        echo "ok: $what"
        passed=$((passed + 1))
    else
        echo "FAIL: $what"
        failed=$((failed + 1))
    fi
}

slow_writer() { sleep 0.3; printf 'first burst\n'; sleep 0.3; printf 'second burst\n'; }
bursts() { [[ $(slow_writer | "$kernite" run --timeout 60 "$busybox" -- tr a-z A-Z) == $'FIRST BURST\nSECOND BURST' ]]; }
check "two bursts from a slow writer arrive in order" bursts

head -c 300000 /dev/urandom >"$tmp/random.bin"
binary() { "$kernite" run --timeout 120 "$busybox" -- cat <"$tmp/random.bin" | cmp -s - "$tmp/random.bin"; }
check "300 KB of binary stdin through cat, byte-exact" binary

closed() { [[ -z $("$kernite" run --timeout 60 "$busybox" -- cat <&-) ]]; }
check "a closed stdin is end of file (exit 0, no output)" closed
null() { [[ -z $("$kernite" run --timeout 60 "$busybox" -- cat </dev/null) ]]; }
check "/dev/null is end of file" null

# The writer keeps the pipe open for 60 s; the program (which never reads stdin) must be done long before.
never_read()
{
    local start=$SECONDS status=0
    "$kernite" run --timeout 50 "$hello" -- a b c < <(sleep 60) >/dev/null || status=$?
    [[ $status -eq 43 && $((SECONDS - start)) -lt 40 ]]
}
check "a program that never reads stdin does not wait for its writer" never_read

printf 'data' >"$tmp/input.txt"
qemu_refuses()
{
    local status=0
    "$kernite" run --vmm qemu --timeout 60 "$hello" <"$tmp/input.txt" >/dev/null 2>"$tmp/qemu.err" || status=$?
    [[ $status -eq 127 ]] && grep -q 'cannot pass standard input' "$tmp/qemu.err"
}
check "--vmm qemu refuses a stdin with bytes (127, says why)" qemu_refuses
qemu_null()
{
    local status=0
    "$kernite" run --vmm qemu --timeout 120 "$hello" -- a b c </dev/null >/dev/null 2>&1 || status=$?
    [[ $status -eq 43 ]]
}
check "--vmm qemu runs with stdin from /dev/null" qemu_null

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
