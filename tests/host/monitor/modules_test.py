#!/usr/bin/env python3
"""The monitor's side of `kernite run APP`, end to end, with a test guest instead of the kernel.

Usage: modules_test.py KERNITE MODULES_FIXTURE

The fixture (module_guest.S) reports what it was given: under KVM each BootInfo module (after checking it is
page-aligned and inside a Reserved region) then an Output hypercall with stdout and stderr records; under QEMU
its one PVH module, the module bundle, as a `kernite-out` marker line. Checked here against abi.h, byte for
byte: the program, the args module (argv, the default environment, --env), the rootfs cpio archive, the seed;
plus the refusals (exit 127 with a message) and EPIPE on the program's output (exit 141). The KVM half is
skipped, with a note, where /dev/kvm is not usable; the QEMU half always runs.
"""
import os
import stat
import struct
import subprocess
import sys
import tempfile

KERNITE, FIXTURE = sys.argv[1], sys.argv[2]
ARGS_MAGIC = 0x5347524B
DEFAULT_ENV = [b"PATH=/usr/local/bin:/usr/bin:/bin", b"HOME=/", b"TERM=dumb"]
KVM_OUTPUT_STDOUT = b"to stdout\n" + b"\x00\x0a\xfe"
KVM_OUTPUT_STDERR = b"e\x00\xff\x1e\n"

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAIL:", what)
    return condition


def run(arguments, cwd, stdout=subprocess.PIPE, env=None, timeout=120):
    result = subprocess.run([KERNITE, "run"] + arguments, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env, timeout=timeout)
    return result.returncode, result.stdout, result.stderr


def parse_newc(archive):
    entries = []
    offset = 0
    while True:
        header = archive[offset:offset + 110]
        assert header[:6] == b"070701", header
        fields = [int(header[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, mtime, size, name_size = fields[1], fields[5], fields[6], fields[11]
        name = archive[offset + 110:offset + 110 + name_size - 1].decode()
        offset = (offset + 110 + name_size + 3) & ~3
        data = archive[offset:offset + size]
        offset = (offset + size + 3) & ~3
        if name == "TRAILER!!!":
            assert offset == len(archive), (offset, len(archive))
            return entries
        entries.append((name, mode, mtime, data))


def expected_tree(root, prefix=""):
    entries = []
    for name in sorted(os.listdir(os.path.join(root, prefix) if prefix else root), key=os.fsencode):
        path = prefix + name
        full = os.path.join(root, path)
        status = os.lstat(full)
        if stat.S_ISDIR(status.st_mode):
            entries.append((path, status.st_mode, int(status.st_mtime), b""))
            entries += expected_tree(root, path + "/")
        elif stat.S_ISLNK(status.st_mode):
            entries.append((path, status.st_mode, int(status.st_mtime), os.fsencode(os.readlink(full))))
        else:
            with open(full, "rb") as file:
                entries.append((path, status.st_mode, int(status.st_mtime), file.read()))
    return entries


def parse_bundle(bundle):
    magic, count, reserved = struct.unpack_from("<8sII", bundle, 0)
    assert magic == b"KMODS001" and reserved == 0 and count <= 5, (magic, count, reserved)
    modules = {}
    order = []
    end = 16 + 64 * count
    for i in range(count):
        name, offset, size = struct.unpack_from("<48sQQ", bundle, 16 + 64 * i)
        name = name.split(b"\0", 1)[0].decode()
        assert offset % 8 == 0 and offset >= end and offset + size <= len(bundle), (name, offset, size)
        assert bundle[end:offset] == bytes(offset - end), "non-zero padding"
        modules[name] = bundle[offset:offset + size]
        order.append(name)
        end = offset + size
    assert end == len(bundle), (end, len(bundle))
    return order, modules


def parse_kvm_report(stdout, count):
    modules = {}
    order = []
    offset = 0
    for _ in range(count):
        name = stdout[offset:offset + 48].split(b"\0", 1)[0].decode()
        (size,) = struct.unpack_from("<Q", stdout, offset + 48)
        modules[name] = stdout[offset + 56:offset + 56 + size]
        order.append(name)
        offset += 56 + size
    return order, modules, stdout[offset:]


def main():
    kvm_usable = os.access("/dev/kvm", os.R_OK | os.W_OK)
    work = tempfile.mkdtemp(prefix="kernite-modules-")
    try:
        # The program: any bytes (the monitor does not parse it), an odd size.
        program = bytes(range(256)) * 19 + b"odd"
        with open(os.path.join(work, "prog.bin"), "wb") as file:
            file.write(program)
        root = os.path.join(work, "root")
        os.makedirs(os.path.join(root, "etc"))
        os.makedirs(os.path.join(root, "bin"))
        with open(os.path.join(root, "etc", "hostname"), "wb") as file:
            file.write(b"kernite\n")
        with open(os.path.join(root, "bin", "data"), "wb") as file:
            file.write(bytes(range(256)))
        os.chmod(os.path.join(root, "bin", "data"), 0o4750)
        os.symlink("../etc/hostname", os.path.join(root, "bin", "link"))
        for path, when in (("etc/hostname", 1_600_000_000), ("bin/data", 7), ("etc", 8), ("bin", 9)):
            os.utime(os.path.join(root, path), (when, when))

        app_arguments = ["--rootfs", root, "--env", "A=1", "--env", "HOME=/root", "--env", "A=2", "./prog.bin",
                         "--", "x", "y z", ""]
        argv = [b"./prog.bin", b"x", b"y z", b""]
        envp = [DEFAULT_ENV[0], b"HOME=/root", DEFAULT_ENV[2], b"A=2"]
        strings = b"".join(s + b"\0" for s in argv + envp)
        expected_args = struct.pack("<IIII", ARGS_MAGIC, len(argv), len(envp), len(strings)) + strings
        tree = expected_tree(root)

        def check_modules(modules, where):
            check(modules.get("program") == program, where + ": program module is the file, byte for byte")
            check(modules.get("args") == expected_args, where + ": args module: %r" % modules.get("args"))
            try:
                check(parse_newc(modules.get("rootfs", b"")) == tree, where + ": rootfs archive matches the tree")
            except (AssertionError, ValueError, UnicodeDecodeError) as error:
                check(False, where + ": rootfs archive does not parse: %r" % error)

        kvm_rootfs = None
        if kvm_usable:
            status, out, err = run(["--vmm", "kvm", "--kernel", FIXTURE, "--timeout", "60"] + app_arguments, work)
            if check(status == 3, "kvm: exit status %d, expected 3 (three modules); stderr %r" % (status, err)):
                order, modules, rest = parse_kvm_report(out, 3)
                check(order == ["program", "args", "rootfs"], "kvm: module order %r" % order)
                check_modules(modules, "kvm")
                check(rest == KVM_OUTPUT_STDOUT, "kvm: Output records on stdout: %r" % rest)
                check(err == KVM_OUTPUT_STDERR, "kvm: Output records on stderr: %r" % err)
                kvm_rootfs = modules.get("rootfs")

            # Without --rootfs there is no rootfs module; the fixture fails (80..85) on anything misplaced.
            status, out, err = run(["--vmm", "kvm", "--kernel", FIXTURE, "./prog.bin"], work)
            check(status == 2, "kvm without --rootfs: exit status %d, expected 2; %r" % (status, err))

            # Too little memory: refused before boot, saying how much is needed.
            with open(os.path.join(work, "big.bin"), "wb") as file:
                file.write(b"\x7f" * (3 << 20))
            status, out, err = run(["--vmm", "kvm", "--kernel", FIXTURE, "--mem", "4M", "./big.bin"], work)
            check(status == 127 and b"use --mem 8M or more" in err, "kvm --mem 4M: %d %r" % (status, err))
            status, out, err = run(["--vmm", "kvm", "--kernel", FIXTURE, "--mem", "8M", "./big.bin"], work)
            # Placed and checked (aligned, Reserved); 84: the fixture cannot echo 3 MiB through the console.
            check(status == 84, "kvm --mem 8M fits: %d %r" % (status, err))

            # A reader that went away: the Output hypercall stops the VM as SIGPIPE would.
            read_end, write_end = os.pipe()
            os.close(read_end)
            status, out, err = run(["--vmm", "kvm", "--kernel", FIXTURE, "./prog.bin"], work, stdout=write_end)
            os.close(write_end)
            check(status == 141 and b"EPIPE" in err, "kvm EPIPE: exit status %d, stderr %r" % (status, err))
        else:
            print("note: /dev/kvm is not usable here; the KVM half is skipped")

        # QEMU: one bundle, the seed first; the bundle file never has a name (TMPDIR stays empty).
        tmpdir = os.path.join(work, "tmpdir")
        os.mkdir(tmpdir)
        env = dict(os.environ, TMPDIR=tmpdir)
        qemu = ["--vmm", "qemu", "--kernel", FIXTURE, "--timeout", "120"]
        status, out, err = run(qemu + app_arguments, work, env=env, timeout=180)
        if check(status == 1, "qemu: exit status %d, expected 1 (one PVH module); stderr %r" % (status, err[-2000:])):
            try:
                order, modules = parse_bundle(out)
                check(order == ["seed", "program", "args", "rootfs"], "qemu: bundle order %r" % order)
                seed = modules.get("seed", b"")
                check(len(seed) == 40 and seed[:8] == b"KSEED001", "qemu: seed entry %r" % seed[:8])
                check_modules(modules, "qemu")
                if kvm_rootfs is not None:
                    check(modules.get("rootfs") == kvm_rootfs, "the rootfs archive is the same on both VMMs")
            except (AssertionError, struct.error) as error:
                check(False, "qemu: the bundle does not parse: %r" % error)
        check(os.listdir(tmpdir) == [], "qemu: files left in TMPDIR: %r" % os.listdir(tmpdir))

        status, out, err = run(qemu + ["--no-entropy-seed", "./prog.bin"], work, timeout=180)
        if check(status == 1, "qemu --no-entropy-seed: exit status %d; %r" % (status, err[-2000:])):
            order, modules = parse_bundle(out)
            check(order == ["program", "args"], "qemu --no-entropy-seed: bundle order %r" % order)
        status, out, err = run(qemu, work, timeout=180)
        if check(status == 1, "qemu without APP: exit status %d; %r" % (status, err[-2000:])):
            order, modules = parse_bundle(out)
            check(order == ["seed"], "qemu without APP: only the seed, got %r" % order)
        status, out, err = run(qemu + ["--no-entropy-seed"], work, timeout=180)
        check(status == 0 and out == b"", "qemu without modules passes no -initrd: %d %r" % (status, out[:100]))

        status, out, err = run(qemu + ["--mem", "4M", "./big.bin"] if kvm_usable else qemu + ["--mem", "2M",
                               "./prog.bin"], work)
        check(status == 127 and b"use --mem" in err, "qemu, too little memory: %d %r" % (status, err))

        read_end, write_end = os.pipe()
        os.close(read_end)
        status, out, err = run(qemu + ["./prog.bin"], work, stdout=write_end, timeout=180)
        os.close(write_end)
        check(status == 141 and b"EPIPE" in err, "qemu EPIPE: exit status %d, stderr %r" % (status, err[-2000:]))

        # Refusals before anything boots: exit 127 and one "kernite: " line naming the problem.
        os.mkfifo(os.path.join(work, "fifo"))
        open(os.path.join(work, "empty"), "wb").close()
        os.mkfifo(os.path.join(root, "etc", "pipe"))
        for arguments, message in (
                (["./missing"], b"kernite: cannot open the program ./missing: No such file or directory"),
                (["./empty"], b"kernite: the program ./empty is empty"),
                (["root"], b"kernite: the program root is a directory"),
                (["./fifo"], b"kernite: the program ./fifo is not a regular file"),
                (["--rootfs", root, "./prog.bin"], b"etc/pipe is a fifo"),
                (["--rootfs", os.path.join(work, "nope"), "./prog.bin"], b"No such file or directory"),
                (["--env", "A=1"], b"--rootfs and --env are for a program"),
                (["--env", "A", "./prog.bin"], b"--env needs NAME=VALUE"),
                (["--isolation", "ring0", "./prog.bin"], b"--isolation must be ring or none"),
        ):
            status, out, err = run(["--kernel", FIXTURE] + arguments, work, timeout=30)
            check(status == 127 and message in err and err.startswith(b"kernite: "),
                  "refusal %r: exit status %d, stderr %r" % (arguments, status, err))
    finally:
        subprocess.run(["rm", "-rf", work], check=False)

    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all module checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
