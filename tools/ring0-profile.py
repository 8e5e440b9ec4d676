#!/usr/bin/env python3
"""Where guest ring 0 spends its instructions, per kernel function, for one `kernite run` on KVM.

Where KVM emulates guest ring 0 (nested KVM through PVM, docs/platform-notes.md) every kernel instruction goes
through KVM's emulator, and its `kvm:kvm_emulate_insn` tracepoint names each one's RIP: recorded with perf, that
is an exact instruction profile of the kernel, and its cost model (~0.7 us per instruction there). On KVM that runs
the kernel natively there are (almost) no such events and this tool says so.

    tools/ring0-profile.py [--top N] [--compare PROFILE] -- RUN-ARGS...

RUN-ARGS are `kernite run`'s (e.g. `--kernel baseline --cmdline quick`, or a program). `--compare PROFILE` runs
the same arguments again with `--kernel PROFILE` and prints both counts and their difference per function
(the security tax of a protection, instruction by instruction). Needs perf (Debian: linux-perf) and root.
"""
import argparse
import bisect
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNITE = os.environ.get("KERNITE_BIN", os.path.join(REPO, "build", "bin", "kernite"))
LINK_BASE = 0xFFFFFFFF80100000  # arch/x86_64/kernel.ld: the image's link address
PHYS_BASE = 0x100000            # where early boot runs before it jumps to the high half


def image_for(run_args):
    profile = "hardened"
    for i, arg in enumerate(run_args):
        if arg == "--kernel" and i + 1 < len(run_args):
            profile = run_args[i + 1]
    return profile if "/" in profile else os.path.join(REPO, "build", "kernel", "kernite-%s.elf" % profile)


def symbols(image):
    nm = subprocess.run(["nm", "-C", "--defined-only", image], capture_output=True, text=True, check=True)
    table = []
    for line in nm.stdout.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tTwW":
            table.append((int(parts[0], 16), parts[2]))
    table.sort()
    return [a for a, _ in table], [n for _, n in table]


def profile(run_args, workdir, tag):
    data = os.path.join(workdir, tag + ".data")
    run = subprocess.run(["perf", "record", "-q", "-m", "1024", "-e", "kvm:kvm_emulate_insn", "-o", data, KERNITE,
                          "run", "--vmm", "kvm", "--print-layout"] + run_args,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = re.search(r"^layout kernel 0x([0-9a-f]+)$", run.stderr, re.M)
    if not base:
        sys.exit("ring0-profile: no `layout kernel` line from kernite (exit %d):\n%s" % (run.returncode, run.stderr))
    base = int(base.group(1), 16)
    addresses, names = symbols(image_for(run_args))
    script = subprocess.Popen(["perf", "script", "-i", data], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    pattern = re.compile(r"kvm:kvm_emulate_insn: [0-9a-f]+:([0-9a-f]+):")
    counts = collections.Counter()
    for line in script.stdout:
        match = pattern.search(line)
        if not match:
            continue
        rip = int(match.group(1), 16)
        if rip >= 0xFFFF800000000000:
            address = rip - base + LINK_BASE
        elif PHYS_BASE <= rip < PHYS_BASE + (256 << 20):
            address = rip - PHYS_BASE + LINK_BASE
        else:
            counts["(outside the kernel image)"] += 1
            continue
        index = bisect.bisect_right(addresses, address) - 1
        counts[names[index] if index >= 0 else "(before the first symbol)"] += 1
    script.wait()
    return counts, run.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--compare", metavar="PROFILE")
    parser.add_argument("run_args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    run_args = options.run_args[1:] if options.run_args[:1] == ["--"] else options.run_args
    if not shutil.which("perf"):
        sys.exit("ring0-profile: needs perf (apt-get install linux-perf)")
    with tempfile.TemporaryDirectory() as workdir:
        first, status = profile(run_args, workdir, "first")
        if sum(first.values()) == 0:
            sys.exit("ring0-profile: no emulated instructions: KVM runs guest ring 0 natively here, nothing to count")
        if not options.compare:
            print("%d emulated kernel instructions (kernite exited %d)" % (sum(first.values()), status))
            for name, count in first.most_common(options.top):
                print("%9d  %s" % (count, name))
            return
        other_args = [a for i, a in enumerate(run_args) if a != "--kernel" and (i == 0 or run_args[i - 1] != "--kernel")]
        second, _ = profile(["--kernel", options.compare] + other_args, workdir, "second")
    total_first, total_second = sum(first.values()), sum(second.values())
    print("emulated kernel instructions: %d against %d with --kernel %s (%.3fx)"
          % (total_first, total_second, options.compare, total_first / total_second))
    rows = sorted(((first[n] - second[n], n) for n in set(first) | set(second)), reverse=True)
    print("%9s %9s %9s  function" % ("diff", "this", options.compare))
    for diff, name in rows[:options.top]:
        print("%+9d %9d %9d  %s" % (diff, first[name], second[name], name))


if __name__ == "__main__":
    main()
