#include <arch/x86_64/descriptors.h>
#include <arch/x86_64/trap_frame.h>

extern "C" u64 const kernite_trap_stubs[256];
extern "C" u64 const kernite_ring0_trap_stubs[256];

namespace kernite::arch {

namespace {

struct [[gnu::packed]] DescriptorPointer {
    u16 limit;
    u64 base;
};

TaskStateSegment g_tss;

// null, kernel code, kernel data, user data, user code, TSS (two slots).
__attribute__((section(".data.ro_after_init"))) u64 g_gdt[7] = {
    0,
    0x00af9a000000ffff, // 64-bit code, DPL 0
    0x00cf92000000ffff, // data, DPL 0
    0x00cff2000000ffff, // data, DPL 3
    0x00affa000000ffff, // 64-bit code, DPL 3
    0,
    0,
};

__attribute__((section(".data.ro_after_init"))) IdtGate g_idt[256];
__attribute__((section(".data.ro_after_init"))) bool g_ring0_programs;

// IST5 (1-based in the gate): ring0_entry.S's transfer stack.
constexpr u8 transfer_ist = 5;

IstSlot ist_for(u64 vector)
{
    switch (vector) {
    case PageFault: return IstSlot::PageFault;
    case DoubleFault: return IstSlot::DoubleFault;
    case Nmi: return IstSlot::Nmi;
    case MachineCheck: return IstSlot::MachineCheck;
    default: return IstSlot::None;
    }
}

void install_gate(u64 vector)
{
    u64 handler = kernite_trap_stubs[vector];
    u8 ist = static_cast<u8>(ist_for(vector));
    if (g_ring0_programs && (ist == 0 || vector == PageFault)) {
        // A ring-0 program: no gate may push onto the program's stack (ring0_entry.S). #DF, NMI and #MC keep
        // their stacks and their stubs: they are the kernel's whatever they interrupt.
        handler = kernite_ring0_trap_stubs[vector];
        if (ist == 0)
            ist = transfer_ist;
    }
    auto& gate = g_idt[vector];
    gate.offset_low = handler & 0xffff;
    gate.selector = kernel_code_selector;
    gate.ist = ist;
    gate.type_attributes = 0x8e; // present, DPL 0, 64-bit interrupt gate: interrupts off on entry
    gate.offset_middle = (handler >> 16) & 0xffff;
    gate.offset_high = static_cast<u32>(handler >> 32);
    gate.reserved = 0;
}

} // namespace

void install_interrupt_gate(u8 vector)
{
    VERIFY(vector >= FirstIrq);
    install_gate(vector);
}

void load_descriptor_tables(u64 const (&ist_stack_tops)[ist_slot_count])
{
    for (unsigned i = 0; i < ist_slot_count; ++i)
        g_tss.ist[i] = ist_stack_tops[i];
    g_tss.io_map_base = sizeof(TaskStateSegment); // no I/O permission bitmap: ring 3 gets no port access

    // 64-bit TSS descriptor (SDM Vol. 3A §7.2.3, Figure 7-4): type 0x9 (available), present.
    u64 base = reinterpret_cast<u64>(&g_tss);
    u64 limit = sizeof(TaskStateSegment) - 1;
    g_gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) | (((limit >> 16) & 0xf) << 48)
        | (((base >> 24) & 0xff) << 56);
    g_gdt[6] = base >> 32;

    // Exceptions only. Interrupt vectors get their gate when a handler is registered (install_interrupt_gate),
    // all during boot, before the IDT is sealed read-only. An interrupt on any other vector finds a
    // not-present gate and raises #NP, which the fault handler reports: nothing arrives unannounced. (Filling
    // all 256 gates cost ~4 ms of boot where guest ring 0 is emulated, docs/platform-notes.md.)
    for (u64 vector = 0; vector < FirstIrq; ++vector)
        install_gate(vector);

    DescriptorPointer gdtr { sizeof(g_gdt) - 1, reinterpret_cast<u64>(g_gdt) };
    DescriptorPointer idtr { sizeof(g_idt) - 1, reinterpret_cast<u64>(g_idt) };
    asm volatile(
        "lgdt %0\n"
        "pushq %1\n"
        "leaq 1f(%%rip), %%rax\n"
        "pushq %%rax\n"
        "lretq\n"
        "1:\n"
        "movw %w2, %%ax\n"
        "movw %%ax, %%ds\n"
        "movw %%ax, %%es\n"
        "movw %%ax, %%ss\n"
        "xorl %%eax, %%eax\n"
        "movw %%ax, %%fs\n"
        "movw %%ax, %%gs\n"
        "ltr %w3\n"
        "lidt %4\n"
        :
        : "m"(gdtr), "i"(kernel_code_selector), "r"(kernel_data_selector), "r"(tss_selector), "m"(idtr)
        : "rax", "memory");
}

void use_ring0_program_gates(u64 transfer_stack_top)
{
    g_ring0_programs = true;
    g_tss.ist[transfer_ist - 1] = transfer_stack_top;
    for (u64 vector = 0; vector < 256; ++vector) {
        if (vector < FirstIrq || g_idt[vector].type_attributes != 0)
            install_gate(vector);
    }
}

void set_kernel_entry_stack(u64 top) { g_tss.rsp[0] = top; }

} // namespace kernite::arch
