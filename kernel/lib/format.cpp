#include <kernel/lib/format.h>

namespace kernite {

namespace {

class Writer {
public:
    Writer(char* buffer, usize size)
        : m_buffer(buffer)
        , m_size(size)
    {
    }
    void put(char c)
    {
        if (m_length + 1 < m_size)
            m_buffer[m_length++] = c;
    }
    void pad(char c, int count)
    {
        for (int i = 0; i < count; ++i)
            put(c);
    }
    usize finish()
    {
        if (m_size > 0)
            m_buffer[m_length] = 0;
        return m_length;
    }

private:
    char* m_buffer;
    usize m_size;
    usize m_length { 0 };
};

void put_number(Writer& out, u64 value, unsigned base, bool negative, bool upper, int width, bool zero_pad, bool left)
{
    char digits[24];
    int count = 0;
    char const* alphabet = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        digits[count++] = alphabet[value % base];
        value /= base;
    } while (value != 0);
    int total = count + (negative ? 1 : 0);
    if (!left && !zero_pad)
        out.pad(' ', width - total);
    if (negative)
        out.put('-');
    if (!left && zero_pad)
        out.pad('0', width - total);
    while (count > 0)
        out.put(digits[--count]);
    if (left)
        out.pad(' ', width - total);
}

} // namespace

usize vformat(char* buffer, usize size, char const* fmt, __builtin_va_list args)
{
    Writer out(buffer, size);
    for (char const* p = fmt; *p; ++p) {
        if (*p != '%') {
            out.put(*p);
            continue;
        }
        ++p;
        bool zero_pad = false, left = false;
        for (;; ++p) {
            if (*p == '0')
                zero_pad = true;
            else if (*p == '-')
                left = true;
            else
                break;
        }
        int width = 0;
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        int longs = 0;
        bool size_t_arg = false;
        while (*p == 'l' || *p == 'z') {
            if (*p == 'z')
                size_t_arg = true;
            else
                ++longs;
            ++p;
        }
        bool wide = longs > 0 || size_t_arg;
        switch (*p) {
        case 'd':
        case 'i': {
            i64 value = wide ? __builtin_va_arg(args, i64) : __builtin_va_arg(args, int);
            u64 magnitude = value < 0 ? 0 - static_cast<u64>(value) : static_cast<u64>(value);
            put_number(out, magnitude, 10, value < 0, false, width, zero_pad, left);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            u64 value = wide ? __builtin_va_arg(args, u64) : __builtin_va_arg(args, unsigned);
            put_number(out, value, *p == 'u' ? 10 : 16, false, *p == 'X', width, zero_pad, left);
            break;
        }
        case 'p': {
            u64 value = reinterpret_cast<u64>(__builtin_va_arg(args, void*));
            out.put('0');
            out.put('x');
            put_number(out, value, 16, false, false, 16, true, false);
            break;
        }
        case 's': {
            char const* s = __builtin_va_arg(args, char const*);
            if (!s)
                s = "(null)";
            int length = 0;
            while (s[length])
                ++length;
            if (!left)
                out.pad(' ', width - length);
            for (int i = 0; i < length; ++i)
                out.put(s[i]);
            if (left)
                out.pad(' ', width - length);
            break;
        }
        case 'c':
            out.put(static_cast<char>(__builtin_va_arg(args, int)));
            break;
        case '%':
            out.put('%');
            break;
        case 0:
            return out.finish();
        default:
            out.put('%');
            out.put(*p);
            break;
        }
    }
    return out.finish();
}

usize format(char* buffer, usize size, char const* fmt, ...)
{
    __builtin_va_list args;
    __builtin_va_start(args, fmt);
    usize length = vformat(buffer, size, fmt, args);
    __builtin_va_end(args);
    return length;
}

} // namespace kernite
