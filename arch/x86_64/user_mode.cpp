#include <arch/x86_64/cpu.h>
#include <arch/x86_64/descriptors.h>
#include <arch/x86_64/trap_frame.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/security/kasan.h>
#include <ktl/verify.h>
#include <x86/instruction_length.h>

extern "C" {
void kernite_syscall_entry();
void kernite_syscall_entry_ring0();
[[noreturn]] void arch_enter_user(kernite::arch::TrapFrame* frame);
[[noreturn]] void arch_enter_program_ring0(kernite::arch::TrapFrame* frame);
extern char kernite_transfer_stack_top[];
i64 arch_copy_user(void* destination, void const* source, u64 length);
i64 arch_clear_user(void* destination, u64 length);
i64 arch_copy_string_user(char* destination, char const* source, u64 capacity);
extern char kernite_user_copy_start[], kernite_user_copy_end[], kernite_user_copy_fault[];

// Read by user_mode.S and interrupts.S. One CPU: the entry stack is the current thread's kernel stack top.
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
constexpr u64 rflags_cf = 1ull << 0, rflags_pf = 1ull << 2, rflags_af = 1ull << 4, rflags_zf = 1ull << 6,
              rflags_sf = 1ull << 7, rflags_tf = 1ull << 8, rflags_if = 1ull << 9, rflags_df = 1ull << 10,
              rflags_of = 1ull << 11, rflags_ac = 1ull << 18;
// What a program may set through rt_sigreturn (Linux FIX_EFLAGS minus TF: we do not single-step programs).
constexpr u64 user_settable_flags
    = rflags_cf | rflags_pf | rflags_af | rflags_zf | rflags_sf | rflags_df | rflags_of | rflags_ac;
// CR0.MP/EM/TS and CR4.OSFXSR/OSXMMEXCPT (SDM Vol. 3A §13.1): SSE for programs, #XM for SIMD exceptions.
constexpr u64 cr0_mp = 1ull << 1, cr0_em = 1ull << 2, cr0_ts = 1ull << 3;
constexpr u64 cr4_osfxsr = 1ull << 9, cr4_osxmmexcpt = 1ull << 10;

SyscallHandler g_syscall;
ReturnToUserHook g_return_hook;
UserExceptionHandler g_user_exception;
UserPageFaultResolver g_resolver;
u64 g_syscalls_via_fault;
__attribute__((section(".data.ro_after_init"))) ProgramPrivilege g_privilege = ProgramPrivilege::Ring3;
bool g_ring0_prot_none_faults;

u16 program_code_selector() { return g_privilege == ProgramPrivilege::Ring0 ? kernel_code_selector : user_code_selector; }
u16 program_data_selector() { return g_privilege == ProgramPrivilege::Ring0 ? kernel_data_selector : user_data_selector; }

// Isolation `none`: a program's `hlt` runs with privilege and halts the CPU until the next interrupt, where Linux
// (ring 3) raises #GP. The interrupt that ends the halt returns right after it, so an interrupt of program code
// whose return address R follows a 0xF4 byte is a candidate; about 0.1% of a compiled program's instructions
// also end in 0xF4 (a disp8 of -12, a ModRM or SIB byte), so the candidate is confirmed by decoding the code
// before R from 16 starts (libs/x86 ends_with_hlt_at: compiled code resynchronizes within a few instructions):
// a real `hlt` is turned into the #GP ring 3 would have raised at it. The scheduler keeps a timer armed while a
// ring-0 program runs (sched::set_program_halt_watchdog_ns), so such a halt always ends.
// Limits (docs/security-model.md "Isolation none"): hand-written code that hides a 0xF4 in data the decoder
// takes for instructions, or jumps into the middle of an instruction, can fool the vote either way.
HltDetection g_hlt_detection;
constexpr usize hlt_window = 64;  // code bytes decoded before the candidate
constexpr usize hlt_starts = 16;  // decodes from offsets 0..15 of the window
constexpr usize hlt_quorum = 3;   // at least this many must land on the 0xF4, and more than walk over it

bool returns_after_hlt(TrapFrame const& frame)
{
    if (frame.rip <= user_space_floor + 1 || frame.rip > user_space_end)
        return false;
    u64 target = frame.rip - 1;
    u8 byte = 0;
    if (arch_copy_user(&byte, reinterpret_cast<void const*>(target), 1) != 1 || byte != x86::hlt_opcode)
        return false;
    ++g_hlt_detection.candidates;
    // The window [target - before, target]; if the bytes before the page of the 0xF4 are not readable, start at
    // that page (program code is mapped page by page).
    u8 window[hlt_window + 1];
    u64 before = target - user_space_floor < hlt_window ? target - user_space_floor : hlt_window;
    if (arch_copy_user(window, reinterpret_cast<void const*>(target - before), before + 1) != 1) {
        before = target & 0xfff;
        if (arch_copy_user(window, reinterpret_cast<void const*>(target - before), before + 1) != 1)
            return false;
    }
    bool hlt = x86::ends_with_hlt_at(window, before + 1, before, hlt_starts, before < hlt_quorum ? 1 : hlt_quorum);
    g_hlt_detection.confirmed += hlt;
    return hlt;
}

alignas(16) u8 g_initial_fpu_state[fpu_state_size];

bool in_user_copy(u64 rip)
{
    return rip >= reinterpret_cast<u64>(kernite_user_copy_start) && rip < reinterpret_cast<u64>(kernite_user_copy_end);
}

void serve_syscall(TrapFrame& frame)
{
    enable_interrupts();
    g_syscall(frame);
    disable_interrupts();
}

} // namespace

void select_program_privilege(ProgramPrivilege privilege)
{
    g_privilege = privilege;
    if (privilege == ProgramPrivilege::Ring0)
        use_ring0_program_gates(reinterpret_cast<u64>(kernite_transfer_stack_top));
}

ProgramPrivilege program_privilege() { return g_privilege; }

bool is_program_frame(TrapFrame const& frame)
{
    if (g_privilege == ProgramPrivilege::Ring3)
        return (frame.cs & 3) == 3;
    return &frame == user_frame(kernite_syscall_entry_stack);
}

bool ring0_prot_none_faults() { return g_ring0_prot_none_faults; }

HltDetection hlt_detection() { return g_hlt_detection; }

void initialize_user_mode(SyscallHandler syscall, ReturnToUserHook hook, UserExceptionHandler exception,
    UserPageFaultResolver resolver)
{
    g_syscall = syscall;
    g_return_hook = hook;
    g_user_exception = exception;
    g_resolver = resolver;
    write_msr(msr_efer, read_msr(msr_efer) | efer_sce);
    // STAR[47:32]: SYSCALL loads CS = 0x08, SS = 0x10. STAR[63:48]: SYSRET would load CS = 0x10 + 16 = 0x20 | 3
    // and SS = 0x10 + 8 = 0x18 | 3 (we return with iretq, but keep STAR consistent with descriptors.h).
    static_assert(user_code_selector == ((0x10 + 16) | 3) && user_data_selector == ((0x10 + 8) | 3));
    write_msr(msr_star, (u64(0x10) << 48) | (u64(kernel_code_selector) << 32));
    bool ring0 = g_privilege == ProgramPrivilege::Ring0;
    write_msr(msr_lstar, reinterpret_cast<u64>(ring0 ? &kernite_syscall_entry_ring0 : &kernite_syscall_entry));
    if (ring0) {
        // CPUID.(EAX=7,ECX=0):EBX bit 7 SMEP, bit 20 SMAP (SDM Vol. 2A CPUID). In this mode the only user pages
        // are the program's PROT_NONE pages, which both make inaccessible to ring 0; the kernel's own accesses
        // go to supervisor pages, so it needs no STAC/CLAC.
        auto leaf7 = cpuid(7, 0);
        if ((leaf7.ebx & (1u << 7)) && (leaf7.ebx & (1u << 20))) {
            write_cr4(read_cr4() | cr4_smep | cr4_smap);
            g_ring0_prot_none_faults = true;
        }
    }
    write_msr(msr_fmask, rflags_tf | rflags_if | rflags_df | rflags_ac);
    u64 cr0 = read_cr0();
    asm volatile("mov %0, %%cr0" ::"r"((cr0 | cr0_mp) & ~(cr0_em | cr0_ts)) : "memory");
    write_cr4(read_cr4() | cr4_osfxsr | cr4_osxmmexcpt);
    // The initial FPU state, written in FXSAVE layout (SDM Vol. 1 Table 10-2) rather than produced by FNINIT and
    // LDMXCSR, which the ring-0 emulator of PVM cannot run: FCW 0x37f (x87 defaults, all exceptions masked),
    // abridged tag word 0 (all empty), MXCSR 0x1f80 (all SIMD exceptions masked, round to nearest), as Linux.
    __builtin_memset(g_initial_fpu_state, 0, fpu_state_size);
    u16 fcw = 0x37f;
    u32 mxcsr = 0x1f80;
    __builtin_memcpy(g_initial_fpu_state + 0, &fcw, sizeof(fcw));
    __builtin_memcpy(g_initial_fpu_state + 24, &mxcsr, sizeof(mxcsr));
}

void set_user_entry_stack(u64 stack_top)
{
    kernite_syscall_entry_stack = stack_top;
    set_kernel_entry_stack(stack_top);
}

void prepare_user_frame(TrapFrame& frame, u64 rip, u64 rsp)
{
    frame = TrapFrame {};
    frame.rip = rip;
    frame.rsp = rsp;
    frame.cs = program_code_selector();
    frame.ss = program_data_selector();
    frame.rflags = rflags_if | 2;
}

bool sanitize_user_frame(TrapFrame& frame)
{
    frame.cs = program_code_selector();
    frame.ss = program_data_selector();
    frame.rflags = (frame.rflags & user_settable_flags) | rflags_if | 2;
    return frame.rip < user_space_end && frame.rsp <= user_space_end;
}

void enter_user(TrapFrame& frame)
{
    disable_interrupts();
    VERIFY(frame.cs == program_code_selector() && frame.ss == program_data_selector());
    VERIFY(reinterpret_cast<u64>(&frame + 1) == kernite_syscall_entry_stack);
    if (g_return_hook)
        g_return_hook(frame);
    // KASAN: the kernel frames below this one are abandoned for good; system calls and traps will reuse their
    // stack from the top frame down, and must not meet the stack redzones those frames left.
    kasan::unpoison_stack_below(&frame);
    if (g_privilege == ProgramPrivilege::Ring0)
        arch_enter_program_ring0(&frame);
    arch_enter_user(&frame);
}

u64 syscalls_via_fault() { return g_syscalls_via_fault; }

// Traps from or about ring 3 (traps.cpp calls this first). Returns true if the trap was handled here.
bool handle_user_trap(TrapFrame& frame, u64 fault_address)
{
    bool from_user = is_program_frame(frame);
    if (frame.vector == syscall_vector) {
        serve_syscall(frame);
        g_return_hook(frame);
        return true;
    }
    if (frame.vector == PageFault && !from_user) {
        // A user copy that touched a page not mapped yet (resolved on demand) or not mappable (fails the copy).
        if (!in_user_copy(frame.rip) || fault_address >= user_space_end)
            return false;
        bool write = frame.error_code & PageFaultWrite;
        if (g_resolver && !(frame.error_code & PageFaultPresent) && g_resolver(fault_address, write, false))
            return true;
        if (g_resolver && (frame.error_code & PageFaultPresent) && write && g_resolver(fault_address, true, false))
            return true;
        frame.rip = reinterpret_cast<u64>(kernite_user_copy_fault);
        return true;
    }
    if (!from_user)
        return false;
    if (frame.vector == PageFault) {
        u64 entry = reinterpret_cast<u64>(&kernite_syscall_entry);
        if (g_privilege == ProgramPrivilege::Ring3 && frame.rip == entry && fault_address == entry && (frame.error_code & PageFaultInstructionFetch)) {
            // PVM's ring-3 `syscall` (above): serve it as the entry would have, then return after the
            // instruction with the user's flags, as SYSRET would.
            ++g_syscalls_via_fault;
            frame.rip = frame.rcx;
            frame.rflags = frame.r11;
            frame.vector = syscall_vector;
            frame.error_code = 0;
            sanitize_user_frame(frame);
            serve_syscall(frame);
            g_return_hook(frame);
            return true;
        }
        bool write = frame.error_code & PageFaultWrite;
        bool execute = frame.error_code & PageFaultInstructionFetch;
        if (g_resolver && g_resolver(fault_address, write, execute)) {
            g_return_hook(frame);
            return true;
        }
    }
    if (frame.vector < FirstIrq) {
        g_user_exception(frame, fault_address);
        g_return_hook(frame);
        return true;
    }
    return false; // an interrupt: traps.cpp runs its handler, then calls return_to_user_after_interrupt
}

void return_to_user_after_interrupt(TrapFrame& frame)
{
    if (!is_program_frame(frame))
        return;
    if (g_privilege == ProgramPrivilege::Ring0 && returns_after_hlt(frame)) {
        // The #GP ring 3 would have raised, at the `hlt` itself (error code 0, SDM Vol. 2A HLT).
        frame.rip -= 1;
        frame.vector = GeneralProtection;
        frame.error_code = 0;
        g_user_exception(frame, 0);
    }
    if (g_return_hook)
        g_return_hook(frame);
}

bool copy_from_user(void* kernel_destination, u64 user_source, usize length)
{
    if (length == 0)
        return true;
    if (!is_user_range(user_source, length))
        return false;
    return arch_copy_user(kernel_destination, reinterpret_cast<void const*>(user_source), length) == 1;
}

bool copy_to_user(u64 user_destination, void const* kernel_source, usize length)
{
    if (length == 0)
        return true;
    if (!is_user_range(user_destination, length))
        return false;
    return arch_copy_user(reinterpret_cast<void*>(user_destination), kernel_source, length) == 1;
}

bool clear_user(u64 user_destination, usize length)
{
    if (length == 0)
        return true;
    if (!is_user_range(user_destination, length))
        return false;
    return arch_clear_user(reinterpret_cast<void*>(user_destination), length) == 1;
}

i64 copy_string_from_user(char* destination, u64 user_source, usize capacity)
{
    if (capacity == 0 || user_source < user_space_floor || user_source >= user_space_end)
        return -1;
    // Never read past the end of the lower half.
    if (capacity > user_space_end - user_source)
        capacity = user_space_end - user_source;
    return arch_copy_string_user(destination, reinterpret_cast<char const*>(user_source), capacity);
}

void fpu_save(u8* area) { asm volatile("fxsave64 (%0)" ::"r"(area) : "memory"); }
void fpu_restore(u8 const* area) { asm volatile("fxrstor64 (%0)" ::"r"(area) : "memory"); }
void fpu_initial_state(u8* area) { __builtin_memcpy(area, g_initial_fpu_state, fpu_state_size); }

} // namespace kernite::arch
