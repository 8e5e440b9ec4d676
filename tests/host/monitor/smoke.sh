#!/bin/sh
# Boots the fixture guests (tests/fixtures) through the real `kernite` binary and checks output and exit
# status against the contract. Usage: smoke.sh KERNITE FIXTURE_DIR. Exit 77 (skipped) without usable KVM.
set -u
kernite=$1
fixtures=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is not usable here; the monitor smoke test needs KVM"
    exit 77
fi

fail() {
    echo "FAIL: $*"
    echo "  stdout: $(cat "$work/out")"
    echo "  stderr: $(cat "$work/err")"
    failures=$((failures + 1))
}

# expect NAME STATUS -- ARGS...: runs kernite ARGS, checks the exit status.
expect() {
    name=$1 status=$2
    shift 3
    "$kernite" "$@" >"$work/out" 2>"$work/err" </dev/null
    got=$?
    if [ "$got" -ne "$status" ]; then
        fail "$name: exit status $got, expected $status"
        return 1
    fi
    echo "ok: $name (exit $got)"
}

stdout_is() { printf "$2" | cmp -s - "$work/out" || fail "$1: unexpected stdout"; }
stderr_has() { grep -qF -- "$2" "$work/err" || fail "$1: stderr lacks '$2'"; }
stderr_lines() { [ "$(wc -l <"$work/err")" -eq "$2" ] || fail "$1: stderr has $(wc -l <"$work/err") lines, expected $2"; }

expect hello 7 -- run --kernel "$fixtures/hello.elf" --crashtest WRITE_RO --cmdline "x=1"
stdout_is hello "hello from the fixture guest\ncmdline: crashtest=WRITE_RO x=1\n"
stderr_has hello "fixture: a line on stderr"

expect small-memory 7 -- run --kernel "$fixtures/hello.elf" --mem 4M

expect event 125 -- run --kernel "$fixtures/event.elf" --events "$work/events.json"
stderr_has event 'kernite: security event wx-violation: fixture \"quoted\" \u0001 write\u0009\\ \u00ff at 0xffffffff80101234 (fixture_write_ro) addr 0xffffffff80200000'
# The events file must parse as JSON with the exact fields (python3 comes from scripts/install-deps.sh).
if ! command -v python3 >/dev/null; then
    fail "event: python3 is missing (scripts/install-deps.sh installs it): cannot check the events file"
else
    python3 - "$work/events.json" <<'PY' || fail "event: events file is wrong: $(cat "$work/events.json")"
import json, re, sys
lines = open(sys.argv[1], encoding="ascii").read().splitlines()
assert len(lines) == 1, lines
event = json.loads(lines[0])
assert event["type"] == "wx-violation", event
assert re.fullmatch("[0-9a-f]{32}", event["boot_id"]), event
assert event["message"] == 'fixture "quoted" \x01 write\t\\ \xff', event
assert event["rip"] == "0xffffffff80101234" and event["addr"] == "0xffffffff80200000", event
assert event["symbol"] == "fixture_write_ro" and event["vmm"] == "kvm" and "thread" not in event, event
PY
fi

for fixture in bad_event bad_request bad_port triple_fault; do
    expect "$fixture" 125 -- run --kernel "$fixtures/$fixture.elf"
    stderr_has "$fixture" " at rip 0x"
    stderr_lines "$fixture" 1
done

expect timeout 124 -- run --kernel "$fixtures/hang.elf" --timeout 0.3
stderr_has timeout "kernite: timeout after 0.3 s"

expect wx-image 127 -- run --kernel "$fixtures/wx.elf"
stderr_has wx-image "kernite: refusing kernel image $fixtures/wx.elf: segment 0 is writable and executable"
stderr_lines wx-image 1

expect missing-image 127 -- run --kernel "$work/none.elf"
stderr_has missing-image "$work/none.elf"
expect not-elf 127 -- run --kernel "$work/events.json"
stderr_has not-elf "refusing kernel image"
expect bad-mem 127 -- run --kernel "$fixtures/hello.elf" --mem 1K
expect min-memory 7 -- run --kernel "$fixtures/hello.elf" --mem 2M
expect unknown-option 127 -- run --frobnicate
stderr_has unknown-option "usage: kernite run"
expect unknown-crashtest 127 -- run --crashtest NOPE
stderr_has unknown-crashtest "kernite: unknown crash test NOPE (see --crashtest list)"
expect crashtest-list 0 -- run --crashtest list
grep -q '^WRITE_RO  *wx-violation  *write to a const variable in .rodata$' "$work/out" || fail "crashtest-list: no WRITE_RO line"
expect help 0 -- --help
expect version 0 -- --version

# QEMU is a dependency (scripts/install-deps.sh): without it the QEMU backend would go untested, so that fails.
expect qemu-hello 7 -- run --vmm qemu --kernel "$fixtures/hello.elf" --timeout 30
stdout_is qemu-hello "hello from the fixture guest\n"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all monitor smoke checks passed"
