#include <elf/symbols.h>
#include <kernel/lib/format.h>
#include <kernel/process/program_symbols.h>

namespace kernite::process {

namespace {

u8 const* g_file;
u64 g_size;
u64 g_bias;

} // namespace

void set_program_image(u8 const* file, u64 size, u64 load_bias)
{
    g_file = file;
    g_size = size;
    g_bias = load_bias;
}

bool symbolize_program_address(u64 address, char* out, usize size)
{
    if (size == 0)
        return false;
    out[0] = 0;
    // .symtab values are link-time addresses: a static-PIE program's are relative to its load bias.
    if (!g_file || address < g_bias)
        return false;
    elf::SymbolMatch match;
    if (!elf::find_symbol(g_file, g_size, address - g_bias, &match))
        return false;
    format(out, size, "%s+0x%lx", match.name, match.offset);
    return true;
}

} // namespace kernite::process
