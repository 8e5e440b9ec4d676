// GDT, TSS and IDT (Intel SDM Vol. 3A §3.4.5 segment descriptors, §7.7 64-bit TSS, §6.14.1 IDT gates).
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::arch {

inline constexpr u16 kernel_code_selector = 0x08;
inline constexpr u16 kernel_data_selector = 0x10;
inline constexpr u16 user_data_selector = 0x18 | 3; // order required by SYSRET (SDM Vol. 2B SYSRET)
inline constexpr u16 user_code_selector = 0x20 | 3;
inline constexpr u16 tss_selector = 0x28;

// Interrupt Stack Table slots (1-based in the gate, SDM Vol. 3A §6.14.5). Each has its own guarded stack,
// so a kernel stack overflow (a #PF on the guard page) is handled on a good stack and reported.
enum class IstSlot : u8 {
    None = 0,
    PageFault = 1,
    DoubleFault = 2,
    Nmi = 3,
    MachineCheck = 4,
};
inline constexpr unsigned ist_slot_count = 4;

struct [[gnu::packed]] TaskStateSegment {
    u32 reserved0;
    u64 rsp[3];
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3;
    u16 io_map_base;
};
static_assert(sizeof(TaskStateSegment) == 104);

struct IdtGate {
    u16 offset_low;
    u16 selector;
    u8 ist;
    u8 type_attributes; // P | DPL | 0 | type (0xE: 64-bit interrupt gate)
    u16 offset_middle;
    u32 offset_high;
    u32 reserved;
};
static_assert(sizeof(IdtGate) == 16);

// Loads the GDT (with the TSS) and the IDT. `ist_stack_tops` gives the top of each IST slot's stack.
void load_descriptor_tables(u64 const (&ist_stack_tops)[ist_slot_count]);
// Makes `vector` (>= 32) deliverable. Boot-time only: the IDT is sealed read-only after boot.
void install_interrupt_gate(u8 vector);
// Isolation `none` (user_mode.h ProgramPrivilege::Ring0): every gate gets an IST stack and its ring-0 entry stub
// (ring0_entry.S); `transfer_stack_top` becomes IST5. Boot-time only, before the IDT is sealed.
void use_ring0_program_gates(u64 transfer_stack_top);
// Top of the stack the CPU switches to on an interrupt from ring 3 (TSS.RSP0).
void set_kernel_entry_stack(u64 top);

} // namespace kernite::arch
