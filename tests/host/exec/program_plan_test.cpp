// plan_program(): typical glibc/musl layouts are planned exactly; every refusal the loader promises (issue 3
// item 1) is produced with ENOEXEC and its sentence; random corruption never crashes it.
#include <exec/program_plan.h>

#include "elf_builder.h"

#include <vma/layout.h>

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

using namespace kernite::exec;
using namespace kernite::exec::testing;
using kernite::elf::Diagnostic;
using kernite::elf::Elf64_Phdr;
namespace elf = kernite::elf;

namespace {

// The refusal sentence, or "" when the image is accepted.
std::string refusal(std::vector<u8> const& file)
{
    Diagnostic diagnostic;
    auto plan = plan_program(file.data(), file.size(), &diagnostic);
    if (!plan.is_error())
        return "";
    EXPECT_EQ(plan.error().code(), ENOEXEC);
    char text[256];
    return describe_refusal(plan.error(), diagnostic, text, sizeof(text));
}

std::string refusal(ProgramImage const& image) { return refusal(image.build()); }

// musl's first PT_LOAD holds exactly the headers (0x1c8 bytes); tests that add program headers widen it.
ProgramImage musl_static_with_room()
{
    ProgramImage image = musl_static();
    image.load(0).p_filesz = image.load(0).p_memsz = 0x800;
    return image;
}

ProgramPlan plan_of(ProgramImage const& image)
{
    auto file = image.build();
    auto plan = plan_program(file.data(), file.size());
    EXPECT_FALSE(plan.is_error()) << plan.error().reason();
    return plan.is_error() ? ProgramPlan {} : plan.release_value();
}

} // namespace

TEST(ProgramPlan, GlibcStaticPieLayout)
{
    ProgramPlan plan = plan_of(glibc_static_pie());
    EXPECT_TRUE(plan.position_independent);
    EXPECT_FALSE(plan.bias_applied);
    ASSERT_EQ(plan.segment_count, 4u);
    u32 const expected_prot[] = { prot_read, prot_read | prot_exec, prot_read, prot_read | prot_write };
    u64 const expected_map[][2] = { { 0, 0x9000 }, { 0x9000, 0x82000 }, { 0x82000, 0xac000 }, { 0xac000, 0xb8000 } };
    for (u32 i = 0; i < 4; ++i) {
        EXPECT_EQ(plan.segments[i].prot, expected_prot[i]) << i;
        EXPECT_EQ(plan.segments[i].map_start, expected_map[i][0]) << i;
        EXPECT_EQ(plan.segments[i].map_end, expected_map[i][1]) << i;
        EXPECT_EQ(plan.segments[i].program_header_index, i);
    }
    u64 const expected_offset[] = { 0, 0x9000, 0x82000, 0xab000 };
    for (u32 i = 0; i < 4; ++i)
        EXPECT_EQ(plan.segments[i].map_offset, expected_offset[i]) << i;
    EXPECT_EQ(plan.segments[3].vaddr, 0xac510u);
    EXPECT_EQ(plan.segments[3].file_offset, 0xab510u);
    EXPECT_EQ(plan.segments[3].filesz, 0x5d60u);
    EXPECT_EQ(plan.segments[3].memsz, 0xb530u);
    EXPECT_EQ(plan.span_start, 0u);
    EXPECT_EQ(plan.span_end, 0xb8000u);
    EXPECT_EQ(plan.max_alignment, 0x1000u);
    EXPECT_EQ(plan.entry, 0x95e0u);
    EXPECT_EQ(plan.phdr, 0x40u) << "no PT_PHDR: the first PT_LOAD maps e_phoff 64 at 0x40";
    EXPECT_EQ(plan.phent, 56u);
    EXPECT_EQ(plan.phnum, 12u);
    ASSERT_TRUE(plan.has_tls);
    EXPECT_EQ(plan.tls.vaddr, 0xac510u);
    EXPECT_EQ(plan.tls.filesz, 0x20u);
    EXPECT_EQ(plan.tls.memsz, 0x68u);
    EXPECT_EQ(plan.tls.align, 8u);
    ASSERT_TRUE(plan.has_relro);
    EXPECT_EQ(plan.relro_start, 0xac510u);
    EXPECT_EQ(plan.relro_end, 0xac510u + 0x3af0u);
    EXPECT_EQ(plan.stack_size, 0u);
}

TEST(ProgramPlan, MuslStaticLayout)
{
    ProgramPlan plan = plan_of(musl_static());
    EXPECT_FALSE(plan.position_independent);
    ASSERT_EQ(plan.segment_count, 4u);
    EXPECT_EQ(plan.span_start, 0x400000u);
    EXPECT_EQ(plan.span_end, 0x408000u);
    EXPECT_EQ(plan.segments[3].map_start, 0x406000u);
    EXPECT_EQ(plan.segments[3].map_end, 0x408000u); // 0x406fbc + 0x7fc = 0x4077b8
    EXPECT_EQ(plan.segments[3].prot, prot_read | prot_write);
    EXPECT_EQ(plan.entry, 0x401053u);
    EXPECT_EQ(plan.phdr, 0x400040u);
    EXPECT_EQ(plan.phnum, 7u);
    EXPECT_TRUE(plan.has_tls);
    EXPECT_EQ(plan.tls.align, 4u);
    EXPECT_TRUE(plan.has_relro);
}

TEST(ProgramPlan, PtPhdrGivesTheAddress)
{
    ProgramImage image = musl_static_with_room();
    image.phdrs.insert(image.phdrs.begin(), phdr(pt_phdr, r, 0x40, 0x400040, 8 * 56, 8 * 56, 8));
    ProgramPlan plan = plan_of(image);
    EXPECT_EQ(plan.phdr, 0x400040u);
    EXPECT_EQ(plan.phnum, 8u);
    EXPECT_EQ(plan.segments[0].program_header_index, 1u);

    image.phdrs[0].p_vaddr = 0x400700; // the table (448 bytes) would run past the segment's 0x800 file bytes
    EXPECT_EQ(refusal(image), "PT_PHDR does not lie inside the file bytes of a PT_LOAD segment");
    image.phdrs[0].p_vaddr = 0x401000;
    EXPECT_EQ(refusal(image), "") << "inside the text segment's file bytes is acceptable";
}

TEST(ProgramPlan, GnuStackSizeIsReported)
{
    ProgramImage image = musl_static();
    image.phdrs[static_cast<usize>(image.find(pt_gnu_stack))].p_memsz = 0x200000;
    EXPECT_EQ(plan_of(image).stack_size, 0x200000u);
}

TEST(ProgramPlan, RefusesHeadersThatAreNotALinuxX8664Executable)
{
    auto with = [](auto change) {
        std::vector<u8> file = musl_static().build();
        change(file);
        return refusal(file);
    };
    EXPECT_EQ(refusal(std::vector<u8>(63, 0)), "the file is too small to be an ELF program");
    EXPECT_EQ(with([](auto& f) { f[1] = 'X'; }), "not an ELF file (bad magic number)");
    EXPECT_EQ(with([](auto& f) { f[4] = 1; }), "not a 64-bit ELF program (only x86-64 programs run)");
    EXPECT_EQ(with([](auto& f) { f[5] = 2; }), "not a little-endian ELF program");
    EXPECT_EQ(with([](auto& f) { f[6] = 2; }), "unsupported ELF version (EV_CURRENT expected)");
    EXPECT_EQ(with([](auto& f) { f[7] = 9; }), "not a Linux program (ELF OS/ABI is neither System V nor GNU/Linux)");
    EXPECT_EQ(with([](auto& f) { f[7] = 3; }), "") << "ELFOSABI_GNU is what GNU ld writes for glibc programs";
    EXPECT_EQ(with([](auto& f) { f[18] = 183; }), "not an x86-64 program");                                // EM_AARCH64
    EXPECT_EQ(with([](auto& f) { f[16] = 1; }), "not an executable program (ET_EXEC or ET_DYN expected)"); // ET_REL
    EXPECT_EQ(with([](auto& f) { f[16] = 4; }), "not an executable program (ET_EXEC or ET_DYN expected)"); // ET_CORE
    EXPECT_EQ(with([](auto& f) { f[54] = 32; }), "e_phentsize is not the size of an ELF64 program header");
    EXPECT_EQ(with([](auto& f) { f[56] = 0; }), "the program header count is zero or too large");
    EXPECT_EQ(with([](auto& f) { f[56] = 0xff, f[57] = 0xff; }), "the program header count is zero or too large");
    EXPECT_EQ(with([](auto& f) { f[33] = 0x90; }), "the program header table lies outside the file"); // e_phoff
    EXPECT_EQ(with([](auto& f) { std::memset(&f[32], 0xff, 8); }), "the program header table lies outside the file");
}

TEST(ProgramPlan, RefusesDynamicPrograms)
{
    ProgramImage image = glibc_static_pie();
    image.phdrs.insert(image.phdrs.begin() + 1, phdr(elf::pt_interp, r, 0x318, 0x318, 0x1c, 0x1c, 1));
    EXPECT_EQ(refusal(image), "dynamically linked programs are not supported yet: link with -static or -static-pie");
}

TEST(ProgramPlan, RefusesAnExecutableStack)
{
    ProgramImage image = glibc_static_pie();
    image.phdrs[static_cast<usize>(image.find(pt_gnu_stack))].p_flags = rw | elf::pf_x;
    EXPECT_EQ(refusal(image),
        "the program asks for an executable stack (PT_GNU_STACK with X); Kernite refuses W+X memory");
}

TEST(ProgramPlan, RefusesWritableAndExecutableSegments)
{
    ProgramImage image = musl_static();
    image.load(3).p_flags = rw | elf::pf_x;
    EXPECT_EQ(refusal(image), "segment 3 is writable and executable");
    image = musl_static();
    image.load(1).p_flags = elf::pf_w | elf::pf_x; // even without R
    EXPECT_EQ(refusal(image), "segment 1 is writable and executable");
}

TEST(ProgramPlan, RefusesOffsetAndAddressNotCongruentModuloThePage)
{
    ProgramImage image = musl_static();
    image.load(3).p_offset = 0x5fb4; // still congruent modulo p_align 8, not modulo the page
    image.load(3).p_align = 8;
    EXPECT_EQ(refusal(image), "segment 3 has p_offset and p_vaddr not congruent modulo the page size");
    image.load(3).p_align = 0x1000; // libs/elf's gABI check fires first with the page-sized p_align
    EXPECT_EQ(refusal(image), "segment 3 has p_vaddr and p_offset not congruent modulo p_align");
}

TEST(ProgramPlan, RefusesFileSizeAboveMemorySize)
{
    ProgramImage image = musl_static();
    image.load(3).p_filesz = image.load(3).p_memsz + 1;
    EXPECT_EQ(refusal(image), "segment 3 has p_filesz larger than p_memsz");
}

TEST(ProgramPlan, RefusesFileRangesOutsideTheImage)
{
    ProgramImage image = musl_static();
    image.file_size = 0x5fbc + 0x153; // one byte short of the RW segment's file bytes
    EXPECT_EQ(refusal(image), "segment 3 has file bytes outside the file");
    image = musl_static();
    image.load(2).p_offset = 0xfffffffffffff000ull; // offset + filesz overflows
    image.load(2).p_vaddr = 0x405000;
    EXPECT_EQ(refusal(image), "segment 2 has file bytes outside the file");
}

TEST(ProgramPlan, RefusesOverlappingSegments)
{
    ProgramImage image = musl_static();
    image.load(2).p_vaddr = 0x404000; // R at [0x404000, 0x404c74) inside the text [0x401000, 0x404bb7)
    image.load(2).p_offset = 0x4000;
    EXPECT_EQ(refusal(image), "segment 2 overlaps segment 1");
}

TEST(ProgramPlan, RefusesSharingAPageWithDifferentPermissions)
{
    // The RW segment starts in the last page of the R one (0x405000..0x405c74): one page cannot be both.
    ProgramImage image = musl_static();
    image.load(3).p_vaddr = 0x405c80;
    image.load(3).p_offset = 0x5c80;
    EXPECT_EQ(refusal(image), "segment 3 shares a page, with different permissions, with segment 2");
}

TEST(ProgramPlan, SharesAPageBetweenSegmentsWithTheSamePermissions)
{
    // Read-only segments meeting inside page 0x405000: one ends there, one lies wholly inside it, one starts
    // there and runs into page 0x406000, where the RW segment (0x406fbc) starts.
    ProgramImage image = musl_static_with_room();
    image.load(2).p_filesz = image.load(2).p_memsz = 0x800; // [0x405000, 0x405800)
    image.phdrs.insert(image.phdrs.begin() + 3, phdr(elf::pt_load, r, 0x5900, 0x405900, 0x100, 0x100, 0x1000));
    image.phdrs.insert(image.phdrs.begin() + 4, phdr(elf::pt_load, r, 0x5c00, 0x405c00, 0x800, 0x800, 0x1000));
    EXPECT_EQ(refusal(image), "segment 5 shares a page, with different permissions, with segment 4");

    image.phdrs.erase(image.phdrs.begin() + 5, image.phdrs.end()); // without RW, PT_TLS and PT_GNU_RELRO
    ProgramPlan plan = plan_of(image);
    ASSERT_EQ(plan.segment_count, 5u);
    EXPECT_EQ(plan.segments[2].map_start, 0x405000u);
    EXPECT_EQ(plan.segments[2].map_end, 0x406000u);
    EXPECT_EQ(plan.segments[3].map_start, 0x406000u) << "the shared page belongs to the earlier segment";
    EXPECT_EQ(plan.segments[3].map_end, 0x406000u) << "wholly inside the shared page: owns nothing";
    EXPECT_EQ(plan.segments[4].map_start, 0x406000u);
    EXPECT_EQ(plan.segments[4].map_end, 0x407000u);
    EXPECT_EQ(plan.segments[4].map_offset, 0x6000u) << "file offset 0x5c00 + (0x406000 - 0x405c00)";
    EXPECT_EQ(plan.segments[3].map_offset, 0x6000u);
    EXPECT_EQ(plan.span_end, 0x407000u);
    for (u32 i = 1; i < plan.segment_count; ++i)
        EXPECT_GE(plan.segments[i].map_start, plan.segments[i - 1].map_end) << "owned pages are disjoint";
}

TEST(ProgramPlan, RefusesAddressesOutsideTheUserHalf)
{
    ProgramImage image = glibc_static_pie();
    image.load(3).p_vaddr = 0x800000000000ull + 0x510; // non-canonical for a user address
    image.load(3).p_offset = 0xab510;
    EXPECT_EQ(refusal(image), "segment 3 lies outside the user address space (the canonical lower half below 2^47)");
    image = glibc_static_pie();
    image.load(3).p_vaddr = 0xfffffffffffff510ull; // vaddr + memsz overflows
    EXPECT_EQ(refusal(image), "segment 3 lies outside the user address space (the canonical lower half below 2^47)");
    image = glibc_static_pie();
    image.load(3).p_vaddr = 0x7ffffffff510ull; // ends past the last user page
    EXPECT_EQ(refusal(image), "segment 3 lies outside the user address space (the canonical lower half below 2^47)");
}

TEST(ProgramPlan, RefusesStaticProgramsBelow64KiB)
{
    ProgramImage image = musl_static();
    for (auto& header : image.phdrs) {
        if (header.p_type == elf::pt_load)
            header.p_vaddr -= 0x400000 - 0x1000; // linked at 0x1000
    }
    image.header.e_entry -= 0x400000 - 0x1000;
    EXPECT_EQ(refusal(image),
        "segment 0 would be mapped below 64 KiB, where nothing is ever mapped (null-pointer guard)");

    // A static-PIE linked at 0 is fine: the load bias moves it.
    EXPECT_EQ(refusal(glibc_static_pie()), "");
}

TEST(ProgramPlan, RefusesProgramsWithoutLoadSegments)
{
    ProgramImage image = musl_static();
    for (auto& header : image.phdrs) {
        if (header.p_type == elf::pt_load)
            header.p_type = elf::pt_note;
    }
    EXPECT_EQ(refusal(image), "the program has no PT_LOAD segment");
    image = musl_static(); // empty PT_LOADs load nothing and do not count
    for (auto& header : image.phdrs) {
        if (header.p_type == elf::pt_load)
            header.p_filesz = header.p_memsz = 0;
    }
    EXPECT_EQ(refusal(image), "the program has no PT_LOAD segment");
}

TEST(ProgramPlan, SixteenLoadSegmentsAtMost)
{
    ProgramImage image = musl_static_with_room();
    image.phdrs.resize(4);
    // Twelve more read-only one-page segments above the RW one: sixteen in all.
    for (u64 i = 0; i < 12; ++i)
        image.phdrs.push_back(phdr(elf::pt_load, r, 0, 0x500000 + 0x1000 * i, 0x100, 0x100, 0x1000));
    ProgramPlan plan = plan_of(image);
    EXPECT_EQ(plan.segment_count, 16u);
    EXPECT_EQ(plan.span_end, 0x50c000u);
    image.phdrs.push_back(phdr(elf::pt_load, r, 0, 0x600000, 0x100, 0x100, 0x1000));
    EXPECT_EQ(refusal(image), "the program has more than 16 PT_LOAD segments");
}

TEST(ProgramPlan, RefusesAnEntryOutsideExecutableMemory)
{
    ProgramImage image = musl_static();
    image.header.e_entry = 0x405010; // read-only data
    EXPECT_EQ(refusal(image), "segment 2 contains the entry point but is not executable");
    image.header.e_entry = 0x409000; // nothing there
    EXPECT_EQ(refusal(image), "entry point is not inside any PT_LOAD segment");
    image.header.e_entry = 0x404bb6; // the text's last byte
    EXPECT_EQ(refusal(image), "");
}

TEST(ProgramPlan, RefusesSegmentsOutOfOrder)
{
    ProgramImage image = musl_static();
    std::swap(image.phdrs[1], image.phdrs[2]);
    EXPECT_EQ(refusal(image), "segment 2 is not in ascending p_vaddr order after segment 1");
}

TEST(ProgramPlan, RefusesAProgramHeaderTableThatIsNotLoaded)
{
    ProgramImage image = musl_static();
    image.header.e_phoff = 0x6200; // after every segment's file bytes
    image.file_size = 0x8000;
    EXPECT_EQ(refusal(image), "the program header table is not inside any PT_LOAD segment and there is no PT_PHDR");
}

TEST(ProgramPlan, ChecksTlsAndRelro)
{
    ProgramImage image = musl_static_with_room();
    Elf64_Phdr& tls = image.phdrs[static_cast<usize>(image.find(pt_tls))];
    tls.p_filesz = 8;
    tls.p_memsz = 4;
    EXPECT_EQ(refusal(image), "PT_TLS has p_filesz larger than p_memsz");
    tls.p_filesz = tls.p_memsz = 4;
    tls.p_align = 3;
    EXPECT_EQ(refusal(image), "PT_TLS has an invalid alignment");
    tls.p_align = 4;
    tls.p_vaddr = 0x407200; // in the RW segment's zero fill (file bytes end at 0x407110)
    EXPECT_EQ(refusal(image), "PT_TLS initial image does not lie inside the file bytes of a PT_LOAD segment");
    tls.p_vaddr = 0xfffffffffffffff0ull;
    EXPECT_EQ(refusal(image), "PT_TLS lies outside the user address space");
    tls.p_vaddr = 0x406fbc;
    image.phdrs.push_back(image.phdrs[static_cast<usize>(image.find(pt_tls))]);
    EXPECT_EQ(refusal(image), "segment 7 is a second PT_TLS");

    image = musl_static();
    Elf64_Phdr& relro = image.phdrs[static_cast<usize>(image.find(pt_gnu_relro))];
    relro.p_memsz = 0x1000; // past the RW segment's end (0x4077b8)
    EXPECT_EQ(refusal(image), "PT_GNU_RELRO does not lie inside one PT_LOAD segment");
    relro.p_memsz = 0;
    EXPECT_FALSE(plan_of(image).has_relro) << "an empty RELRO is no RELRO";
}

TEST(ProgramPlan, NoDiagnosticPointerIsFine)
{
    ProgramImage image = musl_static();
    image.load(3).p_flags = rw | elf::pf_x;
    auto file = image.build();
    auto plan = plan_program(file.data(), file.size());
    ASSERT_TRUE(plan.is_error());
    EXPECT_EQ(plan.error().code(), ENOEXEC);
    EXPECT_STREQ(plan.error().reason(), "is writable and executable");
    EXPECT_TRUE(plan_program(nullptr, 0).is_error());
}

// Hostile images: random corruption of the header and program headers must give either a refusal or a plan
// whose promises hold, never a crash or an out-of-bounds read (ASan).
TEST(ProgramPlan, SurvivesRandomCorruption)
{
    std::mt19937_64 random(12345);
    std::vector<u8> const pristine[] = { glibc_static_pie().build(), musl_static().build() };
    std::vector<u8> files[] = { pristine[0], pristine[1] };
    usize const table_end = 64 + 12 * 56; // the header and the largest program-header table
    int accepted = 0;
    for (int round = 0; round < 20000; ++round) {
        std::vector<u8>& file = files[round & 1];
        std::memcpy(file.data(), pristine[round & 1].data(), table_end); // undo the previous round
        int const flips = 1 + static_cast<int>(random() % 4);
        for (int i = 0; i < flips; ++i) {
            usize const at = random() % table_end;
            if (random() % 2)
                file[at] ^= static_cast<u8>(1u << (random() % 8));
            else
                file[at] = static_cast<u8>(random());
        }
        usize const size = random() % 8 == 0 ? random() % file.size() : file.size(); // truncated images too
        auto plan = plan_program(file.data(), size);
        if (plan.is_error()) {
            EXPECT_EQ(plan.error().code(), ENOEXEC);
            continue;
        }
        ++accepted;
        ProgramPlan const& p = plan.value();
        ASSERT_GE(p.segment_count, 1u);
        ASSERT_LE(p.segment_count, max_program_segments);
        for (u32 s = 0; s < p.segment_count; ++s) {
            ProgramSegment const& segment = p.segments[s];
            EXPECT_LE(segment.filesz, segment.memsz);
            EXPECT_LE(segment.file_offset + segment.filesz, size);
            EXPECT_LE(segment.vaddr + segment.memsz, kernite::vma::user_address_limit);
            EXPECT_FALSE((segment.prot & prot_write) && (segment.prot & prot_exec));
            EXPECT_LE(segment.map_start, segment.map_end);
            if (s > 0) {
                EXPECT_GE(segment.map_start, p.segments[s - 1].map_end);
            }
        }
    }
    EXPECT_GT(accepted, 100) << "corruption of unused fields should still be accepted";
}
