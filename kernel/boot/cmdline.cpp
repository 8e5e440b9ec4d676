#include <kernel/boot/cmdline.h>

namespace kernite::boot {

namespace {

// Calls visit(token, length) for each space-separated token of the command line until it returns true.
template<typename Visit>
bool any_cmdline_token(char const* cmdline, Visit visit)
{
    for (char const* p = cmdline; *p;) {
        while (*p == ' ')
            ++p;
        char const* token = p;
        while (*p && *p != ' ')
            ++p;
        if (p > token && visit(token, static_cast<usize>(p - token)))
            return true;
    }
    return false;
}

} // namespace

bool cmdline_has(char const* cmdline, char const* word)
{
    usize length = __builtin_strlen(word);
    return any_cmdline_token(cmdline, [&](char const* token, usize token_length) {
        return token_length == length && __builtin_memcmp(token, word, length) == 0;
    });
}

bool cmdline_value(char const* cmdline, char const* key, char* out, usize size)
{
    usize key_length = __builtin_strlen(key);
    return any_cmdline_token(cmdline, [&](char const* token, usize token_length) {
        if (token_length <= key_length || __builtin_memcmp(token, key, key_length) != 0 || token[key_length] != '=')
            return false;
        usize i = 0;
        for (usize at = key_length + 1; at < token_length && i + 1 < size; ++at)
            out[i++] = token[at];
        out[i] = 0;
        return true;
    });
}

} // namespace kernite::boot
