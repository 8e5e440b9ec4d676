// `kernite checksec`: each protection judged on small ELF files built here byte by byte (checksec_test_elf.h).
#include "checksec_test_elf.h"

using namespace kernite;
using namespace kernite::monitor;
using namespace kernite::monitor::checksec_test;

TEST(Checksec, HardenedProgramCarriesEverythingItShould)
{
    auto report = analyse(hardened_program().build());
    EXPECT_EQ(report.kind, BinaryKind::Program);
    EXPECT_TRUE(report.pie.present) << report.pie.evidence;
    EXPECT_TRUE(report.nx.present) << report.nx.evidence;
    EXPECT_TRUE(report.wx_free.present) << report.wx_free.evidence;
    EXPECT_TRUE(report.canary.present) << report.canary.evidence;
    EXPECT_EQ(report.canary_method, "symbol");
    EXPECT_EQ(report.canary_sites, 3u);
    EXPECT_TRUE(report.relro.present) << report.relro.evidence;
    EXPECT_TRUE(report.cfi.present) << report.cfi.evidence; // 4/4 function entries are endbr64
    EXPECT_EQ(report.functions, 4u);
    EXPECT_EQ(report.functions_with_endbr, 4u);
    EXPECT_FALSE(report.kasan.present);
    EXPECT_FALSE(report.ubsan.present);
    EXPECT_FALSE(report.fortify.present);
    EXPECT_FALSE(report.hardened_heap.present);
    EXPECT_FALSE(report.note.present);
}

TEST(Checksec, DefinedButNeverCalledStackCheckIsNoCanary)
{
    // Our baseline kernel defines __stack_chk_fail without calling it: its presence proves nothing.
    auto elf = hardened_program();
    elf.segments[0].bytes = Bytes(0x900, 0x90);
    auto report = analyse(elf.build());
    EXPECT_FALSE(report.canary.present) << report.canary.evidence;
    EXPECT_EQ(report.canary_method, "symbol");
    EXPECT_EQ(report.canary_sites, 0u);
    EXPECT_FALSE(report.cfi.present); // no endbr64 left
}

TEST(Checksec, StrippedProgramsAreJudgedByACodeScan)
{
    TestElf elf;
    Bytes code(64, 0x90);
    code.insert(code.begin() + 8, std::begin(tls_canary_load), std::end(tls_canary_load));
    elf.add(elf::pt_load, elf::pf_r | elf::pf_x, text_vaddr, code);
    elf.add(checksec::pt_gnu_stack, elf::pf_r | elf::pf_w, 0, {});
    auto report = analyse(elf.build());
    EXPECT_FALSE(report.has_symbols);
    EXPECT_TRUE(report.canary.present) << report.canary.evidence;
    EXPECT_EQ(report.canary_method, "code-scan");
    EXPECT_EQ(report.canary_sites, 1u);

    elf.segments[0].bytes = Bytes(64, 0x90);
    report = analyse(elf.build());
    EXPECT_FALSE(report.canary.present);
    EXPECT_EQ(report.canary_method, "code-scan");
}

TEST(Checksec, ImportedRuntimesCountThroughRelocationsAndUndefinedSymbols)
{
    auto elf = hardened_program();
    elf.segments[0].bytes = Bytes(64, 0x90);
    // __asan_load8 is neither undefined nor a call target: only the relocation names it.
    elf.dynamic_symbols = { { "__stack_chk_fail", 0, 0, checksec::stt_func, false },
        { "__memcpy_chk", 0, 0, checksec::stt_func, false }, { "__asan_load8", 0, 0, checksec::stt_func, true } };
    // R_X86_64_JUMP_SLOT (7) against dynamic symbol 3 (__asan_load8).
    elf.relocations = { { data_vaddr, (u64(3) << 32) | 7, 0 } };
    auto report = analyse(elf.build());
    EXPECT_TRUE(report.canary.present) << report.canary.evidence;
    EXPECT_EQ(report.canary_method, "import");
    EXPECT_TRUE(report.fortify.present) << report.fortify.evidence;
    EXPECT_TRUE(report.kasan.present) << report.kasan.evidence;
    EXPECT_FALSE(report.ubsan.present);
}

TEST(Checksec, SanitizerAndFortifyCallsAreFound)
{
    auto elf = hardened_program();
    u64 const ubsan = text_vaddr + 0x800;
    u64 const fortify = text_vaddr + 0x810;
    Bytes code = code_calling(text_vaddr, ubsan, 2, false);
    Bytes more = code_calling(text_vaddr + code.size(), fortify, 1, false);
    code.insert(code.end(), more.begin(), more.end());
    code.resize(0x820, 0xcc);
    elf.segments[0].bytes = code;
    elf.symbols = { { "__ubsan_handle_add_overflow", ubsan, 8 }, { "__strcpy_chk", fortify, 8 } };
    auto report = analyse(elf.build());
    EXPECT_TRUE(report.ubsan.present);
    EXPECT_EQ(report.ubsan_sites, 2u);
    EXPECT_TRUE(report.fortify.present);
    EXPECT_EQ(report.fortify_sites, 1u);
    EXPECT_FALSE(report.kasan.present);
    EXPECT_FALSE(report.canary.present);
}

TEST(Checksec, WritableAndExecutableIsReportedNotRefused)
{
    auto elf = hardened_program();
    elf.segments[1].flags = elf::pf_r | elf::pf_w | elf::pf_x;
    auto report = analyse(elf.build());
    EXPECT_FALSE(report.wx_free.present);
    EXPECT_FALSE(report.nx.present);
    EXPECT_NE(report.wx_free.evidence.find("segment 1"), std::string::npos) << report.wx_free.evidence;
}

TEST(Checksec, StackPermissionsDecideNx)
{
    auto elf = hardened_program();
    elf.segments.erase(elf.segments.begin() + 2); // no PT_GNU_STACK: Linux gives an executable stack
    auto report = analyse(elf.build());
    EXPECT_FALSE(report.nx.present) << report.nx.evidence;
    EXPECT_TRUE(report.wx_free.present);

    elf = hardened_program();
    elf.segments[2].flags = elf::pf_r | elf::pf_w | elf::pf_x;
    report = analyse(elf.build());
    EXPECT_FALSE(report.nx.present);
    EXPECT_FALSE(report.wx_free.present);
}

TEST(Checksec, FixedAddressProgramIsNotPieAndHasNoRelroWithoutTheHeader)
{
    auto elf = hardened_program();
    elf.type = elf::et_exec;
    elf.segments.erase(elf.segments.begin() + 3); // PT_GNU_RELRO
    auto report = analyse(elf.build());
    EXPECT_FALSE(report.pie.present) << report.pie.evidence;
    EXPECT_FALSE(report.relro.present);
}

TEST(Checksec, IbtPropertyNoteMeansCfi)
{
    auto elf = hardened_program();
    elf.segments[0].bytes = Bytes(64, 0x90); // no endbr64 at entries
    Bytes property;
    append(property, u32(0xc0000002)); // GNU_PROPERTY_X86_FEATURE_1_AND
    append(property, u32(4));
    append(property, u32(1)); // IBT
    append(property, u32(0)); // padding to 8
    elf.add(elf::pt_note, elf::pf_r, 0, make_note("GNU", 5, property, 8));
    elf.segments.back().alignment = 8; // 8-byte note padding (x86-64 psABI "Program Property")
    auto report = analyse(elf.build());
    EXPECT_TRUE(report.cfi.present) << report.cfi.evidence;

    property[8] = 2; // SHSTK only
    elf.segments.back().bytes = make_note("GNU", 5, property, 8);
    report = analyse(elf.build());
    EXPECT_FALSE(report.cfi.present) << report.cfi.evidence;

    // A last property whose padding the descriptor leaves out: the walk stops at the descriptor's end.
    Bytes odd;
    append(odd, u32(0xc0000001));
    append(odd, u32(5));
    odd.insert(odd.end(), { 1, 2, 3, 4, 5 });
    elf.segments.back().bytes = make_note("GNU", 5, odd, 8);
    report = analyse(elf.build());
    EXPECT_FALSE(report.cfi.present) << report.cfi.evidence;
}

TEST(Checksec, KernelImageIsPieThroughRelocationsAndTheLayoutNote)
{
    auto report = analyse(kernel_image(hardened_note).build());
    EXPECT_EQ(report.kind, BinaryKind::Kernel);
    EXPECT_EQ(report.elf_type, elf::et_exec);
    EXPECT_TRUE(report.pie.present) << report.pie.evidence;
    EXPECT_EQ(report.relative_relocations, 2u);
    EXPECT_TRUE(report.nx.present) << report.nx.evidence; // no PT_GNU_STACK needed: stacks are in its data
    EXPECT_TRUE(report.wx_free.present);
    EXPECT_TRUE(report.relro.present) << report.relro.evidence;
    EXPECT_NE(report.relro.evidence.find("segment 1"), std::string::npos);
    EXPECT_TRUE(report.canary.present);
    EXPECT_EQ(report.canary_sites, 2u);
    EXPECT_TRUE(report.hardened_heap.present);
    EXPECT_TRUE(report.note.present);
    EXPECT_EQ(report.note.value("profile"), "hardened");
    EXPECT_TRUE(report.note_mismatches.empty());
}

TEST(Checksec, KernelWithoutRelocationsIsNotPie)
{
    auto elf = kernel_image(hardened_note);
    elf.relocations.clear();
    auto report = analyse(elf.build());
    EXPECT_FALSE(report.pie.present) << report.pie.evidence;
}

TEST(Checksec, KernelLayoutRangeThatIsWritableAndExecutableIsNotWxFree)
{
    auto report = analyse(kernel_image(hardened_note, 0x17).build()); // text range R W X
    EXPECT_FALSE(report.wx_free.present);
    EXPECT_NE(report.wx_free.evidence.find("layout range 0"), std::string::npos) << report.wx_free.evidence;
}

TEST(Checksec, FeatureNoteThatDisagreesWithTheBinaryIsFlagged)
{
    auto elf = kernel_image({ "version=1", "profile=baseline", "stack_protector=none", "heap=simple", "kasan=on" });
    auto report = analyse(elf.build());
    EXPECT_FALSE(report.hardened_heap.present);
    ASSERT_EQ(report.note_mismatches.size(), 2u);
    EXPECT_EQ(report.note_mismatches[0], "canary"); // the code calls __stack_chk_fail
    EXPECT_EQ(report.note_mismatches[1], "kasan");  // no __asan_* anywhere
}

TEST(Checksec, KernelWithoutFeatureNoteHasNoHardenedHeap)
{
    auto report = analyse(kernel_image({}).build());
    EXPECT_FALSE(report.note.present);
    EXPECT_FALSE(report.hardened_heap.present);
}

// -fzero-call-used-regs=used-gpr: a zeroing xor of a call-clobbered register right before a function's ret.
TEST(Checksec, ZeroingBeforeReturnsIsZeroRegs)
{
    auto elf = hardened_program();
    Bytes code;
    for (int i = 0; i < 3; ++i) { // three functions: endbr64; xor %esi,%esi; xor %r8d,%r8d; ret
        code.insert(code.end(), std::begin(endbr64), std::end(endbr64));
        code.insert(code.end(), { 0x31, 0xf6, 0x45, 0x31, 0xc0, 0xc3 });
        pad_to(code, 16);
    }
    code.resize(elf.segments[0].bytes.size(), 0xcc);
    elf.segments[0].bytes = code;
    elf.symbols = { { "f0", text_vaddr, 10 }, { "f1", text_vaddr + 16, 10 }, { "f2", text_vaddr + 32, 10 } };
    auto report = analyse(elf.build());
    EXPECT_TRUE(report.zero_regs.present) << report.zero_regs.evidence;
    EXPECT_EQ(report.functions_with_ret, 3u);
    EXPECT_EQ(report.functions_zeroing_regs, 3u);
    EXPECT_FALSE(report.return_scan_stopped);
}

TEST(Checksec, PlainReturnsAndReturnZeroAreNoZeroRegs)
{
    // hardened_program's functions end in a plain ret; `xor %eax,%eax; ret` is `return 0`, not zeroing; and a
    // zeroing xor followed by something other than ret does not count either.
    auto report = analyse(hardened_program().build());
    EXPECT_FALSE(report.zero_regs.present) << report.zero_regs.evidence;
    EXPECT_EQ(report.functions_with_ret, 3u);
    EXPECT_EQ(report.functions_zeroing_regs, 0u);

    auto elf = hardened_program();
    Bytes code = { 0x31, 0xc0, 0xc3 }; // xor %eax,%eax; ret
    pad_to(code, 16);
    code.insert(code.end(), { 0x31, 0xff, 0x90, 0xc3 }); // xor %edi,%edi; nop; ret
    code.resize(elf.segments[0].bytes.size(), 0xcc);
    elf.segments[0].bytes = code;
    elf.symbols = { { "return_zero", text_vaddr, 3 }, { "other", text_vaddr + 16, 4 } };
    report = analyse(elf.build());
    EXPECT_FALSE(report.zero_regs.present) << report.zero_regs.evidence;
    EXPECT_EQ(report.functions_with_ret, 2u);
    EXPECT_EQ(report.functions_zeroing_regs, 0u);
}

TEST(Checksec, FunctionsRunningPastTheirSegmentAreNotScanned)
{
    auto elf = hardened_program();
    elf.symbols = { { "too_long", text_vaddr, 0x100000 } }; // larger than the text segment's file bytes
    auto report = analyse(elf.build());
    EXPECT_EQ(report.functions, 1u);
    EXPECT_EQ(report.functions_with_ret, 0u);
    EXPECT_FALSE(report.zero_regs.present);
}

TEST(Checksec, ZeroRegsClaimedByTheNoteAndMissingInTheCodeIsFlagged)
{
    auto elf
        = kernel_image({ "version=1", "profile=hardened", "stack_protector=strong", "heap=hardened", "zero_regs=on" });
    auto report = analyse(elf.build());
    EXPECT_FALSE(report.zero_regs.present) << report.zero_regs.evidence;
    ASSERT_EQ(report.note_mismatches.size(), 1u);
    EXPECT_EQ(report.note_mismatches[0], "zero_regs");
}

TEST(Checksec, OverlappingHugeFunctionSymbolsDoNotMakeTheReturnScanQuadratic)
{
    // A hostile symbol table: 20,000 functions, each spanning from its start to the end of a 64 KiB text
    // segment. Read in full that would be ~650 MB of scanning; the budget (4x the code plus 1 MiB) stops it.
    auto elf = hardened_program();
    constexpr u64 text_size = 64 * 1024;
    elf.segments[0].bytes = Bytes(text_size, 0xc3);
    elf.symbols.clear();
    for (u64 i = 0; i < 20000; ++i)
        elf.symbols.push_back({ "f" + std::to_string(i), text_vaddr + i, text_size - i });
    auto report = analyse(elf.build());
    EXPECT_EQ(report.functions, 20000u);
    EXPECT_TRUE(report.return_scan_stopped);
    EXPECT_LT(report.functions_with_ret, 20000u);
    EXPECT_GT(report.functions_with_ret, 0u);
    EXPECT_NE(report.zero_regs.evidence.find("scan stopped"), std::string::npos) << report.zero_regs.evidence;
}
