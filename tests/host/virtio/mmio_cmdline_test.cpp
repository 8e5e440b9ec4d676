// virtio_mmio.device= parsing (libs/virtio/mmio_cmdline.h): QEMU microvm's form, Linux's variants, and hostile
// command lines (overflow, wrapping windows, junk, truncation).
#include <gtest/gtest.h>
#include <virtio/mmio_cmdline.h>

#include <cstring>
#include <string>

using namespace kernite::virtio;

namespace {

MmioCmdlineResult parse(std::string const& cmdline, MmioDeviceWindow* out, usize capacity)
{
    return parse_mmio_devices(cmdline.c_str(), cmdline.size() + 1, out, capacity);
}

bool value_ok(std::string const& value, MmioDeviceWindow& window)
{
    return parse_mmio_device_value(value.data(), value.size(), window);
}

} // namespace

TEST(VirtioMmioCmdline, QemuMicrovmForm)
{
    MmioDeviceWindow windows[4] {};
    auto result = parse("quick print-canary virtio_mmio.device=512@0xfeb00e00:12", windows, 4);
    EXPECT_EQ(result.found, 1u);
    EXPECT_EQ(result.malformed, 0u);
    EXPECT_EQ(windows[0].base, 0xfeb00e00u);
    EXPECT_EQ(windows[0].size, 512u);
    EXPECT_EQ(windows[0].irq, 12u);
}

TEST(VirtioMmioCmdline, SeveralDevicesAndExtraSpaces)
{
    MmioDeviceWindow windows[4] {};
    auto result = parse("  virtio_mmio.device=512@0xfeb00c00:11   virtio_mmio.device=4K@0xd0000000:5:3 x", windows, 4);
    ASSERT_EQ(result.found, 2u);
    EXPECT_EQ(windows[1].base, 0xd0000000u);
    EXPECT_EQ(windows[1].size, 4096u);
    EXPECT_EQ(windows[1].irq, 5u);
}

TEST(VirtioMmioCmdline, NoDevicesNoResults)
{
    MmioDeviceWindow windows[1] {};
    EXPECT_EQ(parse("", windows, 1).found, 0u);
    EXPECT_EQ(parse("virtio_mmio.devic=512@0x1000:1 xvirtio_mmio.device=512@0x1000:1", windows, 1).found, 0u);
    EXPECT_EQ(parse_mmio_devices(nullptr, 100, windows, 1).found, 0u);
}

TEST(VirtioMmioCmdline, CapacityIsRespectedAndOverflowCounted)
{
    MmioDeviceWindow windows[2] {};
    std::string cmdline;
    for (int i = 0; i < 5; ++i)
        cmdline += " virtio_mmio.device=512@0x" + std::to_string(1000 + i) + "00:" + std::to_string(i);
    auto result = parse(cmdline, windows, 2);
    EXPECT_EQ(result.found, 2u);
    EXPECT_EQ(result.dropped, 3u);
}

TEST(VirtioMmioCmdline, StopsAtMaxLengthWithoutNul)
{
    std::string cmdline = "virtio_mmio.device=512@0xfeb00e00:12";
    MmioDeviceWindow windows[1] {};
    // Cut inside the irq: the token ends early, and is still well-formed ("1").
    auto result = parse_mmio_devices(cmdline.data(), cmdline.size() - 1, windows, 1);
    EXPECT_EQ(result.found, 1u);
    EXPECT_EQ(windows[0].irq, 1u);
    // Cut before the irq: malformed, never a read past max_length (ASan checks that).
    char buffer[30];
    std::memcpy(buffer, cmdline.data(), sizeof(buffer));
    result = parse_mmio_devices(buffer, sizeof(buffer), windows, 1);
    EXPECT_EQ(result.found, 0u);
    EXPECT_EQ(result.malformed, 1u);
}

TEST(VirtioMmioCmdline, HostileValuesAreRejected)
{
    MmioDeviceWindow window {};
    for (char const* value : {
             "",
             "512",
             "512@",
             "512@0xfeb00e00",
             "512@0xfeb00e00:",
             "@0xfeb00e00:12",
             "512@0x:12",
             "0@0xfeb00e00:12",               // empty window
             "8K@0xfeb00000:1",               // more than one page
             "512@0xfeb00f00:12",             // crosses a page boundary
             "512@0xfffffffffffffe00:1x",     // trailing junk
             "512@0xffffffffffffff00:1",      // wraps the address space
             "512@0x1fffffffffffffffff:1",    // base overflows 64 bits
             "99999999999999999999@0x1000:1", // size overflows 64 bits
             "17179869184G@0x1000:1",         // suffix overflows
             "512@0xfeb00e00:4294967296",     // irq beyond 32 bits
             "512@0xfeb00e00:12:",            // empty id
             "512@0xfeb00e00:12:3:4",         // too many fields
             "512@0xfeb00e00;12",
             "-512@0xfeb00e00:12",
             "512@-0xfeb00e00:12",
         })
        EXPECT_FALSE(value_ok(value, window)) << value;
    EXPECT_TRUE(value_ok("512@0xfeb00e00:12", window));
    EXPECT_TRUE(value_ok("0x200@4272947200:12", window));
    EXPECT_EQ(window.base, 0xfeb00000u);
    EXPECT_TRUE(value_ok("4k@0x1000:0", window));
}

TEST(VirtioMmioCmdline, MalformedTokensAreCountedAndSkipped)
{
    MmioDeviceWindow windows[2] {};
    auto result = parse("virtio_mmio.device=junk virtio_mmio.device= virtio_mmio.device=512@0xfeb00e00:12", windows, 2);
    EXPECT_EQ(result.found, 1u);
    EXPECT_EQ(result.malformed, 2u);
    EXPECT_EQ(windows[0].base, 0xfeb00e00u);
}
