// build_initial_stack(): the entry stack read back word by word as a program's _start would (psABI §3.4.1),
// with Linux's auxv order, and E2BIG exactly when it does not fit.
#include <exec/initial_stack.h>

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

using namespace kernite::exec;

namespace {

constexpr u64 user_top = 0x7ffd00000000ull;

// The buffer seen through user addresses.
struct StackView {
    std::vector<u8> const& buffer;
    u64 base() const { return user_top - buffer.size(); }
    bool inside(u64 address, u64 length) const
    {
        return address >= base() && address <= user_top && length <= user_top - address;
    }
    u64 word(u64 address) const
    {
        EXPECT_TRUE(inside(address, 8)) << std::hex << address;
        u64 value = 0;
        if (inside(address, 8))
            std::memcpy(&value, buffer.data() + (address - base()), 8);
        return value;
    }
    std::string string(u64 address) const
    {
        std::string text;
        while (inside(address, 1) && buffer[address - base()] != 0)
            text += static_cast<char>(buffer[address++ - base()]);
        EXPECT_TRUE(inside(address, 1)) << "string runs off the top";
        return text;
    }
};

struct Parsed {
    u64 argc { 0 };
    std::vector<std::string> argv;
    std::vector<u64> argv_pointers;
    std::vector<std::string> envp;
    std::vector<std::pair<u64, u64>> auxv; // AT_NULL included
    u64 auxv_value(u64 type) const
    {
        for (auto const& [t, v] : auxv) {
            if (t == type)
                return v;
        }
        ADD_FAILURE() << "no auxv entry " << type;
        return 0;
    }
};

// Reads the stack as musl's __init_libc / glibc's _dl_aux_init do: argc, argv until NULL, envp until NULL, auxv
// pairs until AT_NULL.
Parsed parse(StackView const& view, u64 rsp)
{
    Parsed parsed;
    u64 at = rsp;
    parsed.argc = view.word(at);
    at += 8;
    for (u64 i = 0; i < parsed.argc; ++i, at += 8) {
        parsed.argv_pointers.push_back(view.word(at));
        parsed.argv.push_back(view.string(view.word(at)));
    }
    EXPECT_EQ(view.word(at), 0u) << "argv[argc] is NULL";
    at += 8;
    while (view.word(at) != 0) {
        parsed.envp.push_back(view.string(view.word(at)));
        at += 8;
    }
    at += 8;
    for (int guard = 0; guard < 64; ++guard, at += 16) {
        parsed.auxv.emplace_back(view.word(at), view.word(at + 8));
        if (parsed.auxv.back().first == at_null)
            break;
    }
    return parsed;
}

struct Fixture {
    std::vector<char const*> argv { "/bin/prog", "-x", "an argument" };
    std::vector<char const*> envp { "HOME=/", "PATH=/bin:/usr/bin", "EMPTY=" };
    InitialStackInput input;

    Fixture()
    {
        input.argv = argv.data();
        input.argc = argv.size();
        input.envp = envp.data();
        input.envc = envp.size();
        input.execfn = "/bin/prog";
        input.phdr = 0x555555554040;
        input.phent = 56;
        input.phnum = 12;
        input.entry = 0x5555555595e0;
        input.uid = 1000;
        input.euid = 1001;
        input.gid = 100;
        input.egid = 101;
        input.hwcap = 0x178bfbff;
        input.hwcap2 = 2;
        for (int i = 0; i < 16; ++i)
            input.random_bytes[i] = static_cast<u8>(0xa0 + i);
    }
};

} // namespace

TEST(InitialStack, WordByWord)
{
    Fixture fixture;
    std::vector<u8> buffer(8192, 0xcc);
    u64 const rsp = build_initial_stack(fixture.input, buffer.data(), buffer.size(), user_top).value();
    StackView view { buffer };
    EXPECT_EQ(rsp % 16, 0u) << "psABI: rsp 16-byte aligned at entry";
    EXPECT_GE(rsp, view.base());

    Parsed const parsed = parse(view, rsp);
    EXPECT_EQ(parsed.argc, 3u);
    EXPECT_EQ(parsed.argv, (std::vector<std::string> { "/bin/prog", "-x", "an argument" }));
    EXPECT_EQ(parsed.envp, (std::vector<std::string> { "HOME=/", "PATH=/bin:/usr/bin", "EMPTY=" }));

    // Linux's order (create_elf_tables()), no AT_SYSINFO_EHDR and no AT_MINSIGSTKSZ when they are 0.
    std::vector<u64> types;
    for (auto const& entry : parsed.auxv)
        types.push_back(entry.first);
    EXPECT_EQ(types,
        (std::vector<u64> { at_hwcap, at_pagesz, at_clktck, at_phdr, at_phent, at_phnum, at_base, at_flags, at_entry,
            at_uid, at_euid, at_gid, at_egid, at_secure, at_random, at_hwcap2, at_execfn, at_platform, at_null }));
    EXPECT_EQ(parsed.auxv_value(at_hwcap), 0x178bfbffu);
    EXPECT_EQ(parsed.auxv_value(at_pagesz), 4096u);
    EXPECT_EQ(parsed.auxv_value(at_clktck), 100u);
    EXPECT_EQ(parsed.auxv_value(at_phdr), 0x555555554040u);
    EXPECT_EQ(parsed.auxv_value(at_phent), 56u);
    EXPECT_EQ(parsed.auxv_value(at_phnum), 12u);
    EXPECT_EQ(parsed.auxv_value(at_base), 0u);
    EXPECT_EQ(parsed.auxv_value(at_flags), 0u);
    EXPECT_EQ(parsed.auxv_value(at_entry), 0x5555555595e0u);
    EXPECT_EQ(parsed.auxv_value(at_uid), 1000u);
    EXPECT_EQ(parsed.auxv_value(at_euid), 1001u);
    EXPECT_EQ(parsed.auxv_value(at_gid), 100u);
    EXPECT_EQ(parsed.auxv_value(at_egid), 101u);
    EXPECT_EQ(parsed.auxv_value(at_secure), 0u);
    EXPECT_EQ(parsed.auxv_value(at_hwcap2), 2u);
    EXPECT_EQ(parsed.auxv.back(), (std::pair<u64, u64> { at_null, 0 }));

    u64 const random = parsed.auxv_value(at_random);
    ASSERT_TRUE(view.inside(random, 16));
    EXPECT_EQ(std::memcmp(buffer.data() + (random - view.base()), fixture.input.random_bytes, 16), 0);
    EXPECT_EQ(random % 16, 0u);
    EXPECT_EQ(view.string(parsed.auxv_value(at_platform)), "x86_64");
    u64 const execfn = parsed.auxv_value(at_execfn);
    EXPECT_EQ(view.string(execfn), "/bin/prog");
    EXPECT_NE(execfn, parsed.argv_pointers[0]) << "AT_EXECFN has its own copy, as in Linux";

    // Strings: argv[0] lowest, then the rest ascending and back to back, envp after argv, execfn above them,
    // the 8-byte zero end marker at the very top; the tables lie below the random bytes and the platform string.
    EXPECT_EQ(parsed.argv_pointers[1], parsed.argv_pointers[0] + 10);
    EXPECT_EQ(parsed.argv_pointers[2], parsed.argv_pointers[1] + 3);
    EXPECT_EQ(execfn + 10, user_top - 8);
    EXPECT_EQ(view.word(user_top - 8), 0u);
    EXPECT_LT(parsed.auxv_value(at_platform), parsed.argv_pointers[0]);
    EXPECT_LT(random, parsed.auxv_value(at_platform));
    u64 const tables_end = rsp + 8 * (1 + 4 + 4 + 2 * parsed.auxv.size());
    EXPECT_LE(tables_end, random);
    EXPECT_LT(random - tables_end, 16u) << "no more than alignment padding between tables and AT_RANDOM";
    // Nothing below rsp was touched.
    for (u64 address = view.base(); address < rsp; ++address)
        ASSERT_EQ(buffer[address - view.base()], 0xcc) << std::hex << address;
}

TEST(InitialStack, OptionalEntriesAppearOnlyWhenGiven)
{
    Fixture fixture;
    fixture.input.sysinfo_ehdr = 0x7fff12345000;
    fixture.input.minsigstksz = 3632;
    fixture.input.secure = true;
    std::vector<u8> buffer(4096);
    u64 const rsp = build_initial_stack(fixture.input, buffer.data(), buffer.size(), user_top).value();
    Parsed const parsed = parse(StackView { buffer }, rsp);
    ASSERT_GE(parsed.auxv.size(), 3u);
    EXPECT_EQ(parsed.auxv[0], (std::pair<u64, u64> { at_sysinfo_ehdr, 0x7fff12345000 })) << "x86-64 ARCH_DLINFO first";
    EXPECT_EQ(parsed.auxv[1], (std::pair<u64, u64> { at_minsigstksz, 3632 }));
    EXPECT_EQ(parsed.auxv[2].first, at_hwcap);
    EXPECT_EQ(parsed.auxv_value(at_secure), 1u);
}

TEST(InitialStack, NoArgumentsMeansOneEmptyArgv0)
{
    Fixture fixture;
    fixture.input.argc = 0;
    fixture.input.argv = nullptr;
    fixture.input.envc = 0;
    fixture.input.envp = nullptr;
    fixture.input.execfn = nullptr;
    std::vector<u8> buffer(4096);
    u64 const rsp = build_initial_stack(fixture.input, buffer.data(), buffer.size(), user_top).value();
    StackView view { buffer };
    Parsed const parsed = parse(view, rsp);
    EXPECT_EQ(parsed.argc, 1u);
    EXPECT_EQ(parsed.argv, (std::vector<std::string> { "" }));
    EXPECT_TRUE(parsed.envp.empty());
    EXPECT_EQ(view.string(parsed.auxv_value(at_execfn)), "") << "execfn defaults to argv[0]";
}

TEST(InitialStack, AlignmentHoldsForEveryShape)
{
    // Every parity of argc/envc/auxv count and string length, with and without padding.
    std::mt19937 random(99);
    for (int round = 0; round < 500; ++round) {
        std::vector<std::string> strings;
        usize const argc = random() % 6;
        usize const envc = random() % 6;
        for (usize i = 0; i < argc + envc; ++i)
            strings.push_back(std::string(random() % 40, static_cast<char>('a' + i)));
        std::vector<char const*> pointers;
        pointers.reserve(strings.size());
        for (auto const& s : strings)
            pointers.push_back(s.c_str());
        InitialStackInput input;
        input.argv = pointers.data();
        input.argc = argc;
        input.envp = pointers.data() + argc;
        input.envc = envc;
        input.execfn = "/x";
        input.sysinfo_ehdr = random() % 2 ? 0x7fff00000000 : 0;
        input.minsigstksz = random() % 2 ? 2048 : 0;
        input.padding = random() % 4096;
        std::vector<u8> buffer(8192);
        u64 const rsp = build_initial_stack(input, buffer.data(), buffer.size(), user_top).value();
        ASSERT_EQ(rsp % 16, 0u);
        Parsed const parsed = parse(StackView { buffer }, rsp);
        usize const expected_argc = argc == 0 ? 1 : argc;
        ASSERT_EQ(parsed.argc, expected_argc);
        for (usize i = 0; i < argc; ++i)
            EXPECT_EQ(parsed.argv[i], strings[i]);
        ASSERT_EQ(parsed.envp.size(), envc);
        for (usize i = 0; i < envc; ++i)
            EXPECT_EQ(parsed.envp[i], strings[argc + i]);
    }
}

TEST(InitialStack, PaddingMovesTheTablesDown)
{
    Fixture fixture;
    std::vector<u8> buffer(8192);
    u64 const plain = build_initial_stack(fixture.input, buffer.data(), buffer.size(), user_top).value();
    fixture.input.padding = 0x330 + 7; // rounded down to 16
    u64 const padded = build_initial_stack(fixture.input, buffer.data(), buffer.size(), user_top).value();
    EXPECT_EQ(plain - padded, 0x330u);
}

TEST(InitialStack, TooBigIsE2bigAtEverySize)
{
    // Find the exact size needed, then check every smaller buffer fails cleanly. Each buffer is its own
    // allocation of exactly that size, so ASan would catch a write below it.
    Fixture fixture;
    std::vector<u8> roomy(4096);
    u64 const rsp = build_initial_stack(fixture.input, roomy.data(), roomy.size(), user_top).value();
    usize const needed = static_cast<usize>(user_top - rsp);
    for (usize size = 1; size < needed; ++size) {
        std::vector<u8> buffer(size);
        auto result = build_initial_stack(fixture.input, buffer.data(), buffer.size(), user_top);
        ASSERT_TRUE(result.is_error()) << size;
        ASSERT_EQ(result.error().code(), E2BIG) << size;
    }
    std::vector<u8> exact(needed);
    EXPECT_EQ(build_initial_stack(fixture.input, exact.data(), exact.size(), user_top).value(), rsp);
}

TEST(InitialStack, RefusesOverlongStringsAndBadBuffers)
{
    Fixture fixture;
    std::string const huge(max_argument_length, 'x'); // MAX_ARG_STRLEN including the NUL is the limit
    fixture.envp[1] = huge.c_str();
    std::vector<u8> buffer(1 << 20);
    EXPECT_EQ(build_initial_stack(fixture.input, buffer.data(), buffer.size(), user_top).error().code(), E2BIG);
    std::string const fits(max_argument_length - 1, 'x');
    fixture.envp[1] = fits.c_str();
    EXPECT_FALSE(build_initial_stack(fixture.input, buffer.data(), buffer.size(), user_top).is_error());

    EXPECT_EQ(build_initial_stack(fixture.input, nullptr, 100, user_top).error().code(), EINVAL);
    EXPECT_EQ(build_initial_stack(fixture.input, buffer.data(), 0, user_top).error().code(), EINVAL);
    EXPECT_EQ(build_initial_stack(fixture.input, buffer.data(), buffer.size(), user_top - 8).error().code(), EINVAL);
    EXPECT_EQ(build_initial_stack(fixture.input, buffer.data(), buffer.size(), 0x1000).error().code(), EINVAL)
        << "user_top below the buffer size";
    InitialStackInput missing;
    missing.argc = 2;
    EXPECT_EQ(build_initial_stack(missing, buffer.data(), buffer.size(), user_top).error().code(), EINVAL);
}

TEST(InitialStack, SetProgramCopiesThePlan)
{
    ProgramPlan plan;
    plan.phdr = 0x10040;
    plan.phent = 56;
    plan.phnum = 9;
    plan.entry = 0x11000;
    InitialStackInput input;
    set_program(input, plan);
    EXPECT_EQ(input.phdr, 0x10040u);
    EXPECT_EQ(input.phent, 56u);
    EXPECT_EQ(input.phnum, 9u);
    EXPECT_EQ(input.entry, 0x11000u);
}
