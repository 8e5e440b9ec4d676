// libs/elf validation against hand-built hostile images (all built in memory).
#include <elf/image.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

using namespace kernite::elf;

namespace {

constexpr u64 mib = 1ull << 20;
constexpr u64 high_half = 0xffffffff80000000ull;
constexpr u64 memory_size = 128 * mib;

struct Segment {
    u32 type { pt_load };
    u32 flags { pf_r };
    u64 offset { 0 };
    u64 vaddr { 0 };
    u64 paddr { 0 };
    u64 filesz { 0 };
    u64 memsz { 0 };
    u64 align { 0x1000 };
};

// A valid kernel-like image: text RX at 1 MiB, data RW at 1 MiB + 8 KiB, entry at the start of text.
struct Builder {
    Elf64_Ehdr header {};
    std::vector<Segment> segments;
    u64 file_size { 0x4000 };

    Builder()
    {
        std::memcpy(header.e_ident, elf_magic, 4);
        header.e_ident[ei_class] = elfclass64;
        header.e_ident[ei_data] = elfdata2lsb;
        header.e_ident[ei_version] = ev_current;
        header.e_type = et_exec;
        header.e_machine = em_x86_64;
        header.e_version = ev_current;
        header.e_entry = high_half + mib;
        header.e_phoff = sizeof(Elf64_Ehdr);
        header.e_phentsize = sizeof(Elf64_Phdr);
        header.e_ehsize = sizeof(Elf64_Ehdr);
        segments.push_back({ pt_load, pf_r | pf_x, 0x1000, high_half + mib, mib, 0x1000, 0x1000, 0x1000 });
        segments.push_back({ pt_note, pf_r, 0x1800, 0, 0, 0x10, 0x10, 4 });
        segments.push_back(
            { pt_load, pf_r | pf_w, 0x2000, high_half + mib + 0x2000, mib + 0x2000, 0x1000, 0x3000, 0x1000 });
    }

    std::vector<u8> build()
    {
        if (header.e_phnum == 0 || header.e_phnum == segments.size())
            header.e_phnum = static_cast<u16>(segments.size());
        std::vector<u8> file(file_size, 0);
        std::memcpy(file.data(), &header, std::min<u64>(sizeof(header), file.size()));
        for (usize i = 0; i < segments.size(); ++i) {
            Segment const& s = segments[i];
            Elf64_Phdr phdr { s.type, s.flags, s.offset, s.vaddr, s.paddr, s.filesz, s.memsz, s.align };
            u64 at = 0;
            if (!__builtin_add_overflow(header.e_phoff, i * sizeof(Elf64_Phdr), &at) && at <= file.size()
                && file.size() - at >= sizeof(phdr))
                std::memcpy(file.data() + at, &phdr, sizeof(phdr));
        }
        return file;
    }
};

LoadPolicy kernel_policy() { return { AddressKind::Physical, mib, memory_size }; }

// Returns the refusal sentence, or "" when the image is accepted.
std::string refusal(std::vector<u8> const& file, LoadPolicy policy = kernel_policy())
{
    Diagnostic diagnostic;
    auto image = parse_loadable_image(file.data(), file.size(), policy, &diagnostic);
    if (!image.is_error())
        return "";
    char text[200];
    return format_refusal(image.error(), diagnostic, text, sizeof(text));
}

} // namespace

TEST(Elf, AcceptsValidImage)
{
    Builder builder;
    auto file = builder.build();
    auto image = parse_loadable_image(file.data(), file.size(), kernel_policy());
    ASSERT_FALSE(image.is_error()) << image.error().reason();
    EXPECT_EQ(image.value().segment_count, 2u);
    EXPECT_EQ(image.value().entry_load_address, mib);
    EXPECT_EQ(image.value().segments[1].load_address, mib + 0x2000);
    EXPECT_EQ(image.value().segments[1].program_header_index, 2u);
}

TEST(Elf, TranslatesEntryInsideSegment)
{
    Builder builder;
    builder.header.e_entry = high_half + mib + 0x123;
    auto file = builder.build();
    auto image = parse_loadable_image(file.data(), file.size(), kernel_policy());
    ASSERT_FALSE(image.is_error());
    EXPECT_EQ(image.value().entry_load_address, mib + 0x123);
}

TEST(Elf, VirtualPolicyUsesVaddr)
{
    Builder builder;
    for (auto& s : builder.segments)
        s.vaddr = s.vaddr - high_half + 0x400000;
    builder.header.e_entry = 0x400000 + mib;
    builder.header.e_type = et_dyn;
    auto file = builder.build();
    auto image = parse_loadable_image(file.data(), file.size(), { AddressKind::Virtual, 0x10000, 1ull << 47 });
    ASSERT_FALSE(image.is_error()) << image.error().reason();
    EXPECT_EQ(image.value().entry_load_address, 0x400000 + mib);
}

TEST(Elf, RefusesTruncatedFiles)
{
    auto file = Builder().build();
    for (usize size : { 0ul, 1ul, 4ul, 63ul }) {
        std::vector<u8> truncated(file.begin(), file.begin() + static_cast<long>(size));
        EXPECT_EQ(refusal(truncated), "file is too small for an ELF header") << size;
    }
    std::vector<u8> headers_only(file.begin(), file.begin() + 100); // program headers cut off
    EXPECT_EQ(refusal(headers_only), "program header table lies outside the file");
    EXPECT_TRUE(parse_loadable_image(nullptr, 100, kernel_policy()).is_error());
}

TEST(Elf, RefusesBadIdentification)
{
    Builder builder;
    builder.header.e_ident[1] = 'X';
    EXPECT_EQ(refusal(builder.build()), "not an ELF file (bad magic)");
    builder = Builder();
    builder.header.e_ident[ei_class] = 1;
    EXPECT_EQ(refusal(builder.build()), "not a 64-bit ELF file (ELFCLASS64 expected)");
    builder = Builder();
    builder.header.e_ident[ei_data] = 2;
    EXPECT_EQ(refusal(builder.build()), "not a little-endian ELF file");
    builder = Builder();
    builder.header.e_version = 2;
    EXPECT_EQ(refusal(builder.build()), "unsupported ELF version (EV_CURRENT expected)");
    builder = Builder();
    builder.header.e_machine = 3; // EM_386
    EXPECT_EQ(refusal(builder.build()), "not an x86-64 ELF file (EM_X86_64 expected)");
    builder = Builder();
    builder.header.e_type = 1; // ET_REL
    EXPECT_EQ(refusal(builder.build()), "not an executable (ET_EXEC or ET_DYN expected)");
    builder = Builder();
    builder.header.e_phentsize = 32;
    EXPECT_EQ(refusal(builder.build()), "e_phentsize is not sizeof(Elf64_Phdr)");
}

TEST(Elf, RefusesProgramHeadersOutsideFile)
{
    Builder builder;
    builder.header.e_phoff = builder.file_size - 10;
    EXPECT_EQ(refusal(builder.build()), "program header table lies outside the file");
    builder = Builder();
    builder.header.e_phoff = ~0ull - 8; // overflows phoff + phnum * 56
    EXPECT_EQ(refusal(builder.build()), "program header table lies outside the file");
    builder = Builder();
    builder.header.e_phnum = pn_xnum;
    EXPECT_EQ(refusal(builder.build()), "too many program headers");
}

TEST(Elf, RefusesFileSizeLargerThanMemorySize)
{
    Builder builder;
    builder.segments[0].filesz = builder.segments[0].memsz + 1;
    EXPECT_EQ(refusal(builder.build()), "segment 0 has p_filesz larger than p_memsz");
}

TEST(Elf, RefusesSegmentBytesOutsideFile)
{
    Builder builder;
    builder.segments[2].offset = builder.file_size - 0x800;
    EXPECT_EQ(refusal(builder.build()), "segment 2 has file bytes outside the file");
    builder = Builder();
    builder.segments[2].offset = ~0ull - 0x10; // offset + filesz overflows
    builder.segments[2].align = 0;
    EXPECT_EQ(refusal(builder.build()), "segment 2 has file bytes outside the file");
}

TEST(Elf, RefusesSegmentOutsideMemory)
{
    Builder builder;
    builder.segments[0].paddr = 0x1000; // below 1 MiB: the boot structures live there
    EXPECT_EQ(refusal(builder.build()), "segment 0 lies outside the loadable memory range");
    builder = Builder();
    builder.segments[2].paddr = memory_size - 0x1000; // memsz 0x3000 runs past the end
    EXPECT_EQ(refusal(builder.build()), "segment 2 lies outside the loadable memory range");
}

TEST(Elf, RefusesOverflowingAddressRange)
{
    Builder builder;
    builder.segments[2].paddr = ~0ull - 0x1000;
    EXPECT_EQ(refusal(builder.build()), "segment 2 has an address range that overflows");
    builder = Builder();
    builder.segments[2].vaddr = ~0ull - 0xfff; // congruent with the offset, but vaddr + memsz overflows
    builder.segments[2].align = 0;
    EXPECT_EQ(refusal(builder.build()), "segment 2 has a virtual address range that overflows");
}

TEST(Elf, RefusesBadAlignment)
{
    Builder builder;
    builder.segments[2].align = 0x1800;
    EXPECT_EQ(refusal(builder.build()), "segment 2 has an invalid p_align");
    builder = Builder();
    builder.segments[2].offset = 0x2100;
    builder.segments[2].filesz = 0x100;
    EXPECT_EQ(refusal(builder.build()), "segment 2 has p_vaddr and p_offset not congruent modulo p_align");
}

TEST(Elf, RefusesWritableExecutableSegment)
{
    Builder builder;
    builder.segments[2].flags = pf_r | pf_w | pf_x;
    EXPECT_EQ(refusal(builder.build()), "segment 2 is writable and executable");
    builder = Builder();
    builder.segments[0].flags = pf_w | pf_x;
    EXPECT_EQ(refusal(builder.build()), "segment 0 is writable and executable");
}

TEST(Elf, RefusesOverlappingSegments)
{
    Builder builder;
    builder.segments[2].paddr = mib + 0xfff; // one byte into segment 0
    builder.segments[2].vaddr = high_half + mib + 0x2000;
    EXPECT_EQ(refusal(builder.build()), "segment 2 overlaps segment 0");
}

TEST(Elf, RefusesEntryOutsideExecutableSegment)
{
    Builder builder;
    builder.header.e_entry = high_half + mib + 0x2010; // in the data segment
    EXPECT_EQ(refusal(builder.build()), "segment 2 contains the entry point but is not executable");
    builder = Builder();
    builder.header.e_entry = mib; // a physical address is not a virtual one
    EXPECT_EQ(refusal(builder.build()), "entry point is not inside any PT_LOAD segment");
}

TEST(Elf, RefusesImageWithoutLoadSegments)
{
    Builder builder;
    builder.segments = { { pt_note, pf_r, 0x1800, 0, 0, 0x10, 0x10, 4 } };
    EXPECT_EQ(refusal(builder.build()), "has no PT_LOAD segment");
}

TEST(Elf, FormatRefusalTruncatesSafely)
{
    Builder builder;
    builder.segments[2].flags = pf_r | pf_w | pf_x;
    auto file = builder.build();
    Diagnostic diagnostic;
    auto image = parse_loadable_image(file.data(), file.size(), kernel_policy(), &diagnostic);
    ASSERT_TRUE(image.is_error());
    char small[12];
    EXPECT_STREQ(format_refusal(image.error(), diagnostic, small, sizeof(small)), "segment 2 i");
}

TEST(Elf, IgnoresEmptyLoadSegments)
{
    Builder builder;
    builder.segments.push_back({ pt_load, pf_r, 0x120, 0, 0, 0, 0, 0x1000 }); // what ld emits for an empty section
    auto file = builder.build();
    auto image = parse_loadable_image(file.data(), file.size(), kernel_policy());
    ASSERT_FALSE(image.is_error()) << image.error().reason();
    EXPECT_EQ(image.value().segment_count, 2u);
    builder.segments.back().filesz = 1; // not empty on disk: refused
    EXPECT_EQ(refusal(builder.build()), "segment 3 has p_filesz larger than p_memsz");
}
