// The local APIC of the boot CPU, as an interrupt controller (EOI, spurious vector) and as the one-shot timer
// behind sleeps and preemption (Intel SDM Vol. 3A chapter 11, "Advanced Programmable Interrupt Controller").
// Prefers x2APIC (MSR access, §11.12) over xAPIC (MMIO, §11.4.1), and the TSC-deadline timer (§11.5.4.1) over
// the one-shot count-down timer (§11.5.4) calibrated against the TSC.
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::arch::apic {

// Local APIC register offsets in the xAPIC page (SDM Vol. 3A Table 11-1). In x2APIC mode register `offset` is
// MSR 0x800 + offset / 16 (Table 11-6).
enum class Register : u32 {
    Id = 0x020,
    Version = 0x030,
    TaskPriority = 0x080,
    EndOfInterrupt = 0x0b0,
    SpuriousVector = 0x0f0,
    ErrorStatus = 0x280,
    LvtTimer = 0x320,
    LvtLint0 = 0x350,
    LvtLint1 = 0x360,
    LvtError = 0x370,
    TimerInitialCount = 0x380,
    TimerCurrentCount = 0x390,
    TimerDivideConfiguration = 0x3e0,
};

// IA32_APIC_BASE (SDM Vol. 3A §11.4.4, Figure 11-5; §11.12.1 for EXTD).
inline constexpr u32 msr_apic_base = 0x1b;
inline constexpr u64 apic_base_x2apic_enable = 1ull << 10; // EXTD
inline constexpr u64 apic_base_global_enable = 1ull << 11; // EN
inline constexpr u64 apic_base_address_mask = 0x000ffffffffff000ull;
// IA32_TSC_DEADLINE (SDM Vol. 3A §11.5.4.1): the timer fires when the TSC reaches it; writing 0 disarms.
inline constexpr u32 msr_tsc_deadline = 0x6e0;
inline constexpr u32 x2apic_msr_base = 0x800;

// Spurious-interrupt vector register (SDM Vol. 3A §11.9, Figure 11-23).
inline constexpr u32 svr_software_enable = 1u << 8;
// Local vector table entries (SDM Vol. 3A §11.5.1, Figure 11-8).
inline constexpr u32 lvt_masked = 1u << 16;
inline constexpr u32 lvt_timer_one_shot = 0b00u << 17;
inline constexpr u32 lvt_timer_tsc_deadline = 0b10u << 17;
// Divide configuration 1011b: divide by 1 (SDM Vol. 3A Figure 11-10).
inline constexpr u32 timer_divide_by_1 = 0b1011;

// CPUID.01H:ECX and EDX feature bits (SDM Vol. 2A Table 3-10, 3-11).
inline constexpr u32 cpuid1_ecx_x2apic = 1u << 21;
inline constexpr u32 cpuid1_ecx_tsc_deadline = 1u << 24;
inline constexpr u32 cpuid1_edx_apic = 1u << 9;

inline constexpr u8 spurious_vector = 0xff; // low 4 bits all ones, as P6-family CPUs require (§11.9)

enum class Mode : u8 { X2Apic, XApic };
enum class TimerMode : u8 { TscDeadline, OneShot };

// Enables the local APIC with the timer on `timer_vector` (masked until armed, one shot), accepts every
// priority, masks LINT0 (the 8259's ExtINT path). `tsc_khz` calibrates the one-shot fallback. `mask_legacy_pic`: also mask both 8259s through their
// ports, where the platform has them (QEMU); the Kernite monitor has no PIC and treats the ports as fatal.
ErrorOr<void> initialize(u8 timer_vector, u64 tsc_khz, bool mask_legacy_pic);

Mode mode();
TimerMode timer_mode();
char const* mode_name();
char const* timer_mode_name();

// Fires the timer vector once when the TSC reaches `tsc_deadline` (at once if it already has). In one-shot
// mode the deadline is converted to APIC ticks, rounded up and clamped, so it may fire late or, past the
// 32-bit counter, early: the handler compares against the TSC and re-arms.
void arm_timer(u64 tsc_deadline);
void cancel_timer();

// Must follow every interrupt the APIC delivered except the spurious vector (SDM Vol. 3A §11.8.5).
void end_of_interrupt();

} // namespace kernite::arch::apic
