#!/usr/bin/env bash
# Without a usable /dev/kvm, `kernite run` (no --vmm) must fall back to QEMU, say so exactly once on stderr,
# and still boot. Runs the monitor in a private mount namespace where /dev/kvm is /dev/null (needs root and
# unshare from util-linux; exit 77 = skipped, with the reason, where that is not possible).
#   no-kvm-fallback.sh KERNITE
set -u
kernite=$1
out=$(mktemp -d "${TMPDIR:-/tmp}/kernite-nokvm.XXXXXX")
trap 'rm -rf "$out"' EXIT

if [[ $(id -u) -ne 0 ]] || ! command -v unshare >/dev/null; then
    echo "SKIP: hiding /dev/kvm needs root and unshare(1)"
    exit 77
fi
if [[ -e /dev/kvm ]]; then
    hide='mount --bind /dev/null /dev/kvm &&'
else
    hide='' # no /dev/kvm at all: the plain run is already the fallback case
fi
status=0
unshare -m bash -c "$hide exec \"\$0\" run --timeout 120 --cmdline quick" "$kernite" >"$out/stdout" 2>"$out/stderr" || status=$?
if [[ $status -eq 125 || $status -eq 127 ]] && grep -q "unshare\|mount" "$out/stderr" && ! grep -q "^kernite:" "$out/stderr"; then
    echo "SKIP: cannot make a mount namespace here: $(head -n 1 "$out/stderr")"
    exit 77
fi
fail=0
[[ $status -eq 0 ]] || { echo "FAIL: exit status $status, expected 0"; fail=1; }
notices=$(grep -c "falling back to QEMU" "$out/stderr")
[[ $notices -eq 1 ]] || { echo "FAIL: expected exactly one 'falling back to QEMU' notice, got $notices"; fail=1; }
grep -q "kernite: booted on qemu-pvh" "$out/stdout" "$out/stderr" || { echo "FAIL: the kernel did not boot under QEMU"; fail=1; }
grep -q "kernite: demo ok" "$out/stdout" "$out/stderr" || { echo "FAIL: no 'kernite: demo ok'"; fail=1; }
if [[ $fail -ne 0 ]]; then
    echo "--- stdout"; cat "$out/stdout"; echo "--- stderr"; cat "$out/stderr"
    exit 1
fi
echo "ok: fell back to QEMU once and booted"
