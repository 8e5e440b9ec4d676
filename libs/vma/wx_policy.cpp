// W^X policy for program memory: see include/vma/wx_policy.h for the threat, the rule and its limits.
#include <vma/wx_policy.h>

namespace kernite::vma {

namespace {

bool is_write_and_exec(u32 prot) { return (prot & prot_write) && (prot & prot_exec); }

bool equals(char const* a, char const* b)
{
    while (*a && *a == *b) {
        ++a;
        ++b;
    }
    return *a == *b;
}

} // namespace

ErrorOr<void> check_wx_policy_for_new_mapping(u32 prot, WxMode mode)
{
    if (mode != WxMode::Disabled && is_write_and_exec(prot))
        return Error::from_errno(EACCES, "W^X: mapping memory writable and executable at once is refused");
    return {};
}

ErrorOr<void> check_wx_policy(u32 old_prot, u32 new_prot, bool was_writable, WxMode mode)
{
    if (mode == WxMode::Disabled)
        return {};
    if (is_write_and_exec(new_prot))
        return Error::from_errno(EACCES, "W^X: making memory writable and executable at once is refused");
    // Rule 2 (Strict): executable status may be kept, never gained by memory the program could have written.
    bool const gains_exec = (new_prot & prot_exec) && !(old_prot & prot_exec);
    if (mode == WxMode::Strict && gains_exec && (was_writable || (old_prot & prot_write)))
        return Error::from_errno(EACCES,
            "W^X: making memory executable that was writable since it was mapped is refused (PaX MPROTECT rule; "
            "--wx relaxed allows it for JITs)");
    return {};
}

ErrorOr<WxMode> parse_wx_mode(char const* text)
{
    if (text == nullptr)
        return Error::from_errno(EINVAL, "missing W^X mode");
    if (equals(text, "strict"))
        return WxMode::Strict;
    if (equals(text, "relaxed"))
        return WxMode::Relaxed;
    if (equals(text, "disabled"))
        return WxMode::Disabled;
    return Error::from_errno(EINVAL, "unknown W^X mode (strict, relaxed or disabled)");
}

char const* wx_mode_name(WxMode mode)
{
    switch (mode) {
    case WxMode::Strict: return "strict";
    case WxMode::Relaxed: return "relaxed";
    case WxMode::Disabled: return "disabled";
    }
    return "?";
}

} // namespace kernite::vma
