#include <arch/x86_64/cpu.h>
#include <arch/x86_64/user_mode.h>
#include <exec/initial_stack.h>
#include <exec/program_plan.h>
#include <kernel/boot/cmdline.h>
#include <kernel/fs/filesystem.h>
#include <kernel/lib/format.h>
#include <kernel/lib/log.h>
#include <kernel/mm/memory.h>
#include <kernel/process/loader.h>
#include <kernel/process/memory.h>
#include <kernel/process/output.h>
#include <kernel/process/process.h>
#include <kernel/process/program_symbols.h>
#include <kernel/process/signals.h>
#include <kernel/process/user_faults.h>
#include <kernel/sched/scheduler.h>
#include <kernel/sched/wait_queue.h>
#include <kernel/security/random.h>
#include <kernel/syscalls/syscall.h>
#include <ktl/allocator.h>
#include <platform/platform.h>

namespace kernite::process {

namespace {

constexpr u64 main_stack_size = 8ull << 20; // RLIMIT_STACK's default
constexpr usize max_arguments = 4096;
// Isolation `none`: how long a program's `hlt` may halt the CPU before the watchdog's timer interrupt ends it and
// the kernel reports it (arch/x86_64/user_mode.cpp). 10 ms: 100 interrupts a second at most, and only while a
// program thread runs with no earlier timer.
constexpr u64 program_halt_watchdog_ns = 10'000'000;

struct Module {
    u8 const* data { nullptr };
    u64 size { 0 };
};

Module find_module(BootParams const& params, char const* name)
{
    for (u32 i = 0; i < params.module_count; ++i) {
        auto const& module = params.modules[i];
        if (__builtin_strcmp(module.name, name) == 0)
            return { static_cast<u8 const*>(mm::phys_to_virt(module.phys)), module.size };
    }
    return {};
}

[[noreturn]] void refuse(char const* what, char const* reason)
{
    klog("cannot run the program: %s%s%s", what, reason ? ": " : "", reason ? reason : "");
    output::flush();
    platform::exit(127, abi::ExitReason::Normal);
}

// The "args" module (abi.h ArgsModuleHeader): every count and terminator checked against the module's size.
struct Arguments {
    char const** argv { nullptr };
    usize argc { 0 };
    char const** envp { nullptr };
    usize envc { 0 };
};

Arguments parse_arguments(Module const& module)
{
    Arguments arguments;
    if (!module.data)
        refuse("the monitor passed no argument list", nullptr);
    abi::ArgsModuleHeader header;
    if (module.size < sizeof(header))
        refuse("the argument list is truncated", nullptr);
    __builtin_memcpy(&header, module.data, sizeof(header));
    if (header.magic != abi::args_module_magic || header.argc > max_arguments || header.envc > max_arguments
        || header.strings_size > module.size - sizeof(header))
        refuse("the argument list is malformed", nullptr);
    usize count = header.argc + header.envc;
    auto* pointers = static_cast<char const**>(ktl::allocate((count + 2) * sizeof(char const*)));
    if (!pointers)
        refuse("out of memory for the argument list", nullptr);
    auto const* strings = reinterpret_cast<char const*>(module.data + sizeof(header));
    usize offset = 0;
    for (usize i = 0; i < count; ++i) {
        if (offset >= header.strings_size)
            refuse("the argument list is malformed", "fewer strings than counted");
        pointers[i] = strings + offset;
        while (offset < header.strings_size && strings[offset])
            ++offset;
        if (offset >= header.strings_size)
            refuse("the argument list is malformed", "a string is not terminated");
        ++offset;
    }
    arguments.argv = pointers;
    arguments.argc = header.argc;
    arguments.envp = pointers + header.argc;
    arguments.envc = header.envc;
    return arguments;
}

void print_layout_line(char const* region, u64 value)
{
    char line[64];
    usize length = format(line, sizeof(line), "layout %s 0x%lx\n", region, value);
    platform::console_write(abi::ConsoleStream::Stderr, line, length);
}

sched::WaitQueue g_never;

} // namespace

void run_program(BootParams const& params)
{
    configure(params);
    // Isolation `none` was set up at boot, before the IDT was sealed (kernel_main); both must agree.
    VERIFY((settings().isolation == Isolation::None)
        == (arch::program_privilege() == arch::ProgramPrivilege::Ring0));
    if (settings().isolation == Isolation::None)
        sched::set_program_halt_watchdog_ns(program_halt_watchdog_ns);
    Module program = find_module(params, abi::module_name_program);
    Arguments arguments = parse_arguments(find_module(params, abi::module_name_args));
    char const* program_name = arguments.argc ? arguments.argv[0] : "program";

    elf::Diagnostic diagnostic {};
    auto plan_or_error = exec::plan_program(program.data, program.size, &diagnostic);
    if (plan_or_error.is_error()) {
        char reason[160];
        refuse(program_name, exec::describe_refusal(plan_or_error.error(), diagnostic, reason, sizeof(reason)));
    }
    auto& plan = plan_or_error.value();

    // ASLR of the program (issue 4 item 3): a static-PIE program goes to a random base; `no-aslr` puts it where
    // Linux's setarch -R would (debugging only; the kernel warned at boot).
    bool aslr = !boot::cmdline_has(params.cmdline, "no-aslr");
    u64 bias = 0;
    if (plan.position_independent) {
        auto chosen = aslr ? exec::choose_load_bias(plan, security::random_u64())
                           : exec::choose_load_bias(plan, 0);
        if (chosen.is_error())
            refuse(program_name, chosen.error().reason());
        bias = chosen.value();
    }
    if (auto applied = exec::apply_load_bias(plan, bias); applied.is_error())
        refuse(program_name, applied.error().reason());
    set_program_image(program.data, program.size, bias);

    if (auto result = memory::initialize(bias, plan.span_end, aslr); result.is_error())
        refuse("cannot lay out the program's memory", result.error().reason());
    for (u32 i = 0; i < plan.segment_count; ++i) {
        auto const& segment = plan.segments[i];
        if (segment.map_start < segment.map_end) {
            if (auto mapped = memory::map_segment(segment.map_start, segment.map_end, segment.map_offset, segment.prot, program_name); mapped.is_error())
                refuse("cannot map the program", mapped.error().reason());
        }
        if (auto copied = memory::poke(segment.vaddr, program.data + segment.file_offset, segment.filesz); copied.is_error())
            refuse("cannot load the program", copied.error().reason());
    }

    // The initial stack: argv, envp, auxv (AT_RANDOM from the kernel's generator), below a random top.
    exec::InitialStackInput input;
    input.argv = arguments.argv;
    input.argc = arguments.argc;
    input.envp = arguments.envp;
    input.envc = arguments.envc;
    exec::set_program(input, plan);
    input.hwcap = arch::cpuid(1).edx;
    security::random_bytes(input.random_bytes, sizeof(input.random_bytes));
    input.padding = aslr ? (security::random_u64() % 4096) : 0;
    usize strings = 0;
    for (usize i = 0; i < arguments.argc + arguments.envc; ++i)
        strings += __builtin_strlen(arguments.argv[i]) + 1;
    usize buffer_size = ktl::align_up_const(strings * 2 + (arguments.argc + arguments.envc) * 8 + 8192, 4096);
    if (buffer_size > main_stack_size / 4)
        refuse("the arguments and environment are too large", nullptr);
    auto* buffer = static_cast<u8*>(ktl::allocate(buffer_size));
    if (!buffer)
        refuse("out of memory for the initial stack", nullptr);
    if (auto stack = memory::map_main_stack(main_stack_size, buffer_size); stack.is_error())
        refuse("cannot map the program's stack", stack.error().reason());
    u64 top = memory::layout().stack_top;
    auto rsp = exec::build_initial_stack(input, buffer, buffer_size, top);
    if (rsp.is_error())
        refuse("cannot build the initial stack", rsp.error().reason());
    if (auto written = memory::poke(rsp.value(), buffer + buffer_size - (top - rsp.value()), top - rsp.value()); written.is_error())
        refuse("cannot write the initial stack", written.error().reason());
    __builtin_memset(buffer, 0, buffer_size);
    ktl::deallocate(buffer);

    if (auto files = fs::initialize(find_module(params, abi::module_name_rootfs).data,
            find_module(params, abi::module_name_rootfs).size, program_name);
        files.is_error())
        refuse("cannot set up the root filesystem", files.error().reason());

    if (boot::cmdline_has(params.cmdline, "print-layout")) {
        auto const& layout = memory::layout();
        print_layout_line("app", plan.position_independent ? bias : plan.span_start);
        print_layout_line("heap", layout.brk_start);
        print_layout_line("mmap", layout.mmap_base);
        print_layout_line("stack", layout.stack_top);
    }

    arch::initialize_user_mode(syscalls::dispatch, signals::deliver_pending, handle_user_exception, memory::resolve_fault);
    arch::TrapFrame frame;
    arch::prepare_user_frame(frame, plan.entry, rsp.value());
    // psABI §3.4.1: rdx holds a function for atexit (none: 0); every other register starts at zero.
    auto thread = spawn_thread(frame, 0, 0);
    if (thread.is_error())
        refuse("cannot start the program's thread", thread.error().reason());

    // The boot thread's work is done: the program ends the VM (exit_group, a fatal signal or its last thread).
    g_never.wait_until([] { return false; });
    VERIFY_NOT_REACHED();
}

} // namespace kernite::process
