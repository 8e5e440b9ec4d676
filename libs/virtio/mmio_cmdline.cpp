// virtio_mmio.device= parsing; the rules are in mmio_cmdline.h.
#include <virtio/mmio_cmdline.h>

namespace kernite::virtio {

namespace {

constexpr char key[] = "virtio_mmio.device=";
constexpr usize key_length = sizeof(key) - 1;
constexpr u64 page_size = 4096;

// An unsigned number at text[*position, length): 0x/0X hex or decimal, at least one digit, no overflow.
bool parse_number(char const* text, usize length, usize* position, u64* value)
{
    usize i = *position;
    unsigned base = 10;
    if (i + 1 < length && text[i] == '0' && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
        base = 16;
        i += 2;
    }
    usize const first_digit = i;
    u64 result = 0;
    for (; i < length; ++i) {
        char c = text[i];
        unsigned digit;
        if (c >= '0' && c <= '9')
            digit = static_cast<unsigned>(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            digit = static_cast<unsigned>(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            digit = static_cast<unsigned>(c - 'A' + 10);
        else
            break;
        if (result > (~0ull - digit) / base)
            return false;
        result = result * base + digit;
    }
    if (i == first_digit)
        return false;
    *position = i;
    *value = result;
    return true;
}

} // namespace

bool parse_mmio_device_value(char const* value, usize length, MmioDeviceWindow& window)
{
    usize i = 0;
    u64 size = 0;
    if (!parse_number(value, length, &i, &size))
        return false;
    if (i < length) {
        unsigned shift = 0;
        switch (value[i]) {
        case 'k':
        case 'K': shift = 10; break;
        case 'm':
        case 'M': shift = 20; break;
        case 'g':
        case 'G': shift = 30; break;
        default: break;
        }
        if (shift) {
            if (size > (~0ull >> shift))
                return false;
            size <<= shift;
            ++i;
        }
    }
    if (i >= length || value[i] != '@')
        return false;
    ++i;
    u64 base = 0;
    if (!parse_number(value, length, &i, &base))
        return false;
    if (i >= length || value[i] != ':')
        return false;
    ++i;
    u64 irq = 0;
    if (!parse_number(value, length, &i, &irq) || irq > 0xffffffffu)
        return false;
    if (i < length) {
        // Linux's optional platform device id; accepted and ignored, but it must be a number.
        if (value[i] != ':')
            return false;
        ++i;
        u64 id = 0;
        if (!parse_number(value, length, &i, &id) || i != length)
            return false;
    }
    if (size == 0 || size > page_size || base + size < base || base / page_size != (base + size - 1) / page_size)
        return false;
    window = { base, size, static_cast<u32>(irq) };
    return true;
}

MmioCmdlineResult parse_mmio_devices(char const* cmdline, usize max_length, MmioDeviceWindow* out, usize capacity)
{
    MmioCmdlineResult result {};
    if (!cmdline)
        return result;
    usize length = 0;
    while (length < max_length && cmdline[length])
        ++length;
    usize i = 0;
    while (i < length) {
        while (i < length && cmdline[i] == ' ')
            ++i;
        usize start = i;
        while (i < length && cmdline[i] != ' ')
            ++i;
        usize token_length = i - start;
        if (token_length < key_length || __builtin_memcmp(cmdline + start, key, key_length) != 0)
            continue;
        MmioDeviceWindow window {};
        if (!parse_mmio_device_value(cmdline + start + key_length, token_length - key_length, window)) {
            ++result.malformed;
            continue;
        }
        if (result.found < capacity && out)
            out[result.found++] = window;
        else
            ++result.dropped;
    }
    return result;
}

} // namespace kernite::virtio
