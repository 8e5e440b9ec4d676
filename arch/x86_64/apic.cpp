// Local APIC driver (Intel SDM Vol. 3A chapter 11). One CPU, no IPIs yet: EOI, the spurious vector and a
// one-shot timer.
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/interrupts.h>
#include <kernel/boot/boot_params.h>
#include <kernel/mm/kernel_image.h>
#include <kernel/mm/memory.h>
#include <kernel/time/fixed_ratio.h>

namespace kernite::arch::apic {

namespace {

// Decided once at boot and sealed read-only afterwards: a stray write cannot redirect the APIC accesses.
__ro_after_init Mode g_mode;
__ro_after_init TimerMode g_timer_mode;
__ro_after_init u32 g_timer_vector;
__ro_after_init time::FixedRatio g_tsc_to_apic_ticks; // one-shot mode only

// 8259A ports: OCW1 (the interrupt mask) is a write to the data port (Intel 8259A datasheet).
constexpr u16 pic_master_data = 0x21;
constexpr u16 pic_slave_data = 0xa1;

// One-shot calibration window: long enough for a stable ratio, short enough not to show in boot time.
constexpr u64 calibration_ns = 100'000;

u32 volatile* mmio(Register reg) { return reinterpret_cast<u32 volatile*>(device_mmio_base + static_cast<u32>(reg)); }

u32 read(Register reg)
{
    if (g_mode == Mode::X2Apic)
        return static_cast<u32>(read_msr(x2apic_msr_base + (static_cast<u32>(reg) >> 4)));
    return *mmio(reg);
}

void write(Register reg, u32 value)
{
    if (g_mode == Mode::X2Apic)
        write_msr(x2apic_msr_base + (static_cast<u32>(reg) >> 4), value);
    else
        *mmio(reg) = value;
}

// The xAPIC page must be strong-uncacheable (SDM Vol. 3A §11.4.1: "mapped to ... UC"): PCD and PWT on the
// leaf select PAT entry 3, UC, with the power-on PAT (SDM Vol. 3A §12.12.3, Table 12-11). libs/paging has no
// cache attribute in its access flags, so the leaf is adjusted here after map() created it.
ErrorOr<void> make_uncacheable(u64 virt)
{
    auto* table = static_cast<paging::PageTableEntry*>(mm::phys_to_virt(mm::kernel_address_space().root()));
    for (unsigned level = 4; level > 1; --level) {
        auto const& entry = table[paging::table_index(virt, level)];
        if (!entry.is_present() || entry.is_huge())
            return Error::from_errno(EFAULT, "xAPIC page not mapped by a 4 KiB leaf");
        table = static_cast<paging::PageTableEntry*>(mm::phys_to_virt(entry.address()));
    }
    table[paging::table_index(virt, 1)].raw |= paging::PageTableEntry::cache_disable | paging::PageTableEntry::write_through;
    invalidate_page(virt);
    return {};
}

ErrorOr<void> map_xapic(u64 apic_base_msr)
{
    u64 phys = apic_base_msr & apic_base_address_mask;
    // Read and write, never execute (NX), global: the registers are the same in every address space.
    TRY(mm::kernel_address_space().map(device_mmio_base, phys, paging::page_size,
        paging::AccessRead | paging::AccessWrite | paging::AccessGlobal));
    TRY(make_uncacheable(device_mmio_base));
    return {};
}

// One-shot mode counts at the APIC bus (or crystal) rate, which no CPUID leaf reliably gives under a VMM:
// measure it against the TSC over a short window (SDM Vol. 3A §11.5.4 leaves the frequency model-specific).
ErrorOr<void> calibrate_one_shot(u64 tsc_khz)
{
    write(Register::TimerDivideConfiguration, timer_divide_by_1);
    write(Register::LvtTimer, lvt_masked | lvt_timer_one_shot | g_timer_vector);
    u64 window = time::TscConversion::make(tsc_khz).ns_to_ticks.scale_up(calibration_ns);
    write(Register::TimerInitialCount, 0xffffffffu);
    u64 start = read_tsc();
    u64 end = start;
    while (end - start < window)
        end = read_tsc();
    u32 remaining = read(Register::TimerCurrentCount);
    write(Register::TimerInitialCount, 0);
    u64 elapsed = 0xffffffffull - remaining;
    if (elapsed == 0)
        return Error::from_errno(ENODEV, "local APIC timer does not count");
    g_tsc_to_apic_ticks = time::FixedRatio::make(elapsed, end - start);
    if (!g_tsc_to_apic_ticks.valid())
        return Error::from_errno(ENODEV, "local APIC timer rate out of range");
    write(Register::LvtTimer, lvt_timer_one_shot | g_timer_vector);
    return {};
}

void handle_spurious(TrapFrame&)
{
    // No EOI for the spurious vector (SDM Vol. 3A §11.9): the APIC did not set an ISR bit for it.
}

} // namespace

ErrorOr<void> initialize(u8 timer_vector, u64 tsc_khz, bool mask_legacy_pic)
{
    auto features = cpuid(1);
    if (!(features.edx & cpuid1_edx_apic))
        return Error::from_errno(ENODEV, "no local APIC (CPUID.01H:EDX[9])");
    g_timer_vector = timer_vector;

    // The legacy PICs would deliver through LINT0 as ExtINT at vectors the firmware never set up (0..15
    // overlap exceptions under PVH): mask every line on both (OCW1), and LINT0 below.
    if (mask_legacy_pic) {
        outb(pic_master_data, 0xff);
        outb(pic_slave_data, 0xff);
    }

    // Global enable first; EXTD may only be set with EN set (SDM Vol. 3A §11.12.5, Figure 11-27 transitions).
    u64 base = read_msr(msr_apic_base) | apic_base_global_enable;
    write_msr(msr_apic_base, base);
    if (features.ecx & cpuid1_ecx_x2apic) {
        write_msr(msr_apic_base, base | apic_base_x2apic_enable);
        g_mode = Mode::X2Apic;
    } else {
        TRY(map_xapic(base));
        g_mode = Mode::XApic;
    }

    if (!register_interrupt_handler(spurious_vector, handle_spurious))
        return Error::from_errno(EBUSY, "spurious vector taken");

    write(Register::TaskPriority, 0); // accept every priority class (SDM Vol. 3A §11.8.3.1)
    write(Register::LvtLint0, lvt_masked);
    write(Register::LvtError, lvt_masked);
    write(Register::SpuriousVector, svr_software_enable | spurious_vector);

    if (features.ecx & cpuid1_ecx_tsc_deadline) {
        g_timer_mode = TimerMode::TscDeadline;
        write(Register::LvtTimer, lvt_timer_tsc_deadline | timer_vector);
        // SDM Vol. 3A §11.5.4.1: the LVT write that selects TSC-deadline mode must be ordered before any
        // WRMSR to IA32_TSC_DEADLINE (MFENCE in xAPIC mode; harmless in x2APIC mode).
        asm volatile("mfence" ::: "memory");
        write_msr(msr_tsc_deadline, 0);
    } else {
        g_timer_mode = TimerMode::OneShot;
        TRY(calibrate_one_shot(tsc_khz));
    }
    return {};
}

Mode mode() { return g_mode; }
TimerMode timer_mode() { return g_timer_mode; }
char const* mode_name() { return g_mode == Mode::X2Apic ? "x2apic" : "xapic"; }
char const* timer_mode_name() { return g_timer_mode == TimerMode::TscDeadline ? "tsc-deadline" : "one-shot"; }

void arm_timer(u64 tsc_deadline)
{
    if (g_timer_mode == TimerMode::TscDeadline) {
        write_msr(msr_tsc_deadline, tsc_deadline == 0 ? 1 : tsc_deadline); // 0 would disarm
        return;
    }
    u64 now = read_tsc();
    u64 ticks = tsc_deadline > now ? g_tsc_to_apic_ticks.scale_up(tsc_deadline - now) : 1;
    // The count is 32 bits: a far deadline fires early and is re-armed by the handler.
    write(Register::TimerInitialCount, static_cast<u32>(ticks > 0xffffffffull ? 0xffffffffull : (ticks == 0 ? 1 : ticks)));
}

void cancel_timer()
{
    if (g_timer_mode == TimerMode::TscDeadline)
        write_msr(msr_tsc_deadline, 0);
    else
        write(Register::TimerInitialCount, 0); // a zero initial count stops the timer (SDM Vol. 3A §11.5.4)
}

void end_of_interrupt() { write(Register::EndOfInterrupt, 0); } // x2APIC: any non-zero value #GPs (§11.12.1.2)

} // namespace kernite::arch::apic
