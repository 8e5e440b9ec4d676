#include <arch/x86_64/cpu.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/debug/symbols.h>
#include <kernel/lib/format.h>
#include <kernel/lib/log.h>
#include <kernel/mm/kernel_image.h>
#include <kernel/mm/heap_faults.h>
#include <kernel/mm/memory.h>
#include <kernel/security/events.h>
#include <kernel/security/kernel_faults.h>
#include <paging/address_space.h>

namespace kernite::security {

namespace {

using arch::TrapFrame;

char const* region_of(u64 address)
{
    if (image::contains(__text_start, __text_end, address))
        return "kernel text";
    if (image::contains(__rodata_start, __rodata_end, address))
        return "kernel rodata";
    if (image::contains(__relro_start, __relro_end, address))
        return "kernel relro data";
    if (image::contains(__ro_after_init_start, __ro_after_init_end, address))
        return "ro-after-init data";
    if (image::contains(__data_start, __bss_end, address))
        return "kernel data/bss";
    if (address >= direct_map_base && address < kernel_stacks_base)
        return "direct map (heap)";
    if (address >= kernel_stacks_base && address < kernel_heap_base)
        return "kernel stack";
    if (address >= kernel_heap_base && address < device_mmio_base)
        return "large heap allocation (guard or freed)";
    return "memory";
}

void print_registers(TrapFrame const& f)
{
    klog("  rip %016lx  rsp %016lx  rflags %016lx  cs %lx ss %lx", f.rip, f.rsp, f.rflags, f.cs, f.ss);
    klog("  rax %016lx  rbx %016lx  rcx %016lx  rdx %016lx", f.rax, f.rbx, f.rcx, f.rdx);
    klog("  rsi %016lx  rdi %016lx  rbp %016lx  r8  %016lx", f.rsi, f.rdi, f.rbp, f.r8);
    klog("  r9  %016lx  r10 %016lx  r11 %016lx  r12 %016lx", f.r9, f.r10, f.r11, f.r12);
    klog("  r13 %016lx  r14 %016lx  r15 %016lx  cr2 %016lx", f.r13, f.r14, f.r15, arch::read_cr2());
    klog("  vector %lu error %lx cr3 %016lx", f.vector, f.error_code, arch::read_cr3());
}

[[noreturn]] void page_fault(TrapFrame& frame)
{
    u64 address = arch::read_cr2();
    u64 error = frame.error_code;
    char const* access = (error & arch::PageFaultInstructionFetch) ? "execute"
        : (error & arch::PageFaultWrite)                            ? "write"
                                                                    : "read";
    char message[abi::event_message_size];
    EventDetails details { frame.rip, address, true, true };
    abi::EventType type = abi::EventType::KernelFault;

    // An instruction fetch from data or from page 0 is usually a call through a bad pointer, which leaves its
    // return address at RSP: name that caller, since RIP (data, or 0) cannot be symbolized.
    char caller[80] = "";
    if (error & arch::PageFaultInstructionFetch) {
        u64 return_address = 0;
        if (frame.rsp % 8 == 0 && !mm::kernel_address_space().translate(frame.rsp).is_error())
            return_address = *reinterpret_cast<u64 const*>(frame.rsp);
        char symbol[64];
        if (return_address != 0 && debug::symbolize(return_address, symbol, sizeof(symbol)))
            format(caller, sizeof(caller), ", called from %s", symbol);
        else
            format(caller, sizeof(caller), ", called from 0x%lx", return_address);
    }

    if (address < paging::null_guard_size) {
        type = abi::EventType::NullDeref;
        format(message, sizeof(message), "kernel %s of null page address 0x%lx%s", access, address, caller);
    } else if (mm::is_stack_guard(address)) {
        type = abi::EventType::StackOverflow;
        format(message, sizeof(message), "kernel stack overflow: %s of guard page at 0x%lx", access, address);
    } else if (auto heap_fault = mm::classify_heap_fault(address); heap_fault != mm::HeapFault::None) {
        bool freed = heap_fault == mm::HeapFault::Freed;
        type = freed ? abi::EventType::UseAfterFree : abi::EventType::HeapCorruption;
        char site[96];
        mm::describe_heap_fault(address, site, sizeof(site));
        format(message, sizeof(message), freed ? "%s of freed heap memory at 0x%lx%s"
                                               : "heap overflow: %s of a heap guard page at 0x%lx%s",
            access, address, site);
    } else if ((error & arch::PageFaultPresent) && (error & arch::PageFaultInstructionFetch)) {
        type = abi::EventType::WxViolation;
        format(message, sizeof(message), "execute of non-executable %s at 0x%lx%s", region_of(address), address, caller);
    } else if ((error & arch::PageFaultPresent) && (error & arch::PageFaultWrite)) {
        type = abi::EventType::WxViolation;
        format(message, sizeof(message), "write to read-only %s at 0x%lx", region_of(address), address);
    } else {
        format(message, sizeof(message), "kernel page fault: %s of unmapped %s at 0x%lx (error 0x%lx)", access,
            region_of(address), address, error);
    }
    print_registers(frame);
    stop(type, message, details, frame.rbp);
}

} // namespace

void handle_kernel_exception(TrapFrame& frame)
{
    char message[abi::event_message_size];
    EventDetails details { frame.rip, 0, true, false };
    switch (frame.vector) {
    case arch::PageFault:
        page_fault(frame);
    case arch::GeneralProtection:
        print_registers(frame);
        format(message, sizeof(message), "general protection fault in the kernel (error 0x%lx)", frame.error_code);
        stop(abi::EventType::GeneralProtection, message, details, frame.rbp);
    case arch::InvalidOpcode:
        print_registers(frame);
        stop(abi::EventType::InvalidOpcode, "invalid opcode in the kernel", details, frame.rbp);
    case arch::SegmentNotPresent:
        print_registers(frame);
        if (frame.error_code & 2) {
            // Error code bit 1 (IDT): a not-present gate (SDM Vol. 3A §6.13). Only registered vectors have gates.
            format(message, sizeof(message), "interrupt on vector %lu, which has no handler", frame.error_code >> 3);
        } else {
            format(message, sizeof(message), "segment not present (error 0x%lx)", frame.error_code);
        }
        stop(abi::EventType::KernelFault, message, details, frame.rbp);
    case arch::DoubleFault:
        print_registers(frame);
        stop(abi::EventType::KernelFault, "double fault", details, 0);
    default:
        print_registers(frame);
        format(message, sizeof(message), "kernel exception %lu (error 0x%lx)", frame.vector, frame.error_code);
        stop(abi::EventType::KernelFault, message, details, frame.rbp);
    }
}

} // namespace kernite::security
