// The process entry stack: see include/exec/initial_stack.h for the layout and its sources.
#include <exec/initial_stack.h>

#include <vma/layout.h>

namespace kernite::exec {

namespace {

char const empty_string[] = "";
char const* const empty_argv[] = { empty_string };

// Writes into the buffer by user address; every address was checked against [m_base, m_top) by the caller's
// arithmetic, and is checked again here so that a slip is a VERIFY, never a stray write.
class StackImage {
public:
    StackImage(u8* buffer, usize size, u64 top)
        : m_buffer(buffer)
        , m_base(top - size)
        , m_top(top)
    {
    }
    u64 base() const { return m_base; }
    void write(u64 address, void const* data, usize length)
    {
        VERIFY(address >= m_base && address <= m_top && length <= m_top - address);
        __builtin_memcpy(m_buffer + (address - m_base), data, length);
    }
    void write_word(u64 address, u64 value) { write(address, &value, sizeof(value)); }

private:
    u8* m_buffer;
    u64 m_base;
    u64 m_top;
};

struct AuxEntry {
    u64 type;
    u64 value;
};

constexpr usize max_aux_entries = 22;

// Linux's order (create_elf_tables(), with x86-64's ARCH_DLINFO first). Returns the number of entries,
// AT_NULL included.
usize build_auxv(InitialStackInput const& input, u64 random_address, u64 platform_address, u64 execfn_address,
    AuxEntry (&auxv)[max_aux_entries])
{
    usize count = 0;
    auto add = [&](u64 type, u64 value) {
        VERIFY(count < max_aux_entries);
        auxv[count++] = { type, value };
    };
    if (input.sysinfo_ehdr != 0)
        add(at_sysinfo_ehdr, input.sysinfo_ehdr);
    if (input.minsigstksz != 0)
        add(at_minsigstksz, input.minsigstksz);
    add(at_hwcap, input.hwcap);
    add(at_pagesz, vma::page_size);
    add(at_clktck, clock_ticks_per_second);
    add(at_phdr, input.phdr);
    add(at_phent, input.phent);
    add(at_phnum, input.phnum);
    add(at_base, 0); // no program interpreter
    add(at_flags, 0);
    add(at_entry, input.entry);
    add(at_uid, input.uid);
    add(at_euid, input.euid);
    add(at_gid, input.gid);
    add(at_egid, input.egid);
    add(at_secure, input.secure ? 1 : 0);
    add(at_random, random_address);
    add(at_hwcap2, input.hwcap2);
    add(at_execfn, execfn_address);
    add(at_platform, platform_address);
    add(at_null, 0);
    return count;
}

Error too_big(char const* reason) { return Error::from_errno(E2BIG, reason); }

// Length of a kernel-owned NUL-terminated string including its NUL, or 0 when it exceeds MAX_ARG_STRLEN.
usize string_size(char const* string)
{
    usize const length = __builtin_strlen(string);
    return length < max_argument_length ? length + 1 : 0;
}

// Total bytes of `count` strings with their NULs; false when one is too long or the sum overflows.
bool strings_size(char const* const* strings, usize count, u64* total)
{
    for (usize i = 0; i < count; ++i) {
        usize const size = string_size(strings[i]);
        if (size == 0 || !ktl::checked_add<u64>(*total, size, total))
            return false;
    }
    return true;
}

} // namespace

void set_program(InitialStackInput& input, ProgramPlan const& plan)
{
    input.phdr = plan.phdr;
    input.phent = plan.phent;
    input.phnum = plan.phnum;
    input.entry = plan.entry;
}

ErrorOr<u64> build_initial_stack(InitialStackInput const& input, u8* buffer, usize buffer_size, u64 user_top)
{
    if (buffer == nullptr || buffer_size == 0 || user_top % 16 != 0 || user_top < buffer_size)
        return Error::from_errno(EINVAL, "bad initial stack buffer");
    if ((input.argc > 0 && input.argv == nullptr) || (input.envc > 0 && input.envp == nullptr))
        return Error::from_errno(EINVAL, "argv or envp missing");
    char const* const* const argv = input.argc > 0 ? input.argv : empty_argv;
    usize const argc = input.argc > 0 ? input.argc : 1;
    char const* const execfn = input.execfn ? input.execfn : argv[0];

    StackImage image(buffer, buffer_size, user_top);
    u64 const base = image.base();
    // Everything is placed by subtracting from `cursor`; each step checks it stays at or above `base`.
    u64 cursor = user_top;
    auto reserve = [&](u64 size, u64 alignment) -> bool {
        if (size > cursor - base)
            return false;
        cursor = ktl::align_down(cursor - size, alignment);
        return cursor >= base;
    };

    // The 8-byte end marker and AT_EXECFN (Linux: bprm->p starts one word below the top; the filename first).
    if (!reserve(sizeof(u64), 1))
        return too_big("initial stack buffer too small");
    image.write_word(cursor, 0);
    usize const execfn_size = string_size(execfn);
    if (execfn_size == 0 || !reserve(execfn_size, 1))
        return too_big("program path too long for the initial stack");
    u64 const execfn_address = cursor;
    image.write(execfn_address, execfn, execfn_size);

    // argv strings then envp strings, ascending and back to back.
    u64 strings_total = 0;
    if (!strings_size(argv, argc, &strings_total) || !strings_size(input.envp, input.envc, &strings_total)
        || !reserve(strings_total, 1))
        return too_big("arguments and environment too large for the initial stack");
    u64 const strings_start = cursor;
    {
        u64 at = strings_start;
        for (usize i = 0; i < argc; ++i) {
            usize const size = string_size(argv[i]);
            image.write(at, argv[i], size);
            at += size;
        }
        for (usize i = 0; i < input.envc; ++i) {
            usize const size = string_size(input.envp[i]);
            image.write(at, input.envp[i], size);
            at += size;
        }
    }

    // Optional random offset, the platform string, then AT_RANDOM's 16 bytes (aligned, so that libc may load
    // them as words; Linux leaves them unaligned and libc copies them bytewise either way).
    if (!reserve(ktl::align_down(input.padding, 16), 16) || !reserve(sizeof(platform_string), 1))
        return too_big("initial stack buffer too small");
    u64 const platform_address = cursor;
    image.write(platform_address, platform_string, sizeof(platform_string));
    if (!reserve(sizeof(input.random_bytes), 16))
        return too_big("initial stack buffer too small");
    u64 const random_address = cursor;
    image.write(random_address, input.random_bytes, sizeof(input.random_bytes));

    AuxEntry auxv[max_aux_entries];
    usize const aux_count = build_auxv(input, random_address, platform_address, execfn_address, auxv);

    // argc, argv[] + NULL, envp[] + NULL, auxv: in words. argc and envc are bounded by the string bytes above
    // (at least one byte each), so these sums cannot overflow.
    u64 const words = 1 + (argc + 1) + (input.envc + 1) + 2 * aux_count;
    if (words > (cursor - base) / sizeof(u64) || !reserve(words * sizeof(u64), 16))
        return too_big("arguments and environment too large for the initial stack");
    u64 const rsp = cursor; // psABI §3.4.1: %rsp is 16-byte aligned at process entry and points at argc

    u64 at = rsp;
    auto push_word = [&](u64 value) {
        image.write_word(at, value);
        at += sizeof(u64);
    };
    push_word(argc);
    u64 string_address = strings_start;
    for (usize i = 0; i < argc; ++i) {
        push_word(string_address);
        string_address += string_size(argv[i]);
    }
    push_word(0);
    for (usize i = 0; i < input.envc; ++i) {
        push_word(string_address);
        string_address += string_size(input.envp[i]);
    }
    push_word(0);
    for (usize i = 0; i < aux_count; ++i) {
        push_word(auxv[i].type);
        push_word(auxv[i].value);
    }
    VERIFY(at <= random_address);
    return rsp;
}

} // namespace kernite::exec
