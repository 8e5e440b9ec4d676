#!/usr/bin/env bash
# Make a malformed kernel image from a real one, for the monitor's loader tests (tests/guest/CMakeLists.txt).
#
#   make-malformed.sh KIND SOURCE.elf OUTPUT
#   make-malformed.sh --list
#
# Each KIND breaks exactly one thing in a copy of SOURCE (an ELF64 x86-64 image); the monitor must refuse the
# result with exit status 127 and a "kernite: " message, never hang, crash or start the VM.
# Offsets are from the ELF-64 Object File Format / System V gABI: e_entry at 24, e_phoff at 32, e_phentsize
# at 54, e_phnum at 56; in a program header p_type at 0, p_flags at 4, p_offset at 8, p_vaddr at 16,
# p_filesz at 32, p_memsz at 40.
set -euo pipefail

kinds=(
    empty             # zero-byte file
    truncated-100     # only the first 100 bytes (ELF header cut short, no program headers)
    truncated-segment # cut in the middle of the largest PT_LOAD's file contents
    not-elf-text      # a text file
    not-elf-random    # random bytes
    elfclass32        # EI_CLASS = ELFCLASS32
    wrong-machine     # e_machine = EM_AARCH64
    wx-segment        # first PT_LOAD gets PF_R|PF_W|PF_X
    absurd-memsz      # first PT_LOAD p_memsz = 0xffffffffffff0000 (overflows any address computation)
    filesz-gt-memsz   # first PT_LOAD p_filesz > p_memsz
    phoff-past-end    # e_phoff beyond the end of the file
    phoff-overflow    # e_phoff + e_phnum * e_phentsize wraps around 2^64
    no-phdrs          # e_phnum = 0: nothing to load
    entry-outside     # e_entry above every segment
    nonexistent       # OUTPUT is not created at all
)

die()
{
    echo "make-malformed: error: $*" >&2
    exit 2
}

if [[ ${1:-} == --list ]]; then
    printf '%s\n' "${kinds[@]}"
    exit 0
fi
[[ $# -eq 3 ]] || die "usage: $0 KIND SOURCE.elf OUTPUT | --list"
kind=$1 source=$2 output=$3

# Little-endian integer of SIZE bytes at OFFSET, printed as 0x<hex> (od reads in the host's order: x86-64 is
# LE). Hex, because bash arithmetic is signed 64-bit: decimal values >= 2^63 (kernel virtual addresses) would be
# mangled, while 0xffffffff80000000-style constants wrap to the right two's-complement value.
read_uint()
{
    local file=$1 offset=$2 size=$3 value
    value=$(od -An -v -t "x$size" -j "$offset" -N "$size" "$file" | tr -d ' \n')
    [[ -n $value ]] || die "cannot read $size bytes at offset $offset of $file"
    echo "0x$value"
}

# Unsigned A > B on 64-bit values (bash compares signed: flip the sign bit of both).
unsigned_greater()
{
    (((${1} ^ (1 << 63)) > (${2} ^ (1 << 63))))
}

# Write VALUE (bash 64-bit arithmetic, so 0xffffffffffff0000 works) as SIZE little-endian bytes at OFFSET.
write_uint()
{
    local file=$1 offset=$2 size=$3 value=$4 bytes="" i
    for ((i = 0; i < size; i++)); do
        bytes+=$(printf '\\x%02x' $(((value >> (8 * i)) & 0xff)))
    done
    # shellcheck disable=SC2059 # the format is the escaped byte string built above
    printf "$bytes" | dd of="$file" bs=1 seek="$offset" conv=notrunc status=none
}

# Index of the first PT_LOAD program header, and of the one with the largest p_filesz.
phdr_offset()
{
    echo $((phoff + $1 * phentsize))
}

first_load()
{
    local i
    for ((i = 0; i < phnum; i++)); do
        if [[ $(read_uint "$source" "$(phdr_offset "$i")" 4) -eq 1 ]]; then
            echo "$i"
            return
        fi
    done
    die "$source has no PT_LOAD program header"
}

[[ -f $source ]] || die "source image $source does not exist (run make build)"
[[ $(head -c 4 "$source" | od -An -t x1 | tr -d ' \n') == 7f454c46 ]] || die "$source is not an ELF file"
[[ $(read_uint "$source" 4 1) -eq 2 ]] || die "$source is not ELFCLASS64"
[[ $(read_uint "$source" 18 2) -eq 62 ]] || die "$source is not EM_X86_64"

size=$(stat -c %s "$source")
phoff=$(read_uint "$source" 32 8)
phentsize=$(read_uint "$source" 54 2)
phnum=$(read_uint "$source" 56 2)
((phentsize == 56)) || die "$source: unexpected e_phentsize $phentsize"
((phoff + phnum * phentsize <= size)) || die "$source: program headers past the end of the file"

rm -f "$output"
if [[ $kind != nonexistent && $kind != empty && $kind != not-elf-* && $kind != truncated-* ]]; then
    cp "$source" "$output"
fi

case $kind in
empty)
    : >"$output"
    ;;
truncated-100)
    head -c 100 "$source" >"$output"
    ;;
truncated-segment)
    best=-1 best_filesz=0
    for ((i = 0; i < phnum; i++)); do
        ph=$(phdr_offset "$i")
        if [[ $(read_uint "$source" "$ph" 4) -eq 1 ]]; then
            filesz=$(read_uint "$source" $((ph + 32)) 8)
            if ((filesz > best_filesz)); then
                best=$i best_filesz=$filesz
            fi
        fi
    done
    ((best >= 0 && best_filesz >= 2)) || die "$source has no PT_LOAD with file contents"
    ph=$(phdr_offset "$best")
    cut=$(($(read_uint "$source" $((ph + 8)) 8) + best_filesz / 2))
    ((cut > phoff + phnum * phentsize)) || die "$source: segment middle lies before the program headers"
    head -c "$cut" "$source" >"$output"
    ;;
not-elf-text)
    printf 'This is not a kernel image.\nkernite must refuse it.\n' >"$output"
    ;;
not-elf-random)
    { printf 'RAND'; head -c 8188 /dev/urandom; } >"$output"
    ;;
elfclass32)
    write_uint "$output" 4 1 1
    ;;
wrong-machine)
    write_uint "$output" 18 2 183
    ;;
wx-segment)
    write_uint "$output" $(($(phdr_offset "$(first_load)") + 4)) 4 7
    ;;
absurd-memsz)
    write_uint "$output" $(($(phdr_offset "$(first_load)") + 40)) 8 0xffffffffffff0000
    ;;
filesz-gt-memsz)
    ph=$(phdr_offset "$(first_load)")
    write_uint "$output" $((ph + 32)) 8 $(($(read_uint "$source" $((ph + 40)) 8) + 0x1000))
    ;;
phoff-past-end)
    write_uint "$output" 32 8 $((size + 0x1000))
    ;;
phoff-overflow)
    write_uint "$output" 32 8 0xffffffffffffff00
    ;;
no-phdrs)
    write_uint "$output" 56 2 0
    ;;
entry-outside)
    # One page-aligned megabyte above the highest end of any PT_LOAD.
    top=0
    for ((i = 0; i < phnum; i++)); do
        ph=$(phdr_offset "$i")
        if [[ $(read_uint "$source" "$ph" 4) -eq 1 ]]; then
            end=$(($(read_uint "$source" $((ph + 16)) 8) + $(read_uint "$source" $((ph + 40)) 8)))
            if unsigned_greater "$end" "$top"; then
                top=$end
            fi
        fi
    done
    write_uint "$output" 24 8 $(((top + 0x100000) & ~0xfff))
    ;;
nonexistent) ;;
*)
    die "unknown kind '$kind' (see --list)"
    ;;
esac
