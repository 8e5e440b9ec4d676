// The boot layout the monitor writes before the first guest instruction (boot_layout.h).
#include "boot_layout.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace kernite::monitor;

namespace {

u64 read_u64(GuestMemory const& memory, u64 gpa) { return *memory.read(GuestPtr<u64>(gpa)); }

} // namespace

TEST(BootLayout, BootInfoAndCommandLine)
{
    auto memory = GuestMemory::allocate(64ull << 20);
    ASSERT_TRUE(memory);
    auto info = write_boot_layout(*memory, { 2'000'000, "crashtest=WRITE_RO x=1" });
    ASSERT_TRUE(info.ok()) << info.error();
    auto stored = memory->read(GuestPtr<kernite::abi::BootInfo>(boot_info_gpa));
    ASSERT_TRUE(stored);
    EXPECT_EQ(std::memcmp(&*stored, &info.value(), sizeof(kernite::abi::BootInfo)), 0);
    EXPECT_EQ(stored->magic, kernite::abi::boot_info_magic);
    EXPECT_EQ(stored->version_major, kernite::abi::abi_version_major);
    EXPECT_EQ(stored->size, sizeof(kernite::abi::BootInfo));
    EXPECT_EQ(stored->tsc_khz, 2'000'000u);
    EXPECT_EQ(stored->identity_map_limit, 64ull << 20);
    EXPECT_EQ(stored->cmdline_gpa, cmdline_gpa);
    EXPECT_EQ(stored->cmdline_length, 22u);
    EXPECT_EQ(stored->module_count, 0u);
    ASSERT_EQ(stored->memory_region_count, 2u);
    EXPECT_EQ(stored->memory_regions[0].base, 0u);
    EXPECT_EQ(stored->memory_regions[0].length, 1u << 20);
    EXPECT_EQ(stored->memory_regions[0].type, static_cast<u32>(kernite::abi::MemoryType::Reserved));
    EXPECT_EQ(stored->memory_regions[1].base, 1u << 20);
    EXPECT_EQ(stored->memory_regions[1].length, (64ull << 20) - (1ull << 20));
    EXPECT_EQ(stored->memory_regions[1].type, static_cast<u32>(kernite::abi::MemoryType::Usable));
    char cmdline[32] = {};
    ASSERT_TRUE(memory->read_bytes(cmdline_gpa, cmdline, 23));
    EXPECT_STREQ(cmdline, "crashtest=WRITE_RO x=1");
}

TEST(BootLayout, SeedAndBootIdDifferPerBoot)
{
    auto first_memory = GuestMemory::allocate(8ull << 20);
    auto second_memory = GuestMemory::allocate(8ull << 20);
    auto first = write_boot_layout(*first_memory, { 0, "" });
    auto second = write_boot_layout(*second_memory, { 0, "" });
    ASSERT_TRUE(first.ok() && second.ok());
    EXPECT_NE(std::memcmp(first.value().entropy_seed, second.value().entropy_seed, 32), 0);
    EXPECT_NE(std::memcmp(first.value().boot_id, second.value().boot_id, 16), 0);
}

TEST(BootLayout, IdentityMapWithTwoMebibytePages)
{
    auto memory = GuestMemory::allocate(6ull << 30); // only touched pages cost anything
    ASSERT_TRUE(memory);
    auto info = write_boot_layout(*memory, { 0, "" });
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info.value().identity_map_limit, 4ull << 30);
    EXPECT_EQ(read_u64(*memory, pml4_gpa), pdpt_gpa | pte_present | pte_writable);
    EXPECT_EQ(read_u64(*memory, pml4_gpa + 8), 0u);
    for (u64 gib = 0; gib < 4; ++gib) {
        u64 const pd = first_pd_gpa + gib * 0x1000;
        EXPECT_EQ(read_u64(*memory, pdpt_gpa + gib * 8), pd | pte_present | pte_writable);
        EXPECT_EQ(read_u64(*memory, pd), (gib << 30) | pte_present | pte_writable | pde_large_page);
        EXPECT_EQ(read_u64(*memory, pd + 511 * 8),
            ((gib << 30) + (511ull << 21)) | pte_present | pte_writable | pde_large_page);
    }
    EXPECT_EQ(read_u64(*memory, pdpt_gpa + 4 * 8), 0u);
    EXPECT_LT(first_pd_gpa + 4 * 0x1000, 1u << 20); // all below the kernel
}

TEST(BootLayout, PartialGigabyte)
{
    auto memory = GuestMemory::allocate(10ull << 20);
    ASSERT_TRUE(memory);
    ASSERT_TRUE(write_boot_layout(*memory, { 0, "" }).ok());
    EXPECT_EQ(read_u64(*memory, first_pd_gpa + 4 * 8), (8ull << 20) | pte_present | pte_writable | pde_large_page);
    EXPECT_EQ(read_u64(*memory, first_pd_gpa + 5 * 8), 0u);
    EXPECT_EQ(read_u64(*memory, pdpt_gpa + 8), 0u);
}

TEST(BootLayout, RefusesTooLongCommandLine)
{
    auto memory = GuestMemory::allocate(8ull << 20);
    std::string const long_line(kernite::abi::max_cmdline_length, 'x');
    EXPECT_FALSE(write_boot_layout(*memory, { 0, long_line }).ok());
    EXPECT_TRUE(write_boot_layout(*memory, { 0, std::string_view(long_line).substr(1) }).ok());
}

namespace {

using kernite::abi::MemoryType;

std::vector<u8> pattern(usize size, u8 seed)
{
    std::vector<u8> bytes(size);
    for (usize i = 0; i < size; ++i)
        bytes[i] = static_cast<u8>(seed + i * 7);
    return bytes;
}

// The memory map type covering [base, base + length), or 0 when no single region covers it.
u32 type_covering(kernite::abi::BootInfo const& info, u64 base, u64 length)
{
    for (u32 i = 0; i < info.memory_region_count; ++i) {
        auto const& region = info.memory_regions[i];
        if (base >= region.base && base + length <= region.base + region.length)
            return region.type;
    }
    return 0;
}

// The regions tile [0, size) in order, without gaps or overlaps.
void expect_tiled(kernite::abi::BootInfo const& info, u64 size)
{
    u64 cursor = 0;
    for (u32 i = 0; i < info.memory_region_count; ++i) {
        EXPECT_EQ(info.memory_regions[i].base, cursor) << i;
        EXPECT_GT(info.memory_regions[i].length, 0u) << i;
        cursor = info.memory_regions[i].base + info.memory_regions[i].length;
    }
    EXPECT_EQ(cursor, size);
}

} // namespace

TEST(BootModules, PlacedPageAlignedInReservedMemoryAndCopiedOnce)
{
    auto memory = GuestMemory::allocate(64ull << 20);
    ASSERT_TRUE(memory);
    auto const program = pattern(10000, 1);
    auto const args = pattern(37, 2);
    auto const rootfs = pattern(3 * 4096, 3);
    ModuleView const modules[] = {
        { "program", program.data(), program.size() },
        { "args", args.data(), args.size() },
        { "rootfs", rootfs.data(), rootfs.size() },
    };
    u64 const top = (64ull << 20) - 5 * 4096; // as if the kernel's page tables took the last five pages
    auto placed = place_modules(*memory, modules, 4ull << 20, top);
    ASSERT_TRUE(placed.ok()) << placed.error();
    ModulePlacement const& placement = placed.value();
    ASSERT_EQ(placement.count, 3u);
    EXPECT_EQ(placement.end, top);
    EXPECT_EQ(placement.base, top - (3 + 1 + 3) * 4096);
    u64 expected_gpa = placement.base;
    for (u32 i = 0; i < 3; ++i) {
        auto const& entry = placement.modules[i];
        EXPECT_STREQ(entry.name, modules[i].name);
        EXPECT_EQ(entry.gpa, expected_gpa);
        EXPECT_EQ(entry.gpa % 4096, 0u);
        EXPECT_EQ(entry.size, modules[i].size);
        std::vector<u8> copy(entry.size + 1);
        ASSERT_TRUE(memory->read_bytes(entry.gpa, copy.data(), copy.size()));
        EXPECT_EQ(std::memcmp(copy.data(), modules[i].data, entry.size), 0) << entry.name;
        if (entry.size % 4096) {
            EXPECT_EQ(copy[entry.size], 0) << entry.name; // the rest of the page stays zero
        }
        expected_gpa += (entry.size + 4095) / 4096 * 4096;
    }

    // BootInfo lists them and the map reports [base, end of memory) Reserved: modules and tables merge.
    auto info = write_boot_layout(*memory,
        { .tsc_khz = 0,
            .cmdline = "",
            .relocated_to = 0xffffffff80000000,
            .kernel_tables_root = top,
            .kernel_tables_base = top,
            .modules = &placement });
    ASSERT_TRUE(info.ok()) << info.error();
    EXPECT_EQ(info.value().module_count, 3u);
    EXPECT_EQ(std::memcmp(info.value().modules, placement.modules, sizeof(placement.modules)), 0);
    ASSERT_EQ(info.value().memory_region_count, 3u);
    expect_tiled(info.value(), 64ull << 20);
    EXPECT_EQ(info.value().memory_regions[1].type, static_cast<u32>(MemoryType::Usable));
    EXPECT_EQ(info.value().memory_regions[1].base + info.value().memory_regions[1].length, placement.base);
    EXPECT_EQ(info.value().memory_regions[2].type, static_cast<u32>(MemoryType::Reserved));
    for (u32 i = 0; i < 3; ++i) {
        EXPECT_EQ(type_covering(info.value(), placement.modules[i].gpa, placement.modules[i].size),
            static_cast<u32>(MemoryType::Reserved));
    }
    auto stored = memory->read(GuestPtr<kernite::abi::BootInfo>(boot_info_gpa));
    EXPECT_EQ(stored->module_count, 3u);
    EXPECT_STREQ(stored->modules[2].name, "rootfs");
}

TEST(BootModules, WithoutKernelTablesTheModulesEndTheMemory)
{
    auto memory = GuestMemory::allocate(16ull << 20);
    auto const program = pattern(4096, 9);
    ModuleView const modules[] = { { "program", program.data(), program.size() } };
    auto placed = place_modules(*memory, modules, 3ull << 20, memory->size());
    ASSERT_TRUE(placed.ok()) << placed.error();
    EXPECT_EQ(placed.value().base, (16ull << 20) - 4096);
    auto info = write_boot_layout(*memory, { .tsc_khz = 0, .cmdline = "", .modules = &placed.value() });
    ASSERT_TRUE(info.ok()) << info.error();
    ASSERT_EQ(info.value().memory_region_count, 3u);
    expect_tiled(info.value(), 16ull << 20);
    EXPECT_EQ(info.value().memory_regions[2].base, (16ull << 20) - 4096);
    EXPECT_EQ(info.value().memory_regions[2].type, static_cast<u32>(MemoryType::Reserved));
}

TEST(BootModules, StayBelowTheIdentityMapWithUsableMemoryAbove)
{
    auto memory = GuestMemory::allocate(6ull << 30); // only touched pages cost anything
    ASSERT_TRUE(memory);
    auto const args = pattern(100, 4);
    ModuleView const modules[] = { { "args", args.data(), args.size() } };
    auto placed = place_modules(*memory, modules, 3ull << 20, memory->size());
    ASSERT_TRUE(placed.ok()) << placed.error();
    EXPECT_EQ(placed.value().end, 4ull << 30);
    auto info = write_boot_layout(*memory, { .tsc_khz = 0, .cmdline = "", .modules = &placed.value() });
    ASSERT_TRUE(info.ok());
    ASSERT_EQ(info.value().memory_region_count, 4u);
    expect_tiled(info.value(), 6ull << 30);
    EXPECT_EQ(info.value().memory_regions[2].type, static_cast<u32>(MemoryType::Reserved));
    EXPECT_EQ(info.value().memory_regions[3].type, static_cast<u32>(MemoryType::Usable));
    EXPECT_EQ(info.value().memory_regions[3].base, 4ull << 30);
}

TEST(BootModules, TooLargeSaysHowMuchMemoryIsNeeded)
{
    auto memory = GuestMemory::allocate(8ull << 20);
    auto const program = pattern(5ull << 20, 5);
    ModuleView const modules[] = { { "program", program.data(), program.size() } };
    auto placed = place_modules(*memory, modules, 4ull << 20, memory->size());
    ASSERT_FALSE(placed.ok());
    EXPECT_EQ(placed.error(),
        "the program, its arguments and rootfs (5 MiB) do not fit in 8 MiB of guest memory beside the kernel: "
        "use --mem 10M or more");
    // ... and that much is enough.
    auto bigger = GuestMemory::allocate(10ull << 20);
    EXPECT_TRUE(place_modules(*bigger, modules, 4ull << 20, bigger->size()).ok());
    // The floor above the top (a kernel image that leaves no room) is refused too, without wrapping.
    EXPECT_FALSE(place_modules(*bigger, modules, 12ull << 20, bigger->size()).ok());
    EXPECT_FALSE(fit_modules(~0ull - 4095, 0, 1ull << 30, 1ull << 30).ok());
}

TEST(BootModules, RefusesEmptyAndTooManyModules)
{
    auto memory = GuestMemory::allocate(16ull << 20);
    u8 const byte = 1;
    ModuleView const empty[] = { { "args", &byte, 0 } };
    EXPECT_FALSE(place_modules(*memory, empty, 2ull << 20, memory->size()).ok());
    ModuleView const five[]
        = { { "a", &byte, 1 }, { "b", &byte, 1 }, { "c", &byte, 1 }, { "d", &byte, 1 }, { "e", &byte, 1 } };
    EXPECT_FALSE(place_modules(*memory, five, 2ull << 20, memory->size()).ok());
    auto none = place_modules(*memory, std::span<ModuleView const> {}, 2ull << 20, memory->size());
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none.value().count, 0u);
}
