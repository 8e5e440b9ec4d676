// Regular-file storage: see include/vfs/file_data.h.
#include <vfs/file_data.h>

#include <ktl/allocator.h>

static_assert(kernite::vfs::file_page_size == ktl::page_allocation_size);

namespace kernite::vfs {

FileData::~FileData() { clear(); }

void FileData::clear()
{
    for (usize i = 0; i < m_page_slots; ++i)
        ktl::deallocate_page(m_pages[i]);
    ktl::deallocate(m_pages);
    m_pages = nullptr;
    m_page_slots = 0;
    m_allocated_pages = 0;
    m_size = 0;
}

usize FileData::read(u64 offset, void* buffer, usize count) const
{
    if (offset >= m_size)
        return 0;
    if (count > m_size - offset)
        count = static_cast<usize>(m_size - offset);
    auto* out = static_cast<u8*>(buffer);
    usize done = 0;
    while (done < count) {
        u64 position = offset + done;
        usize index = static_cast<usize>(position / file_page_size);
        usize in_page = static_cast<usize>(position % file_page_size);
        usize chunk = file_page_size - in_page;
        if (chunk > count - done)
            chunk = count - done;
        if (u8 const* bytes = page(index))
            __builtin_memcpy(out + done, bytes + in_page, chunk);
        else
            __builtin_memset(out + done, 0, chunk);
        done += chunk;
    }
    return count;
}

ErrorOr<u8*> FileData::page_for_write(usize index)
{
    if (index >= m_page_slots) {
        // Double the pointer array (amortised O(1) per page), at least to `index + 1`.
        usize slots = m_page_slots ? m_page_slots * 2 : 4;
        if (slots <= index)
            slots = index + 1;
        auto* grown = static_cast<u8**>(ktl::allocate(slots * sizeof(u8*)));
        if (!grown)
            return Error::from_errno(ENOMEM, "out of memory for a file's page table");
        if (m_page_slots)
            __builtin_memcpy(grown, m_pages, m_page_slots * sizeof(u8*));
        __builtin_memset(grown + m_page_slots, 0, (slots - m_page_slots) * sizeof(u8*));
        ktl::deallocate(m_pages);
        m_pages = grown;
        m_page_slots = slots;
    }
    if (!m_pages[index]) {
        auto* bytes = static_cast<u8*>(ktl::allocate_zeroed_page());
        if (!bytes)
            return Error::from_errno(ENOMEM, "out of memory for file data");
        m_pages[index] = bytes;
        ++m_allocated_pages;
    }
    return m_pages[index];
}

ErrorOr<usize> FileData::write(u64 offset, void const* buffer, usize count)
{
    if (count == 0)
        return usize(0);
    if (offset >= max_file_size)
        return Error::from_errno(EFBIG, "write past the largest file size");
    if (count > max_file_size - offset)
        count = static_cast<usize>(max_file_size - offset);
    auto const* in = static_cast<u8 const*>(buffer);
    usize done = 0;
    while (done < count) {
        u64 position = offset + done;
        usize index = static_cast<usize>(position / file_page_size);
        usize in_page = static_cast<usize>(position % file_page_size);
        usize chunk = file_page_size - in_page;
        if (chunk > count - done)
            chunk = count - done;
        auto page = page_for_write(index);
        if (page.is_error()) {
            if (done == 0)
                return page.release_error();
            break;
        }
        __builtin_memcpy(page.value() + in_page, in + done, chunk);
        done += chunk;
        if (offset + done > m_size)
            m_size = offset + done;
    }
    return done;
}

ErrorOr<void> FileData::append(void const* buffer, usize count)
{
    usize written = TRY(write(m_size, buffer, count));
    if (written != count)
        return Error::from_errno(ENOMEM, "out of memory for file data");
    return {};
}

ErrorOr<void> FileData::append(char const* string) { return append(string, __builtin_strlen(string)); }

ErrorOr<void> FileData::resize(u64 new_size)
{
    if (new_size > max_file_size)
        return Error::from_errno(EFBIG, "size past the largest file size");
    if (new_size < m_size) {
        // Free every page wholly past the new end, zero the rest of the page that holds it.
        usize first_free = static_cast<usize>((new_size + file_page_size - 1) / file_page_size);
        for (usize i = first_free; i < m_page_slots; ++i) {
            if (m_pages[i]) {
                ktl::deallocate_page(m_pages[i]);
                m_pages[i] = nullptr;
                --m_allocated_pages;
            }
        }
        usize in_page = static_cast<usize>(new_size % file_page_size);
        if (in_page != 0) {
            if (u8* bytes = page(static_cast<usize>(new_size / file_page_size)))
                __builtin_memset(bytes + in_page, 0, file_page_size - in_page);
        }
    }
    m_size = new_size;
    return {};
}

u64 FileData::next_data(u64 offset) const
{
    for (u64 position = offset; position < m_size;) {
        usize index = static_cast<usize>(position / file_page_size);
        if (index >= m_page_slots)
            break; // the rest is one hole
        if (page(index))
            return position;
        position = (static_cast<u64>(index) + 1) * file_page_size;
    }
    return m_size;
}

u64 FileData::next_hole(u64 offset) const
{
    for (u64 position = offset; position < m_size;) {
        usize index = static_cast<usize>(position / file_page_size);
        if (!page(index))
            return position;
        position = (static_cast<u64>(index) + 1) * file_page_size;
    }
    return m_size;
}

} // namespace kernite::vfs
