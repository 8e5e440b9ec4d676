// The guest/monitor ABI (abi/kernite): layouts the kernel and monitor both rely on, and the event names.
#include <kernite/abi.h>
#include <kernite/crashtests.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <set>
#include <string>

using namespace kernite::abi;

// Offsets: the kernel (freestanding) and the monitor must agree byte for byte.
static_assert(offsetof(BootInfo, magic) == 0);
static_assert(offsetof(BootInfo, tsc_khz) == 16);
static_assert(offsetof(BootInfo, identity_map_limit) == 24);
static_assert(offsetof(BootInfo, boot_id) == 64);
static_assert(offsetof(BootInfo, cmdline_gpa) == 80);
static_assert(offsetof(BootInfo, cmdline_length) == 88);
static_assert(offsetof(BootInfo, memory_region_count) == 92);
static_assert(offsetof(BootInfo, module_count) == offsetof(BootInfo, memory_regions) + 16 * sizeof(MemoryRegion));
static_assert(offsetof(MemoryRegion, type) == 16);
static_assert(offsetof(BootModule, name) == 16);
static_assert(offsetof(HcConsole, length) == 8);
static_assert(offsetof(HcConsole, stream) == 12);
static_assert(offsetof(HcConsole, result) == 16);
static_assert(offsetof(HcExit, reason) == 4);
static_assert(offsetof(HcEntropy, length) == 8);
static_assert(offsetof(HcEntropy, result) == 16);
static_assert(offsetof(SecurityEvent, rip) == 8);
static_assert(offsetof(SecurityEvent, addr) == 16);
static_assert(offsetof(SecurityEvent, thread) == 24);
static_assert(offsetof(SecurityEvent, symbol) == 32);
static_assert(offsetof(SecurityEvent, message) == 96);
static_assert(offsetof(HcEvent, result) == 256);
static_assert(alignof(HcConsole) == 8 && alignof(HcEvent) == 8 && alignof(HcExit) == 4);

TEST(Abi, EveryEventTypeHasAKebabCaseName)
{
    std::set<std::string> names;
    for (uint32_t value = 1; value < static_cast<uint32_t>(EventType::Count); ++value) {
        char const* name = event_type_name(static_cast<EventType>(value));
        ASSERT_NE(name, nullptr) << value;
        std::string text = name;
        EXPECT_FALSE(text.empty());
        EXPECT_NE(text.front(), '-');
        EXPECT_NE(text.back(), '-');
        EXPECT_EQ(text.find("--"), std::string::npos) << text;
        for (char c : text)
            EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') << text;
        EXPECT_TRUE(names.insert(text).second) << "duplicate " << text;
    }
    EXPECT_EQ(event_type_name(EventType::Count), nullptr);
    EXPECT_EQ(event_type_name(static_cast<EventType>(0)), nullptr);
}

TEST(Abi, DesignDocumentNamesAreStable)
{
    // DESIGN.md: "never rename these".
    EXPECT_STREQ(event_type_name(EventType::WxViolation), "wx-violation");
    EXPECT_STREQ(event_type_name(EventType::NullDeref), "null-deref");
    EXPECT_STREQ(event_type_name(EventType::StackOverflow), "stack-overflow");
    EXPECT_STREQ(event_type_name(EventType::StackSmash), "stack-smash");
    EXPECT_STREQ(event_type_name(EventType::HeapCorruption), "heap-corruption");
    EXPECT_STREQ(event_type_name(EventType::DoubleFree), "double-free");
    EXPECT_STREQ(event_type_name(EventType::UseAfterFree), "use-after-free");
    EXPECT_STREQ(event_type_name(EventType::Kasan), "kasan");
    EXPECT_STREQ(event_type_name(EventType::Ubsan), "ubsan");
    EXPECT_STREQ(event_type_name(EventType::CfiViolation), "cfi-violation");
    EXPECT_STREQ(event_type_name(EventType::WxPolicyDenied), "wx-policy-denied");
    EXPECT_STREQ(event_type_name(EventType::LockdownViolation), "lockdown-violation");
    EXPECT_STREQ(event_type_name(EventType::GeneralProtection), "general-protection");
    EXPECT_STREQ(event_type_name(EventType::Panic), "panic");
}

TEST(Abi, CrashTestsAreWellFormed)
{
    std::set<std::string> names;
    for (auto const& test : crash_tests) {
        std::string name = test.name;
        EXPECT_TRUE(names.insert(name).second) << "duplicate " << name;
        EXPECT_LE(name.size(), 22u) << "breaks the --crashtest list columns";
        for (char c : name)
            EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') << name;
        EXPECT_NE(event_type_name(test.expected_event), nullptr) << name;
        EXPECT_GT(std::strlen(test.description), 0u);
        std::string kernel = test.kernel;
        EXPECT_TRUE(kernel == "hardened" || kernel == "debug" || kernel == "baseline") << name << ": " << kernel;
    }
}

TEST(Abi, HypercallPortsFitOneByteOfOffsets)
{
    EXPECT_EQ(hypercall_port_base + static_cast<uint32_t>(Hypercall::Count), 0x507u);
    EXPECT_NE(qemu_debug_exit_port, hypercall_port_base);
}
