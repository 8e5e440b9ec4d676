// The system-call table, the dispatcher, --strace and the count of unknown calls (STYLE.md habit 9).
#include <arch/x86_64/interrupts_disabled.h>
#include <kernel/lib/format.h>
#include <kernel/lib/log.h>
#include <kernel/process/output.h>
#include <kernel/process/process.h>
#include <kernel/process/user_memory.h>
#include <kernel/syscalls/handlers.h>

namespace kernite::syscalls {

namespace {

struct Entry {
    Function function;
    char const* arguments; // --strace format, handlers.h
};

constexpr auto build_table()
{
    struct Table {
        Entry entries[syscall_table_size];
    } table {};
#define KERNITE_TABLE_ENTRY(name, arguments) table.entries[nr_##name] = Entry { sys_##name, arguments };
    KERNITE_SYSCALLS_ALL(KERNITE_TABLE_ENTRY)
#undef KERNITE_TABLE_ENTRY
#define KERNITE_TABLE_ALIAS(alias, name) table.entries[nr_##alias] = table.entries[nr_##name];
    KERNITE_SYSCALL_ALIASES(KERNITE_TABLE_ALIAS)
#undef KERNITE_TABLE_ALIAS
    return table;
}

constexpr auto g_table = build_table();

// Unknown numbers: counted per number (the table's range) plus one bucket for anything beyond.
u32 g_unknown[syscall_table_size];
u32 g_unknown_out_of_range;

usize append(char* line, usize used, usize capacity, char const* text)
{
    while (*text && used + 1 < capacity)
        line[used++] = *text++;
    line[used] = 0;
    return used;
}

void trace(u64 number, Entry const* entry, Arguments const& arguments, Result const& result)
{
    char line[512];
    usize used = 0;
    char const* name = number < syscall_table_size ? syscall_names[number] : nullptr;
    char buffer[96];
    if (name) {
        used = append(line, used, sizeof(line), name);
    } else {
        format(buffer, sizeof(buffer), "syscall_%lu", number);
        used = append(line, used, sizeof(line), buffer);
    }
    used = append(line, used, sizeof(line), "(");
    u64 const values[6] = { arguments.a0, arguments.a1, arguments.a2, arguments.a3, arguments.a4, arguments.a5 };
    char const* kinds = entry && entry->arguments ? entry->arguments : "xxxxxx";
    for (usize i = 0; kinds[i] && i < 6; ++i) {
        if (i)
            used = append(line, used, sizeof(line), ", ");
        u64 value = values[i];
        switch (kinds[i]) {
        case 'd':
        case 'f': format(buffer, sizeof(buffer), "%ld", static_cast<i64>(value)); break;
        case 'u': format(buffer, sizeof(buffer), "%lu", value); break;
        case 'o': format(buffer, sizeof(buffer), "0%lo", value); break;
        case 's': {
            char text[64];
            auto copied = process::copy_string_from_user(text, value, sizeof(text));
            if (copied.is_error())
                format(buffer, sizeof(buffer), value ? "0x%lx" : "NULL", value);
            else
                format(buffer, sizeof(buffer), "\"%s\"", text);
            break;
        }
        case 'p': format(buffer, sizeof(buffer), value ? "0x%lx" : "NULL", value); break;
        default: format(buffer, sizeof(buffer), "0x%lx", value); break;
        }
        used = append(line, used, sizeof(line), buffer);
    }
    if (result.is_error())
        format(buffer, sizeof(buffer), ") = -1 %s (%s)\n", ktl::errno_name(result.error().code()), result.error().reason());
    else if (result.value() > 0xffff)
        format(buffer, sizeof(buffer), ") = 0x%lx\n", result.value());
    else
        format(buffer, sizeof(buffer), ") = %lu\n", result.value());
    used = append(line, used, sizeof(line), buffer);
    process::output::write(abi::ConsoleStream::Stderr, reinterpret_cast<u8 const*>(line), used);
}

} // namespace

void dispatch(arch::TrapFrame& frame)
{
    u64 number = frame.rax;
    Arguments arguments { frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9, frame };
    Entry const* entry = number < syscall_table_size ? &g_table.entries[number] : nullptr;
    bool tracing = process::settings().strace;
    if (!entry || !entry->function) {
        {
            arch::InterruptsDisabled guard;
            if (number < syscall_table_size)
                ++g_unknown[number];
            else
                ++g_unknown_out_of_range;
        }
        Result result = Error::from_errno(ENOSYS, "not implemented");
        if (tracing)
            trace(number, entry, arguments, result);
        frame.rax = to_user_result(result);
        return;
    }
    // exit, exit_group and a fatal signal never return here; their trace line comes first.
    if (tracing && (number == nr_exit || number == nr_exit_group)) {
        trace(number, entry, arguments, Result(u64(0)));
    }
    Result result = entry->function(arguments);
    if (tracing)
        trace(number, entry, arguments, result);
    // rt_sigreturn restored the whole frame, rax included: its "result" is that rax.
    frame.rax = to_user_result(result);
}

void report_unknown_calls()
{
    for (u64 number = 0; number < syscall_table_size; ++number) {
        if (g_unknown[number])
            klog("unknown system call %lu (%s) called %u times: returned ENOSYS", number,
                syscall_names[number] ? syscall_names[number] : "no Linux name", g_unknown[number]);
    }
    if (g_unknown_out_of_range)
        klog("%u system calls with numbers beyond Linux's table: returned ENOSYS", g_unknown_out_of_range);
}

} // namespace kernite::syscalls
