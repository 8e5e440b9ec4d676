// libs/elf relocations: finding the RELA table through PT_DYNAMIC and applying RELATIVE relocations, against
// images built in memory (valid and hostile).
#include <elf/notes.h>
#include <elf/relocations.h>

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <vector>

using namespace kernite::elf;

namespace {

constexpr u64 link_vaddr = 0xffffffff80100000ull;
constexpr u64 phys = 0x100000;

// Layout (file offset = load offset):
//   0x1000 text   RX  vaddr link_vaddr + 0x0000
//   0x2000 rodata R   vaddr link_vaddr + 0x1000: RELA table at +0x000, dynamic array at +0x800
//   0x3000 data   RW  vaddr link_vaddr + 0x2000: relocation targets
struct Image {
    std::vector<u8> file = std::vector<u8>(0x4000, 0);
    std::vector<Elf64_Rela> relas;
    std::vector<Elf64_Dyn> dynamic;
    bool with_dynamic { true };
    std::vector<u8> notes; // PT_NOTE contents at file offset 0x2c00 (inside the rodata segment)

    Image()
    {
        relas.push_back({ link_vaddr + 0x2000, r_x86_64_relative, static_cast<i64>(link_vaddr + 0x10) });
        relas.push_back({ link_vaddr + 0x2008, r_x86_64_relative, static_cast<i64>(link_vaddr + 0x2100) });
        dynamic = { { dt_rela, link_vaddr + 0x1000 }, { dt_relasz, 0 }, { dt_relaent, sizeof(Elf64_Rela) }, { dt_null, 0 } };
    }

    std::vector<u8> build()
    {
        dynamic[1].d_val = relas.size() * sizeof(Elf64_Rela);
        Elf64_Ehdr header {};
        std::memcpy(header.e_ident, elf_magic, 4);
        header.e_ident[ei_class] = elfclass64;
        header.e_ident[ei_data] = elfdata2lsb;
        header.e_ident[ei_version] = ev_current;
        header.e_type = et_dyn;
        header.e_machine = em_x86_64;
        header.e_version = ev_current;
        header.e_entry = link_vaddr;
        header.e_phoff = sizeof(Elf64_Ehdr);
        header.e_phentsize = sizeof(Elf64_Phdr);
        header.e_ehsize = sizeof(Elf64_Ehdr);
        std::vector<Elf64_Phdr> phdrs = {
            { pt_load, pf_r | pf_x, 0x1000, link_vaddr, phys, 0x1000, 0x1000, 0x1000 },
            { pt_load, pf_r, 0x2000, link_vaddr + 0x1000, phys + 0x1000, 0x1000, 0x1000, 0x1000 },
            { pt_load, pf_r | pf_w, 0x3000, link_vaddr + 0x2000, phys + 0x2000, 0x1000, 0x1000, 0x1000 },
        };
        if (with_dynamic)
            phdrs.push_back({ pt_dynamic, pf_r, 0x2800, link_vaddr + 0x1800, phys + 0x1800, dynamic.size() * sizeof(Elf64_Dyn),
                dynamic.size() * sizeof(Elf64_Dyn), 8 });
        if (!notes.empty())
            phdrs.push_back({ pt_note, pf_r, 0x2c00, link_vaddr + 0x1c00, phys + 0x1c00, notes.size(), notes.size(), 4 });
        header.e_phnum = static_cast<u16>(phdrs.size());
        std::memcpy(file.data(), &header, sizeof(header));
        std::memcpy(file.data() + sizeof(header), phdrs.data(), phdrs.size() * sizeof(Elf64_Phdr));
        std::memcpy(file.data() + 0x2000, relas.data(), std::min<size_t>(relas.size() * sizeof(Elf64_Rela), 0x800));
        std::memcpy(file.data() + 0x2800, dynamic.data(), dynamic.size() * sizeof(Elf64_Dyn));
        if (!notes.empty())
            std::memcpy(file.data() + 0x2c00, notes.data(), std::min<size_t>(notes.size(), 0x400));
        return file;
    }
};

LoadableImage parse(std::vector<u8> const& file)
{
    auto image = parse_loadable_image(file.data(), file.size(), { AddressKind::Physical, 0x100000, 64 << 20 });
    EXPECT_FALSE(image.is_error()) << (image.is_error() ? image.error().reason() : "");
    return image.release_value();
}

} // namespace

TEST(Relocations, FindsAndAppliesRelativeRelocationsForANewBase)
{
    Image builder;
    auto file = builder.build();
    auto image = parse(file);
    EXPECT_EQ(link_base(image), link_vaddr);
    auto table = find_relocations(file.data(), file.size(), image).release_value();
    EXPECT_EQ(table.file_offset, 0x2000u);
    EXPECT_EQ(table.count, 2u);

    std::map<u64, u64> written;
    u64 new_base = link_vaddr + 0x40000000;
    auto applied = apply_relative_relocations(file.data(), file.size(), image, table, new_base, [&](u64 at, u64 value) {
        written[at] = value;
        return true;
    });
    ASSERT_FALSE(applied.is_error());
    EXPECT_EQ(applied.value(), 2u);
    EXPECT_EQ(written.at(phys + 0x2000), new_base + 0x10);
    EXPECT_EQ(written.at(phys + 0x2008), new_base + 0x2100);
}

TEST(Relocations, ImagesWithoutDynamicSectionHaveNone)
{
    Image builder;
    builder.with_dynamic = false;
    auto file = builder.build();
    auto image = parse(file);
    EXPECT_EQ(find_relocations(file.data(), file.size(), image).release_value().count, 0u);
}

TEST(Relocations, RefusesTargetsOutsideWritableSegments)
{
    for (u64 target : std::initializer_list<u64> { link_vaddr + 0x10 /* text */, link_vaddr + 0x1000 /* rodata */, link_vaddr + 0x2ffc /* straddles end */,
             link_vaddr + 0x9000 /* nowhere */, u64 { 0 } }) {
        Image builder;
        builder.relas[1].r_offset = target;
        auto file = builder.build();
        auto image = parse(file);
        auto table = find_relocations(file.data(), file.size(), image).release_value();
        u64 writes = 0;
        auto applied = apply_relative_relocations(file.data(), file.size(), image, table, link_vaddr, [&](u64, u64) {
            ++writes;
            return true;
        });
        ASSERT_TRUE(applied.is_error()) << std::hex << target;
        EXPECT_EQ(applied.error().code(), ENOEXEC);
    }
}

TEST(Relocations, RefusesOtherRelocationTypesAndTables)
{
    {
        Image builder;
        builder.relas[0].r_info = 1; // R_X86_64_64: needs a symbol table, never in our images
        auto file = builder.build();
        auto image = parse(file);
        auto table = find_relocations(file.data(), file.size(), image).release_value();
        EXPECT_TRUE(apply_relative_relocations(file.data(), file.size(), image, table, link_vaddr, [](u64, u64) { return true; })
                        .is_error());
    }
    for (Elf64_Dyn bad : { Elf64_Dyn { dt_textrel, 0 }, Elf64_Dyn { dt_rel, link_vaddr + 0x1000 } }) {
        Image builder;
        builder.dynamic.insert(builder.dynamic.begin(), bad);
        auto file = builder.build();
        auto image = parse(file);
        EXPECT_EQ(find_relocations(file.data(), file.size(), image).error().code(), ENOEXEC);
    }
    {
        Image builder;
        builder.dynamic[0].d_val = link_vaddr + 0x2ff0; // table runs past the loaded contents
        auto file = builder.build();
        auto image = parse(file);
        EXPECT_EQ(find_relocations(file.data(), file.size(), image).error().code(), ENOEXEC);
    }
    {
        Image builder;
        builder.dynamic[2].d_val = 16; // wrong entry size
        auto file = builder.build();
        auto image = parse(file);
        EXPECT_EQ(find_relocations(file.data(), file.size(), image).error().code(), ENOEXEC);
    }
}

TEST(Relocations, AFailedWriteStopsTheLoader)
{
    Image builder;
    auto file = builder.build();
    auto image = parse(file);
    auto table = find_relocations(file.data(), file.size(), image).release_value();
    auto applied = apply_relative_relocations(file.data(), file.size(), image, table, link_vaddr, [](u64, u64) { return false; });
    ASSERT_TRUE(applied.is_error());
    EXPECT_EQ(applied.error().code(), EFAULT);
}

namespace {

void append_note(std::vector<u8>& out, char const* name, u32 type, std::vector<u8> const& descriptor)
{
    auto put32 = [&](u32 v) { out.insert(out.end(), reinterpret_cast<u8*>(&v), reinterpret_cast<u8*>(&v) + 4); };
    u32 name_size = static_cast<u32>(std::strlen(name) + 1);
    put32(name_size);
    put32(static_cast<u32>(descriptor.size()));
    put32(type);
    out.insert(out.end(), name, name + name_size);
    out.resize((out.size() + 3) & ~size_t(3), 0);
    out.insert(out.end(), descriptor.begin(), descriptor.end());
    out.resize((out.size() + 3) & ~size_t(3), 0);
}

} // namespace

TEST(Notes, FindsANoteByOwnerAndType)
{
    Image builder;
    append_note(builder.notes, "Xen", 18, { 0, 0, 0x10, 0 });
    append_note(builder.notes, "Kernite", 0x4b4c4159, { 1, 2, 3, 4, 5, 6, 7, 8 });
    auto file = builder.build();
    auto image = parse(file);
    auto note = find_note(file.data(), file.size(), image, "Kernite", 0x4b4c4159).release_value();
    EXPECT_EQ(note.size, 8u);
    EXPECT_EQ(file[note.file_offset], 1);
    EXPECT_EQ(find_note(file.data(), file.size(), image, "Kernite", 1).error().code(), ENOENT);
    EXPECT_EQ(find_note(file.data(), file.size(), image, "Kern", 0x4b4c4159).error().code(), ENOENT)
        << "the owner name is compared whole";
    EXPECT_EQ(find_note(file.data(), file.size(), image, "Xen", 18).release_value().size, 4u);
}

TEST(Notes, RefusesNotesRunningPastTheirSegment)
{
    Image builder;
    append_note(builder.notes, "Kernite", 0x4b4c4159, { 1, 2, 3, 4 });
    u32 huge = 0x7fffffff;
    std::memcpy(builder.notes.data() + 4, &huge, 4); // descsz far past the segment
    auto file = builder.build();
    auto image = parse(file);
    EXPECT_EQ(find_note(file.data(), file.size(), image, "Kernite", 0x4b4c4159).error().code(), ENOEXEC);
}
