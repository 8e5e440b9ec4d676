// The bytes of a regular file (and the output buffer of a generated file): an array of 4 KiB pages indexed by
// page number, a null pointer being a hole that reads as zeros. Writing a file 4 KiB at a time up to tens of
// MiB costs one page allocation per page plus an amortised doubling of the pointer array: no O(n^2) copying.
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::vfs {

inline constexpr usize file_page_size = 4096;
// The largest regular file (writes past it fail with EFBIG). Tens of MiB is the expected use; the limit only
// keeps a hostile program from asking the pointer array for absurd sizes.
inline constexpr u64 max_file_size = 1ull << 30;

class FileData {
public:
    FileData() = default;
    ~FileData();
    FileData(FileData const&) = delete;
    FileData& operator=(FileData const&) = delete;

    u64 size() const { return m_size; }
    // Bytes held in pages (holes excluded), for st_blocks.
    u64 allocated_bytes() const { return static_cast<u64>(m_allocated_pages) * file_page_size; }

    // Copies up to `count` bytes at `offset` (zeros in holes); returns 0 at or past the end.
    usize read(u64 offset, void* buffer, usize count) const;
    // Writes `count` bytes at `offset`, growing the file. EFBIG when offset is at or past max_file_size; the
    // count is clamped so the file never exceeds it. When memory runs out part-way, the bytes written so far
    // count (a short write), or ENOMEM when none were; the file stays consistent either way.
    ErrorOr<usize> write(u64 offset, void const* buffer, usize count);
    ErrorOr<void> append(void const* buffer, usize count);
    ErrorOr<void> append(char const* string);
    // Sets the size: shrinking frees whole pages past the end and zeros the tail of the last one (a later
    // extension must read zeros there), growing only moves the end (a hole). EFBIG past max_file_size.
    ErrorOr<void> resize(u64 new_size);
    void clear();

    // SEEK_DATA / SEEK_HOLE helpers: the first offset >= `offset` in a page with data, or in a hole (the end
    // of the file counts as a hole). `offset` must be below size().
    u64 next_data(u64 offset) const;
    u64 next_hole(u64 offset) const;

private:
    u8* page(usize index) const { return index < m_page_slots ? m_pages[index] : nullptr; }
    ErrorOr<u8*> page_for_write(usize index);

    u8** m_pages { nullptr };
    usize m_page_slots { 0 }; // length of m_pages
    usize m_allocated_pages { 0 };
    u64 m_size { 0 };
};

} // namespace kernite::vfs
