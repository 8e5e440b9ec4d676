// The ring-3 probe: the contained proof of isolation mode `ring` (arch/x86_64/user_mode.h) and the figures that
// choose the default isolation mode by measured cost (DESIGN.md). Two user programs, hand-assembled:
//   syscalls: rbx = N; loop { rax = 39 (getpid); syscall; check rax == 1 } ; exit(42)
//   loop:     ecx = M; loop { dec ecx } ; exit(7)
// mapped at user addresses with the U/S bit (code RX, stack RW+NX), run with interrupts on. With `isolation=none`
// on the command line the same code runs in ring 0 (arch::ProgramPrivilege::Ring0, pages without U/S), which is
// how the two isolation modes' system-call cost is compared (bench/run.sh syscall_ns_isolation_{ring,none}).
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/lib/log.h>
#include <kernel/mm/memory.h>
#include <kernel/probes/ring3_probe.h>
#include <kernel/sched/scheduler.h>
#include <kernel/sched/wait_queue.h>
#include <arch/x86_64/interrupts_disabled.h>
#include <platform/platform.h>

namespace kernite::probes {

namespace {

constexpr u64 code_address = 0x400000;
constexpr u64 stack_address = 0x7fff0000;
constexpr u32 syscall_count = 2000;
constexpr u32 loop_count = 20'000'000;
// In ring 0 on nested KVM through PVM every instruction is emulated (~1 us): a shorter loop there.
constexpr u32 ring0_loop_count = 200'000;

constexpr u64 linux_getpid = 39;
constexpr u64 linux_exit = 60;

u64 g_syscalls_seen;
u64 g_exit_status;
bool g_exited;
sched::WaitQueue g_exit_wait;
u64 g_user_rip;
alignas(16) u8 g_fpu_area[arch::fpu_state_size];

void handle_syscall(arch::TrapFrame& frame)
{
    ++g_syscalls_seen;
    switch (frame.rax) {
    case linux_getpid:
        frame.rax = 1;
        return;
    case linux_exit: {
        arch::InterruptsDisabled guard;
        g_exit_status = frame.rdi;
        g_exited = true;
        g_exit_wait.wake_all();
        sched::drop_user_state();
        sched::exit_thread(0);
    }
    default:
        frame.rax = static_cast<u64>(-38); // -ENOSYS
    }
}

void no_hook(arch::TrapFrame&) { }

void user_fault(arch::TrapFrame& frame, u64 address)
{
    klog("ring3 probe: exception %lu at rip 0x%lx (address 0x%lx)", frame.vector, frame.rip, address);
    arch::InterruptsDisabled guard;
    g_exit_status = 255;
    g_exited = true;
    g_exit_wait.wake_all();
    sched::drop_user_state();
    sched::exit_thread(0);
}

int probe_thread(void*)
{
    auto* frame = arch::user_frame(sched::current_thread()->kernel_stack().top);
    arch::prepare_user_frame(*frame, g_user_rip, stack_address + paging::page_size);
    arch::enter_user(*frame);
}

// Runs user code at `rip` on its own thread until it calls exit; returns the exit status.
u64 run_user(u64 rip)
{
    g_user_rip = rip;
    g_exited = false;
    arch::fpu_initial_state(g_fpu_area);
    auto thread = sched::create_user_thread("ring3-probe", probe_thread, nullptr, g_fpu_area, 0, nullptr);
    VERIFY(!thread.is_error());
    g_exit_wait.wait_until([] { return g_exited; });
    return g_exit_status;
}

// The two programs, position-independent x86-64 machine code.
u8 const g_program[] = {
    // syscalls: mov ebx, N
    0xbb, 0, 0, 0, 0,
    // 1: mov eax, 39; syscall; cmp eax, 1; jne fail; dec ebx; jnz 1b
    0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0x83, 0xf8, 0x01, 0x75, 0x10, 0xff, 0xcb, 0x75, 0xf0,
    // mov eax, 60; mov edi, 42; syscall
    0xb8, 60, 0, 0, 0, 0xbf, 42, 0, 0, 0, 0x0f, 0x05,
    // fail: mov eax, 60; mov edi, 1; syscall
    0xb8, 60, 0, 0, 0, 0xbf, 1, 0, 0, 0, 0x0f, 0x05,
    // loop (offset 45): mov ecx, M; 1: dec ecx; jnz 1b; mov eax, 60; mov edi, 7; syscall
    0xb9, 0, 0, 0, 0, 0xff, 0xc9, 0x75, 0xfc, 0xb8, 60, 0, 0, 0, 0xbf, 7, 0, 0, 0, 0x0f, 0x05,
};
constexpr u64 loop_offset = 45;

} // namespace

int run_ring3_probe()
{
    // Code and stack frames; the code is written through the direct map before it is mapped for the user.
    auto code = mm::allocate_frames(1);
    auto stack = mm::allocate_frames(1);
    if (code.is_error() || stack.is_error()) {
        klog("ring3 probe: out of memory");
        return 1;
    }
    auto* text = static_cast<u8*>(mm::phys_to_virt(code.value()));
    __builtin_memcpy(text, g_program, sizeof(g_program));
    __builtin_memcpy(text + 1, &syscall_count, 4);
    auto& space = mm::kernel_address_space();
    using namespace paging;
    bool ring0 = arch::program_privilege() == arch::ProgramPrivilege::Ring0;
    char const* ring = ring0 ? "ring 0" : "ring 3";
    u8 user = ring0 ? 0 : AccessUser;
    u32 loops = ring0 ? ring0_loop_count : loop_count;
    __builtin_memcpy(text + loop_offset + 1, &loops, 4);
    if (space.map(code_address, code.value(), page_size, AccessRead | AccessExecute | user).is_error()
        || space.map(stack_address, stack.value(), page_size, AccessRead | AccessWrite | user).is_error()) {
        klog("ring3 probe: cannot map the user pages");
        return 1;
    }
    arch::initialize_user_mode(handle_syscall, no_hook, user_fault, nullptr);

    u64 khz = platform::tsc_khz();
    u64 start = arch::read_tsc();
    u64 status = run_user(code_address);
    u64 syscall_ticks = arch::read_tsc() - start;
    u64 seen = g_syscalls_seen;
    start = arch::read_tsc();
    u64 loop_status = run_user(code_address + loop_offset);
    u64 loop_ticks = arch::read_tsc() - start;

    (void)space.unmap(code_address, page_size);
    (void)space.unmap(stack_address, page_size);
    arch::invalidate_page(code_address);
    arch::invalidate_page(stack_address);
    mm::free_frames(code.value(), 1);
    mm::free_frames(stack.value(), 1);

    bool ok = status == 42 && seen == syscall_count + 1 && loop_status == 7;
    kout("  [%s] %s: %u system calls answered, exit status %lu\n", status == 42 && seen == syscall_count + 1 ? " ok " : "FAIL",
        ring, syscall_count, status);
    kout("  [%s] %s: a %u-iteration loop ran, exit status %lu\n", loop_status == 7 ? " ok " : "FAIL", ring, loops,
        loop_status);
    kout("  %s: syscall round trip %lu ns (%lu of %u through the page-fault path), user loop %lu ps per "
         "iteration\n",
        ring, syscall_ticks * 1'000'000 / khz / syscall_count, arch::syscalls_via_fault(), syscall_count + 2,
        loop_ticks * 1'000'000'000 / khz / loops);
    kout(ok ? "kernite: ring3 probe ok\n" : "kernite: ring3 probe FAILED\n");
    return ok ? 0 : 1;
}

} // namespace kernite::probes
