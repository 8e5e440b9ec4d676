// The W^X policy matrix: every old protection x new protection x history x mode, against the rules written out
// independently here (include/vma/wx_policy.h), plus the reasons and the --wx option parser.
#include <vma/wx_policy.h>

#include <gtest/gtest.h>

#include <string>

using namespace kernite::vma;

namespace {

// The rules as the documentation states them.
bool expected_allowed(u32 old_prot, u32 new_prot, bool was_writable, WxMode mode)
{
    bool const w = new_prot & prot_write;
    bool const x = new_prot & prot_exec;
    switch (mode) {
    case WxMode::Disabled: return true;
    case WxMode::Relaxed: return !(w && x);
    case WxMode::Strict: {
        if (w && x)
            return false;
        bool const adds_exec = x && !(old_prot & prot_exec);
        bool const ever_writable = was_writable || (old_prot & prot_write);
        return !(adds_exec && ever_writable);
    }
    }
    return false;
}

} // namespace

TEST(WxPolicy, FullMatrix)
{
    int refused = 0;
    for (WxMode mode : { WxMode::Strict, WxMode::Relaxed, WxMode::Disabled }) {
        for (u32 old_prot = 0; old_prot < 8; ++old_prot) {
            for (u32 new_prot = 0; new_prot < 8; ++new_prot) {
                for (bool was_writable : { false, true }) {
                    auto result = check_wx_policy(old_prot, new_prot, was_writable, mode);
                    bool const allowed = expected_allowed(old_prot, new_prot, was_writable, mode);
                    ASSERT_EQ(!result.is_error(), allowed) << wx_mode_name(mode) << " old " << old_prot << " new "
                                                           << new_prot << " was_writable " << was_writable;
                    if (result.is_error()) {
                        EXPECT_EQ(result.error().code(), EACCES);
                        ++refused;
                    }
                }
            }
        }
    }
    EXPECT_EQ(refused, 8 * 2 * 2 /* strict W+X */ + 8 * 2 * 2 /* relaxed W+X */ + 12 /* strict W->X */);
}

TEST(WxPolicy, NamedCases)
{
    u32 const r = prot_read, rw = prot_read | prot_write, rx = prot_read | prot_exec;
    EXPECT_FALSE(check_wx_policy(r, rx, false, WxMode::Strict).is_error()) << "never-written memory may run";
    EXPECT_FALSE(check_wx_policy(rx, r, false, WxMode::Strict).is_error());
    EXPECT_FALSE(check_wx_policy(rx, rw, false, WxMode::Strict).is_error()) << "dropping exec for write is fine";
    EXPECT_FALSE(check_wx_policy(rx, rx, true, WxMode::Strict).is_error()) << "keeping exec is not gaining it";
    EXPECT_TRUE(check_wx_policy(rw, rx, true, WxMode::Strict).is_error()) << "RW -> RX: PaX MPROTECT";
    EXPECT_TRUE(check_wx_policy(r, rx, true, WxMode::Strict).is_error()) << "RW -> R -> RX is no way around it";
    EXPECT_TRUE(check_wx_policy(prot_none, prot_exec, true, WxMode::Strict).is_error());
    EXPECT_FALSE(check_wx_policy(rw, rx, true, WxMode::Relaxed).is_error()) << "JIT flip";
    EXPECT_TRUE(check_wx_policy(rx, rx | prot_write, false, WxMode::Relaxed).is_error());
    EXPECT_FALSE(check_wx_policy(rw, rx | prot_write, true, WxMode::Disabled).is_error());

    std::string const flip = check_wx_policy(rw, rx, true, WxMode::Strict).error().reason();
    std::string const both = check_wx_policy(r, rx | prot_write, false, WxMode::Strict).error().reason();
    EXPECT_NE(flip.find("W^X"), std::string::npos);
    EXPECT_NE(flip.find("writable since it was mapped"), std::string::npos);
    EXPECT_NE(both.find("writable and executable at once"), std::string::npos);
    EXPECT_NE(flip, both) << "the event says which rule fired";
}

TEST(WxPolicy, NewMappings)
{
    for (u32 prot = 0; prot < 8; ++prot) {
        bool const wx = (prot & prot_write) && (prot & prot_exec);
        EXPECT_EQ(check_wx_policy_for_new_mapping(prot, WxMode::Strict).is_error(), wx) << prot;
        EXPECT_EQ(check_wx_policy_for_new_mapping(prot, WxMode::Relaxed).is_error(), wx) << prot;
        EXPECT_FALSE(check_wx_policy_for_new_mapping(prot, WxMode::Disabled).is_error()) << prot;
    }
    EXPECT_EQ(check_wx_policy_for_new_mapping(7, WxMode::Strict).error().code(), EACCES);
}

TEST(WxPolicy, ParsesTheOption)
{
    EXPECT_EQ(parse_wx_mode("strict").value(), WxMode::Strict);
    EXPECT_EQ(parse_wx_mode("relaxed").value(), WxMode::Relaxed);
    EXPECT_EQ(parse_wx_mode("disabled").value(), WxMode::Disabled);
    EXPECT_EQ(parse_wx_mode("relax").error().code(), EINVAL);
    EXPECT_EQ(parse_wx_mode("strictly").error().code(), EINVAL);
    EXPECT_EQ(parse_wx_mode("").error().code(), EINVAL);
    EXPECT_EQ(parse_wx_mode(nullptr).error().code(), EINVAL);
    EXPECT_STREQ(wx_mode_name(WxMode::Relaxed), "relaxed");
}
