// The kernel image's section boundaries, from arch/x86_64/kernel.ld.
#pragma once

#include <ktl/types.h>

extern "C" {
extern char __kernel_start[], __kernel_end[];
extern char __text_start[], __text_end[];
extern char __rodata_start[], __rodata_end[];
extern char __rela_start[], __rela_end[];
extern char __relro_start[], __relro_end[];
extern char __ro_after_init_start[], __ro_after_init_end[];
extern char __data_start[];
extern char __bss_start[], __bss_end[];
extern char __boot_stack_guard[], __boot_stack_bottom[], __boot_stack_top[];
extern char __ist_stacks_start[], __ist_stacks_end[];
extern char __ksyms_start[], __ksyms_end[];
extern char __kernite_layout[], __kernite_layout_end[]; // the layout note's descriptor (kernel.ld)
}

// Marks data written only during boot; sealed read-only by mm::seal_ro_after_init().
#define __ro_after_init __attribute__((section(".data.ro_after_init")))

namespace kernite::image {

// The link-time address of __kernel_start (arch/x86_64/kernel.ld asserts it; kernel/mm/memory.cpp checks the
// relocated image against it at boot). Early boot relocates from here to the chosen virtual base.
inline constexpr u64 link_base = 0xffffffff80100000ull;

// The address a symbol has where the code runs now: its physical address during early boot (identity map),
// its virtual address afterwards. -fpie with hidden visibility makes every such reference RIP-relative.
inline u64 identity(char const* symbol) { return reinterpret_cast<u64>(symbol); }

// The IST stacks: `ist_stack_count` slots of [guard page][stack], from __ist_stacks_start (kernel.ld).
inline constexpr u64 ist_stack_count = 4;
inline constexpr u64 ist_guard_size = 4096;
inline constexpr u64 ist_stack_size = 8192;
inline constexpr u64 ist_slot_size = ist_guard_size + ist_stack_size;

inline bool contains(char const* start, char const* end, u64 address)
{
    return address >= reinterpret_cast<u64>(start) && address < reinterpret_cast<u64>(end);
}

} // namespace kernite::image
