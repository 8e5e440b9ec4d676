// /proc/self/maps text, byte for byte as Linux prints it (fs/proc/task_mmu.c show_map_vma(), 6.x):
//   "%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu " start, end, r/w/x/p, file offset, major:minor, inode
// then, when the region has a name, spaces up to column 72 (seq_setwidth(m, 25 + sizeof(void*) * 6 - 1) and
// seq_pad(m, ' ')), one more space, the name; then "\n". A line without a name ends in "0 \n". Our memory is
// all private ('p'), backed by no device (00:00) and no inode (0).
#include <vma/region_map.h>

namespace kernite::vma {

namespace {

constexpr usize name_column = 25 + sizeof(u64) * 6 - 1; // 72: where seq_pad pads the prefix to

// Counts every byte; stores those that fit.
class TextWriter {
public:
    TextWriter(char* out, usize capacity)
        : m_out(out)
        , m_capacity(out ? capacity : 0)
    {
    }
    void put(char c)
    {
        if (m_length < m_capacity)
            m_out[m_length] = c;
        ++m_length;
    }
    void put(char const* text)
    {
        while (*text)
            put(*text++);
    }
    void hex(u64 value, int minimum_digits)
    {
        char digits[16];
        int count = 0;
        do {
            digits[count++] = "0123456789abcdef"[value & 0xf];
            value >>= 4;
        } while (value != 0);
        for (int i = count; i < minimum_digits; ++i)
            put('0');
        while (count > 0)
            put(digits[--count]);
    }
    usize length() const { return m_length; }

private:
    char* m_out;
    usize m_capacity;
    usize m_length { 0 };
};

void write_line(TextWriter& writer, Region const& region)
{
    usize const line_start = writer.length();
    writer.hex(region.start, 8);
    writer.put('-');
    writer.hex(region.end, 8);
    writer.put(' ');
    writer.put((region.prot & prot_read) ? 'r' : '-');
    writer.put((region.prot & prot_write) ? 'w' : '-');
    writer.put((region.prot & prot_exec) ? 'x' : '-');
    writer.put('p');
    writer.put(' ');
    writer.hex(region.offset, 8);
    writer.put(" 00:00 0 ");
    if (region.name != nullptr) {
        while (writer.length() - line_start < name_column)
            writer.put(' ');
        writer.put(' ');
        writer.put(region.name);
    }
    writer.put('\n');
}

} // namespace

usize format_maps_line(Region const& region, char* out, usize capacity)
{
    TextWriter writer(out, capacity);
    write_line(writer, region);
    return writer.length();
}

usize RegionMap::format_maps(char* out, usize capacity) const
{
    TextWriter writer(out, capacity);
    for (usize index = 0; index < m_count; ++index)
        write_line(writer, m_regions[index]);
    return writer.length();
}

} // namespace kernite::vma
