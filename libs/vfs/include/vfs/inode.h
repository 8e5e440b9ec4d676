// An inode of the in-memory filesystem: a regular file, a directory, a symbolic link, a character device or a
// pipe. Reference-counted: every directory entry naming it, every OpenFile on it and every subdirectory whose
// ".." it is holds one reference; the last unref() frees it (so an unlinked file stays readable while open).
// Not thread-safe: the caller serialises every vfs call (one filesystem lock in the kernel).
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>
#include <vfs/file_data.h>
#include <vfs/linux_types.h>

namespace kernite::vfs {

class FileSystem;
class Inode;
class OpenFile;
class Pipe;

struct Timespec {
    i64 seconds { 0 };
    i64 nanoseconds { 0 };
};

enum class InodeType : u8 {
    Regular,
    Directory,
    Symlink,
    CharDevice,
    Fifo,
};

// A character device served by the kernel (/dev/null, /dev/urandom, the program's stdout...). Either function
// may be null: reading or writing then fails with EINVAL, as Linux does for a device without that operation.
struct DeviceOps {
    ErrorOr<usize> (*read)(void* context, void* buffer, usize count, u64 offset);
    ErrorOr<usize> (*write)(void* context, void const* buffer, usize count, u64 offset);
};

// Produces a generated file's whole content (/proc/self/maps) when it is opened; the OpenFile then reads the
// snapshot like a read-only regular file.
using GenerateFn = ErrorOr<void> (*)(void* context, FileData& output);

// One name in a directory. Entries are kept in creation order with increasing cookies, the getdents64 offsets;
// a removed entry leaves a tombstone (inode == nullptr) until the array is compacted, which keeps the order.
struct DirectoryEntry {
    u64 cookie;
    Inode* inode;
    char* name; // not NUL-terminated
    u32 hash;
    u16 length;
};

class Inode {
public:
    Inode(Inode const&) = delete;
    Inode& operator=(Inode const&) = delete;

    void ref() { ++m_references; }
    void unref();
    u32 references() const { return m_references; }

    InodeType type() const { return m_type; }
    bool is_regular() const { return m_type == InodeType::Regular; }
    bool is_directory() const { return m_type == InodeType::Directory; }
    bool is_symlink() const { return m_type == InodeType::Symlink; }
    bool is_char_device() const { return m_type == InodeType::CharDevice; }
    bool is_fifo() const { return m_type == InodeType::Fifo; }
    bool is_generated() const { return m_generate != nullptr; }

    u64 ino() const { return m_ino; }
    u32 mode() const { return m_mode; } // S_IF* type bits | permission bits
    u32 nlink() const { return m_nlink; }
    u64 size() const;
    Timespec atime() const { return m_atime; }
    Timespec mtime() const { return m_mtime; }
    Timespec ctime() const { return m_ctime; }
    u8 dirent_type() const;

    linux_abi::LinuxStat stat() const;
    // EINVAL when `mask` has statx_reserved set (Linux); the answer always carries the basic fields.
    ErrorOr<linux_abi::LinuxStatx> statx(u32 mask) const;

    // Directories.
    Inode* parent() const { return m_parent; }           // nullptr for the root and for removed directories
    bool is_removed() const { return m_removed; }        // taken out of the tree by rmdir or rename
    usize entry_count() const { return m_live_entries; } // "." and ".." not counted
    Inode* lookup(char const* name, usize length) const; // a real entry (not "." or ".."), or nullptr

    // Symbolic links (target length is also size()).
    char const* symlink_target() const { return m_symlink_target; }

    // Regular files; null for generated files, which have no stored bytes.
    FileData* data() { return is_regular() && !m_generate ? &m_data : nullptr; }

    // Character devices.
    DeviceOps const* device_ops() const { return m_device_ops; }
    void* device_context() const { return m_device_context; }

private:
    friend class FileSystem;
    friend class OpenFile;

    Inode(FileSystem& file_system, InodeType type, u64 ino, u32 mode);
    ~Inode();

    Timespec now() const;
    void touch_modified(); // mtime and ctime = now
    void touch_changed();  // ctime = now

    // Directory entries (FileSystem keeps nlink and parent pointers right around these).
    DirectoryEntry* find_entry(char const* name, usize length) const;
    ErrorOr<void> add_entry(char const* name, usize length, Inode& inode); // takes a reference; nothing on error
    void remove_entry(DirectoryEntry& entry);                              // drops the reference
    usize first_entry_at(u64 cookie) const; // index of the first slot with cookie >= `cookie`
    void compact_entries();

    FileSystem& m_file_system;
    u64 m_ino;
    u32 m_references { 0 };
    u32 m_mode;
    u32 m_nlink { 0 };
    InodeType m_type;
    bool m_removed { false };
    Timespec m_atime;
    Timespec m_mtime;
    Timespec m_ctime;

    // Regular.
    FileData m_data;
    GenerateFn m_generate { nullptr };
    void* m_generate_context { nullptr };

    // Directory.
    Inode* m_parent { nullptr }; // holds a reference
    DirectoryEntry* m_entries { nullptr };
    usize m_entry_slots { 0 }; // used slots, tombstones included
    usize m_entry_capacity { 0 };
    usize m_live_entries { 0 };
    u64 m_next_cookie { 2 }; // 0 and 1 are "." and ".."

    // Symlink.
    char* m_symlink_target { nullptr };
    usize m_symlink_length { 0 };

    // Character device.
    DeviceOps const* m_device_ops { nullptr };
    void* m_device_context { nullptr };
    u64 m_rdev { 0 };

    // Fifo.
    Pipe* m_pipe { nullptr };
};

} // namespace kernite::vfs
