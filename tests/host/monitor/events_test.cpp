// Event validation and formatting: the guest controls every byte of a SecurityEvent.
#include "events.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace kernite::monitor;

namespace {

kernite::abi::SecurityEvent make_event(char const* message, char const* symbol = "", u32 flags = 0)
{
    kernite::abi::SecurityEvent event {};
    event.type = static_cast<u32>(kernite::abi::EventType::WxViolation);
    event.flags = flags;
    event.rip = 0xffffffff80101234;
    event.addr = 0x1000;
    event.thread = 3;
    std::strncpy(event.message, message, sizeof(event.message) - 1);
    std::strncpy(event.symbol, symbol, sizeof(event.symbol) - 1);
    return event;
}

EventContext context() { return { "00112233445566778899aabbccddeeff", "kvm" }; }

} // namespace

TEST(Events, JsonEscapesEverythingHostile)
{
    EXPECT_EQ(json_escape("plain text"), "plain text");
    EXPECT_EQ(json_escape("a\"b\\c"), "a\\\"b\\\\c");
    EXPECT_EQ(json_escape("\n\t\r\x01\x1f"), "\\u000a\\u0009\\u000d\\u0001\\u001f");
    EXPECT_EQ(json_escape("\x7f\x80\xff"), "\\u007f\\u0080\\u00ff");
    EXPECT_EQ(json_escape("</script>"), "</script>");
    EXPECT_EQ(json_escape(std::string_view("a\0b", 3)), "a\\u0000b");
}

TEST(Events, MinimalJson)
{
    auto event = make_event("write to rodata");
    EXPECT_EQ(format_event_json(event, context()),
        "{\"type\":\"wx-violation\",\"boot_id\":\"00112233445566778899aabbccddeeff\",\"message\":\"write to rodata\","
        "\"vmm\":\"kvm\"}");
}

TEST(Events, FullJson)
{
    auto event = make_event("bad \"x\"\n", "sym\xff",
        kernite::abi::EventHasRip | kernite::abi::EventHasAddr | kernite::abi::EventHasSymbol
            | kernite::abi::EventHasThread);
    EXPECT_EQ(format_event_json(event, { "ab", "qemu" }),
        "{\"type\":\"wx-violation\",\"boot_id\":\"ab\",\"message\":\"bad \\\"x\\\"\\u000a\","
        "\"rip\":\"0xffffffff80101234\",\"addr\":\"0x0000000000001000\",\"symbol\":\"sym\\u00ff\",\"thread\":3,"
        "\"vmm\":\"qemu\"}");
}

TEST(Events, ReadableLine)
{
    auto event = make_event("write to rodata", "crash_write_ro",
        kernite::abi::EventHasRip | kernite::abi::EventHasAddr | kernite::abi::EventHasSymbol);
    EXPECT_EQ(format_event_line(event),
        "kernite: security event wx-violation: write to rodata at 0xffffffff80101234 (crash_write_ro) addr "
        "0x0000000000001000");
    auto hostile = make_event("\x1b[2J");
    EXPECT_EQ(format_event_line(hostile), "kernite: security event wx-violation: \\u001b[2J");
}

TEST(Events, ValidationRejectsMalformedEvents)
{
    auto event = make_event("ok");
    EXPECT_FALSE(validate_event(event));
    event.type = 0;
    EXPECT_TRUE(validate_event(event));
    event.type = static_cast<u32>(kernite::abi::EventType::Count);
    EXPECT_TRUE(validate_event(event));
    event.type = 0xffffffff;
    EXPECT_TRUE(validate_event(event));

    auto no_nul_message = make_event("ok");
    std::memset(no_nul_message.message, 'A', sizeof(no_nul_message.message));
    EXPECT_TRUE(validate_event(no_nul_message));
    auto no_nul_symbol = make_event("ok");
    std::memset(no_nul_symbol.symbol, 'A', sizeof(no_nul_symbol.symbol));
    EXPECT_TRUE(validate_event(no_nul_symbol));
    // The NUL may sit in the last byte.
    auto full = make_event("");
    std::memset(full.message, 'A', sizeof(full.message) - 1);
    EXPECT_FALSE(validate_event(full));
}

TEST(Events, EveryTypeFormats)
{
    for (u32 type = 1; type < static_cast<u32>(kernite::abi::EventType::Count); ++type) {
        auto event = make_event("m");
        event.type = type;
        ASSERT_FALSE(validate_event(event));
        EXPECT_NE(format_event_json(event, context())
                      .find(kernite::abi::event_type_name(static_cast<kernite::abi::EventType>(type))),
            std::string::npos);
    }
}

TEST(Events, HexString)
{
    u8 const bytes[] = { 0x00, 0x0f, 0xa5, 0xff };
    EXPECT_EQ(hex_string(bytes, sizeof(bytes)), "000fa5ff");
}
