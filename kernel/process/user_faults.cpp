// What happens when program code faults (arch::UserExceptionHandler): the Linux signal for the exception, with
// Linux's si_code and si_addr; if the program has no handler for it, it dies with an event that says which
// protection fired (issue 4 item 5): null-deref, wx-violation, stack-overflow (the guard page below a program
// stack), segmentation-fault, general-protection, invalid-opcode, arithmetic-fault.
#include <arch/x86_64/trap_frame.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/lib/format.h>
#include <kernel/process/memory.h>
#include <kernel/process/signals.h>
#include <kernel/process/user_faults.h>

namespace kernite::process {

namespace {

bool names_hlt(u64 rip)
{
    u8 opcode = 0;
    return arch::copy_from_user(&opcode, rip, 1) && opcode == 0xf4;
}

} // namespace

void handle_user_exception(arch::TrapFrame& frame, u64 fault_address)
{
    char message[abi::event_message_size];
    using arch::PageFaultInstructionFetch, arch::PageFaultPresent, arch::PageFaultWrite;
    switch (frame.vector) {
    case arch::PageFault: {
        u64 error = frame.error_code;
        char const* access = (error & PageFaultInstructionFetch) ? "execute" : (error & PageFaultWrite) ? "write" : "read";
        bool present = error & PageFaultPresent;
        auto kind = memory::classify_fault(fault_address);
        abi::EventType type = abi::EventType::SegmentationFault;
        i32 code = present ? linux_segv_accerr : linux_segv_maperr;
        if (fault_address < memory::null_guard_size) {
            type = abi::EventType::NullDeref;
            format(message, sizeof(message), "program %s of the null page at 0x%lx", access, fault_address);
        } else if (kind == memory::FaultKind::StackGuard) {
            type = abi::EventType::StackOverflow;
            format(message, sizeof(message), "program stack overflow: %s of the guard page at 0x%lx", access, fault_address);
        } else if (present || kind == memory::FaultKind::ProtectionViolation) {
            code = linux_segv_accerr;
            type = (error & (PageFaultInstructionFetch | PageFaultWrite)) ? abi::EventType::WxViolation
                                                                        : abi::EventType::SegmentationFault;
            format(message, sizeof(message), "program %s of %s memory at 0x%lx", access,
                (error & PageFaultInstructionFetch) ? "non-executable" : (error & PageFaultWrite) ? "read-only" : "inaccessible",
                fault_address);
        } else {
            format(message, sizeof(message), "program %s of unmapped memory at 0x%lx", access, fault_address);
        }
        signals::raise_fault(frame, SIGSEGV, code, fault_address, type, message);
        return;
    }
    case arch::InvalidOpcode:
        format(message, sizeof(message), "program executed an invalid instruction at 0x%lx", frame.rip);
        signals::raise_fault(frame, SIGILL, linux_ill_illopn, frame.rip, abi::EventType::InvalidOpcode, message);
        return;
    case arch::DivideError:
        format(message, sizeof(message), "program divided by zero at 0x%lx", frame.rip);
        signals::raise_fault(frame, SIGFPE, linux_fpe_intdiv, frame.rip, abi::EventType::ArithmeticFault, message);
        return;
    case arch::FloatingPoint:
    case arch::SimdFloatingPoint:
        format(message, sizeof(message), "program floating-point exception at 0x%lx", frame.rip);
        signals::raise_fault(frame, SIGFPE, linux_fpe_fltinv, frame.rip, abi::EventType::ArithmeticFault, message);
        return;
    case arch::AlignmentCheck:
        format(message, sizeof(message), "program misaligned access at 0x%lx", frame.rip);
        signals::raise_fault(frame, SIGBUS, linux_bus_adraln, frame.rip, abi::EventType::SegmentationFault, message);
        return;
    case arch::Breakpoint:
    case arch::Debug:
        format(message, sizeof(message), "program breakpoint at 0x%lx", frame.rip);
        signals::raise_fault(frame, SIGTRAP, linux_si_kernel, frame.rip, abi::EventType::InvalidOpcode, message);
        return;
    default:
        if (frame.vector == arch::GeneralProtection && names_hlt(frame.rip)) {
            // musl's a_crash() and glibc's abort() end in `hlt` (isolation `none` sees it through the watchdog,
            // arch/x86_64/user_mode.cpp): Linux sends SIGSEGV with SI_KERNEL, as for any #GP.
            format(message, sizeof(message), "program executed a privileged instruction (hlt) at 0x%lx", frame.rip);
            signals::raise_fault(frame, SIGSEGV, linux_si_kernel, 0, abi::EventType::GeneralProtection, message);
            return;
        }
        // #GP (privileged instructions such as musl's deliberate `hlt` crash, non-canonical addresses), #SS, #NP:
        // Linux sends SIGSEGV with SI_KERNEL and si_addr 0.
        format(message, sizeof(message), "program general protection fault (vector %lu, error 0x%lx) at 0x%lx",
            frame.vector, frame.error_code, frame.rip);
        signals::raise_fault(frame, SIGSEGV, linux_si_kernel, 0, abi::EventType::GeneralProtection, message);
        return;
    }
}

} // namespace kernite::process
