#include <kernel/boot/boot_params.h>
#include <kernel/debug/symbols.h>
#include <kernel/lib/format.h>
#include <kernel/lib/log.h>
#include <kernel/mm/kernel_image.h>
#include <kernel/mm/memory.h>

namespace kernite::debug {

namespace {

KsymsHeader const* header()
{
    u64 size = reinterpret_cast<u64>(__ksyms_end) - reinterpret_cast<u64>(__ksyms_start);
    auto const* h = reinterpret_cast<KsymsHeader const*>(__ksyms_start);
    if (size < sizeof(KsymsHeader) || h->magic != ksyms_magic)
        return nullptr;
    if (h->count > (size - sizeof(KsymsHeader)) / sizeof(KsymsEntry) || h->strings_offset > size
        || h->strings_size > size - h->strings_offset)
        return nullptr;
    return h;
}

KsymsEntry const* entries(KsymsHeader const* h) { return reinterpret_cast<KsymsEntry const*>(h + 1); }

bool readable(u64 address)
{
    auto translation = mm::kernel_address_space().translate(ktl::align_down(address, 4096));
    return !translation.is_error();
}

} // namespace

u32 symbol_count()
{
    auto const* h = header();
    return h ? h->count : 0;
}

namespace {

// Shared by symbolize() and backtraces: look up `lookup`, print the offset of `address`.
bool symbolize_at(u64 lookup, u64 address, char* out, usize size)
{
    auto const* h = header();
    u64 base = reinterpret_cast<u64>(__kernel_start);
    if (!h || lookup < base || lookup - base > 0xffffffffull)
        return false;
    u32 offset = static_cast<u32>(lookup - base);
    auto const* table = entries(h);
    // Last entry whose start is <= offset.
    u32 low = 0, high = h->count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (table[middle].offset <= offset)
            low = middle + 1;
        else
            high = middle;
    }
    if (low == 0)
        return false;
    auto const& entry = table[low - 1];
    if (entry.size != 0 && offset >= entry.offset + entry.size)
        return false;
    if (entry.name_offset >= h->strings_size)
        return false;
    auto const* name = reinterpret_cast<char const*>(h) + h->strings_offset + entry.name_offset;
    format(out, size, "%s+0x%x", name, static_cast<u32>(address - base) - entry.offset);
    return true;
}

} // namespace

bool symbolize(u64 address, char* out, usize size) { return symbolize_at(address, address, out, size); }

void print_backtrace(u64 rbp)
{
    klog("  backtrace:");
    for (int depth = 0; depth < 16 && rbp != 0; ++depth) {
        if (rbp % 8 != 0 || !readable(rbp) || !readable(rbp + 8)) {
            klog("    (frame pointer %p not readable)", reinterpret_cast<void*>(rbp));
            return;
        }
        auto const* frame = reinterpret_cast<u64 const*>(rbp);
        u64 return_address = frame[1];
        if (return_address == 0)
            return;
        char symbol[128];
        // A call to a noreturn function can be a function's last instruction: its return address is then the
        // first byte of the next function. Look up the call instruction instead.
        if (symbolize_at(return_address - 1, return_address, symbol, sizeof(symbol)))
            klog("    %p %s", reinterpret_cast<void*>(return_address), symbol);
        else
            klog("    %p ?", reinterpret_cast<void*>(return_address));
        if (frame[0] <= rbp)
            return; // frames grow upwards as we unwind; anything else is corruption
        rbp = frame[0];
    }
}

} // namespace kernite::debug
