// The boot layout the monitor writes before the first guest instruction (boot_layout.h).
#include "boot_layout.h"

#include <gtest/gtest.h>

#include <cstring>

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
