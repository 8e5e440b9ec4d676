#include <arch/x86_64/cpu.h>
#include <arch/x86_64/descriptors.h>
#include <arch/x86_64/interrupts_disabled.h>
#include <arch/x86_64/trap_frame.h>
#include <arch/x86_64/user_mode.h>
#include <ktl/verify.h>

extern "C" {
void kernite_syscall_entry();
u64 arch_enter_user(u64 rip, u64 rsp, u64* saved_kernel_rsp);
[[noreturn]] void arch_leave_user(u64 saved_kernel_rsp, u64 value);
u64 arch_dispatch_syscall(kernite::arch::SyscallFrame* frame);

// Read by user_mode.S. One CPU, one user context at a time (user_mode.h).
u64 kernite_syscall_entry_stack;
u64 kernite_syscall_user_rsp;
}

namespace kernite::arch {

namespace {

// MSRs of SYSCALL/SYSRET (SDM Vol. 4 Table 2-2; Vol. 2B SYSCALL).
constexpr u32 msr_star = 0xc0000081;
constexpr u32 msr_lstar = 0xc0000082;
constexpr u32 msr_fmask = 0xc0000084;
constexpr u64 efer_sce = 1ull << 0;
constexpr u64 rflags_tf = 1ull << 8, rflags_if = 1ull << 9, rflags_df = 1ull << 10, rflags_ac = 1ull << 18;

SyscallHandler g_handler;
u64 g_saved_kernel_rsp;
bool g_in_user_mode;

bool is_user_address(u64 address) { return address >= 0x10000 && address < 0x0000800000000000ull; }

} // namespace

void initialize_user_mode(SyscallHandler handler)
{
    g_handler = handler;
    write_msr(msr_efer, read_msr(msr_efer) | efer_sce);
    // STAR[47:32]: SYSCALL loads CS = 0x08, SS = 0x10. STAR[63:48]: SYSRET to 64-bit loads CS = 0x10 + 16 = 0x20 | 3
    // and SS = 0x10 + 8 = 0x18 | 3: the user code and data selectors of descriptors.h, in the order SYSRET needs.
    static_assert(user_code_selector == (0x10 + 16 | 3) && user_data_selector == (0x10 + 8 | 3));
    write_msr(msr_star, (u64(0x10) << 48) | (u64(kernel_code_selector) << 32));
    write_msr(msr_lstar, reinterpret_cast<u64>(&kernite_syscall_entry));
    write_msr(msr_fmask, rflags_tf | rflags_if | rflags_df | rflags_ac);
}

u64 run_in_user_mode(u64 rip, u64 rsp, u64 entry_stack_top)
{
    VERIFY(g_handler && !g_in_user_mode);
    VERIFY(is_user_address(rip) && is_user_address(rsp) && entry_stack_top % 16 == 0);
    InterruptsDisabled guard;
    kernite_syscall_entry_stack = entry_stack_top;
    set_kernel_entry_stack(entry_stack_top);
    g_in_user_mode = true;
    u64 value = arch_enter_user(rip, rsp, &g_saved_kernel_rsp);
    g_in_user_mode = false;
    return value;
}

u64 g_syscalls_via_fault;

bool handle_syscall_from_fault(TrapFrame& frame, u64 fault_address)
{
    u64 entry = reinterpret_cast<u64>(&kernite_syscall_entry);
    if (!g_in_user_mode || (frame.cs & 3) != 3 || frame.rip != entry || fault_address != entry
        || !(frame.error_code & PageFaultInstructionFetch))
        return false;
    ++g_syscalls_via_fault;
    SyscallFrame call { frame.r9, frame.r8, frame.r10, frame.rdx, frame.rsi, frame.rdi, frame.rax, frame.rcx,
        frame.r11, frame.rsp };
    frame.rax = arch_dispatch_syscall(&call);
    // Back to the instruction after `syscall` with the user's flags, as SYSRET would (IF forced on, IOPL 0).
    frame.rip = call.rip;
    frame.rflags = (call.rflags & ~(3ull << 12)) | (1ull << 9) | 2;
    frame.rcx = call.rip;
    frame.r11 = call.rflags;
    frame.cs = user_code_selector;
    frame.ss = user_data_selector;
    return true;
}

u64 syscalls_via_fault() { return g_syscalls_via_fault; }

void leave_user_mode(u64 value)
{
    VERIFY(g_in_user_mode);
    arch_leave_user(g_saved_kernel_rsp, value);
}

} // namespace kernite::arch

extern "C" u64 arch_dispatch_syscall(kernite::arch::SyscallFrame* frame)
{
    u64 result = kernite::arch::g_handler(*frame);
    // SYSRET to a non-canonical RIP raises #GP in ring 0 on Intel CPUs (SDM Vol. 2B SYSRET): never return to one.
    if (!kernite::arch::is_user_address(frame->rip))
        kernite::arch::leave_user_mode(static_cast<u64>(-14));
    return result;
}
