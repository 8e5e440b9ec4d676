// /proc/self/maps lines: exact strings for each shape, and byte-for-byte equality with the host kernel's own
// /proc/self/maps for every anonymous line it shows (same format code, fs/proc/task_mmu.c).
#include <vma/region_map.h>

#include "map_helpers.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace kernite::vma;
using namespace kernite::vma::testing;

namespace {

std::string line_of(Region const& region)
{
    char buffer[512];
    usize const length = format_maps_line(region, buffer, sizeof(buffer));
    EXPECT_LT(length, sizeof(buffer));
    return std::string(buffer, length);
}

} // namespace

TEST(MapsFormat, ExactLines)
{
    Region anonymous { .start = 0x10000, .end = 0x11000, .prot = rw };
    EXPECT_EQ(line_of(anonymous), "00010000-00011000 rw-p 00000000 00:00 0 \n") << "Linux keeps the trailing space";

    Region heap { .start = 0x555555600000,
        .end = 0x555555621000,
        .prot = rw,
        .kind = RegionKind::Heap,
        .name = "[heap]" };
    EXPECT_EQ(line_of(heap), "555555600000-555555621000 rw-p 00000000 00:00 0                          [heap]\n");

    Region text { .start = 0x401000,
        .end = 0x585000,
        .prot = rx,
        .kind = RegionKind::Program,
        .name = "/bin/busybox",
        .offset = 0x1000 };
    EXPECT_EQ(line_of(text), "00401000-00585000 r-xp 00001000 00:00 0                                  /bin/busybox\n");
    std::string const line = line_of(text);
    EXPECT_EQ(line.find('/'), 73u) << "names start in column 73";

    Region guard { .start = 0x7ffc00000000, .end = 0x7ffc00001000, .prot = prot_none, .kind = RegionKind::Guard };
    EXPECT_EQ(line_of(guard), "7ffc00000000-7ffc00001000 ---p 00000000 00:00 0 \n");
    Region exec_only { .start = 0x20000, .end = 0x21000, .prot = prot_exec };
    EXPECT_EQ(line_of(exec_only), "00020000-00021000 --xp 00000000 00:00 0 \n");
}

TEST(MapsFormat, WholeMapAndTruncation)
{
    RegionMap map;
    ASSERT_FALSE(map.map(MapRequest { .start = 0x400000,
                             .length = 0x1000,
                             .prot = r,
                             .kind = RegionKind::Program,
                             .name = "/app" },
                        WxMode::Strict, fail_removed)
                     .is_error());
    ASSERT_FALSE(map.map(anonymous(0x7f0000000000, 0x2000, rw), WxMode::Strict, fail_removed).is_error());
    ASSERT_FALSE(
        map.map(MapRequest { .start = 0x7ffe00000000, .length = 0x21000, .prot = rw, .kind = RegionKind::Stack },
               WxMode::Strict, fail_removed)
            .is_error());
    std::string const expected = "00400000-00401000 r--p 00000000 00:00 0                                  /app\n"
                                 "7f0000000000-7f0000002000 rw-p 00000000 00:00 0 \n"
                                 "7ffe00000000-7ffe00021000 rw-p 00000000 00:00 0                          [stack]\n";
    EXPECT_EQ(map.format_maps(nullptr, 0), expected.size()) << "sizing call";
    std::vector<char> buffer(expected.size());
    EXPECT_EQ(map.format_maps(buffer.data(), buffer.size()), expected.size());
    EXPECT_EQ(std::string(buffer.begin(), buffer.end()), expected);
    std::vector<char> small(20, '#');
    EXPECT_EQ(map.format_maps(small.data(), 10), expected.size());
    EXPECT_EQ(std::string(small.begin(), small.begin() + 10), expected.substr(0, 10));
    EXPECT_EQ(small[10], '#') << "never past the capacity";
}

TEST(MapsFormat, MatchesTheHostKernel)
{
    std::ifstream maps("/proc/self/maps");
    if (!maps)
        GTEST_SKIP() << "no /proc/self/maps on this host";
    std::string line;
    int compared = 0;
    while (std::getline(maps, line)) {
        unsigned long long start = 0, end = 0, offset = 0, inode = 0;
        char perms[5] = {};
        unsigned major = 0, minor = 0;
        int consumed = 0;
        if (std::sscanf(line.c_str(), "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, perms, &offset, &major, &minor,
                &inode, &consumed)
            < 7)
            continue;
        if (major != 0 || minor != 0 || inode != 0 || perms[3] != 'p' || end > user_address_limit)
            continue; // a file mapping (device and inode we do not print), shared, or [vsyscall]
        std::string const name = line.size() > 73 ? line.substr(73) : "";
        Region region { .start = start,
            .end = end,
            .prot = static_cast<u32>((perms[0] == 'r' ? prot_read : 0) | (perms[1] == 'w' ? prot_write : 0)
                | (perms[2] == 'x' ? prot_exec : 0)),
            .name = name.empty() ? nullptr : name.c_str(),
            .offset = offset };
        EXPECT_EQ(line_of(region), line + "\n");
        ++compared;
    }
    EXPECT_GT(compared, 2) << "the host shows at least [heap]/[stack] and anonymous lines";
}
