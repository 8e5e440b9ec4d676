// The parts of the Linux x86-64 user ABI that the file-system system calls exchange with a program: `struct
// stat`, `struct statx`, `struct linux_dirent64` and the flag values of open(2), *at(2), lseek(2), access(2),
// renameat2(2), fcntl(2) and utimensat(2). Values and layouts are from the kernel's UAPI headers
// (arch/x86/include/uapi/asm/stat.h, include/uapi/linux/stat.h, include/uapi/asm-generic/fcntl.h,
// include/uapi/linux/fcntl.h, include/linux/dirent.h); the static_asserts pin what a program relies on.
//
// Everything lives in kernite::vfs::linux_abi with lower-case names (`o_creat`, `s_ifreg`), so this header can
// be included next to the host's <fcntl.h> and <sys/stat.h>, whose upper-case names are macros.
#pragma once

#include <ktl/types.h>

namespace kernite::vfs::linux_abi {

// open(2) flags, asm-generic/fcntl.h (x86-64 uses the generic values).
inline constexpr u32 o_rdonly = 00;
inline constexpr u32 o_wronly = 01;
inline constexpr u32 o_rdwr = 02;
inline constexpr u32 o_accmode = 03;
inline constexpr u32 o_creat = 0100;
inline constexpr u32 o_excl = 0200;
inline constexpr u32 o_noctty = 0400;
inline constexpr u32 o_trunc = 01000;
inline constexpr u32 o_append = 02000;
inline constexpr u32 o_nonblock = 04000;
inline constexpr u32 o_dsync = 010000;
inline constexpr u32 o_async = 020000;
inline constexpr u32 o_direct = 040000;
inline constexpr u32 o_largefile = 0100000; // always set in F_GETFL on 64-bit Linux (force_o_largefile)
inline constexpr u32 o_directory = 0200000;
inline constexpr u32 o_nofollow = 0400000;
inline constexpr u32 o_noatime = 01000000;
inline constexpr u32 o_cloexec = 02000000;
inline constexpr u32 o_sync = 04010000;
inline constexpr u32 o_path = 010000000;
inline constexpr u32 o_tmpfile_bit = 020000000;
inline constexpr u32 o_tmpfile = o_tmpfile_bit | o_directory; // refused: EOPNOTSUPP

// File type and permission bits of st_mode, include/uapi/linux/stat.h.
inline constexpr u32 s_ifmt = 0170000;
inline constexpr u32 s_ifsock = 0140000;
inline constexpr u32 s_iflnk = 0120000;
inline constexpr u32 s_ifreg = 0100000;
inline constexpr u32 s_ifblk = 0060000;
inline constexpr u32 s_ifdir = 0040000;
inline constexpr u32 s_ifchr = 0020000;
inline constexpr u32 s_ififo = 0010000;
inline constexpr u32 s_isuid = 04000;
inline constexpr u32 s_isgid = 02000;
inline constexpr u32 s_isvtx = 01000;
inline constexpr u32 s_permissions = 07777; // what chmod(2) may set
inline constexpr u32 s_ixugo = 0111;

// *at(2) conventions, include/uapi/linux/fcntl.h.
inline constexpr int at_fdcwd = -100;
inline constexpr u32 at_symlink_nofollow = 0x100;
inline constexpr u32 at_removedir = 0x200;
inline constexpr u32 at_eaccess = 0x200; // faccessat2 only
inline constexpr u32 at_symlink_follow = 0x400;
inline constexpr u32 at_no_automount = 0x800;
inline constexpr u32 at_empty_path = 0x1000;
inline constexpr u32 at_statx_sync_type = 0x6000;

// renameat2(2) flags.
inline constexpr u32 rename_noreplace = 1;
inline constexpr u32 rename_exchange = 2; // not supported: EINVAL
inline constexpr u32 rename_whiteout = 4; // not supported: EINVAL

// lseek(2) whence values.
inline constexpr int seek_set = 0;
inline constexpr int seek_cur = 1;
inline constexpr int seek_end = 2;
inline constexpr int seek_data = 3;
inline constexpr int seek_hole = 4;

// access(2) modes.
inline constexpr u32 f_ok = 0;
inline constexpr u32 x_ok = 1;
inline constexpr u32 w_ok = 2;
inline constexpr u32 r_ok = 4;

// fcntl(2) commands the fd table serves.
inline constexpr int f_dupfd = 0;
inline constexpr int f_getfd = 1;
inline constexpr int f_setfd = 2;
inline constexpr int f_getfl = 3;
inline constexpr int f_setfl = 4;
inline constexpr int f_dupfd_cloexec = 1030;
inline constexpr u32 fd_cloexec = 1;

// d_type of linux_dirent64, include/linux/fs_types.h (S_IFMT >> 12).
inline constexpr u8 dt_unknown = 0;
inline constexpr u8 dt_fifo = 1;
inline constexpr u8 dt_chr = 2;
inline constexpr u8 dt_dir = 4;
inline constexpr u8 dt_blk = 6;
inline constexpr u8 dt_reg = 8;
inline constexpr u8 dt_lnk = 10;
inline constexpr u8 dt_sock = 12;

// utimensat(2) special nanosecond values.
inline constexpr i64 utime_now = (1l << 30) - 1;
inline constexpr i64 utime_omit = (1l << 30) - 2;

// Limits, include/uapi/linux/limits.h and pipe_fs_i.h.
inline constexpr usize path_max = 4096; // including the terminating NUL
inline constexpr usize name_max = 255;
inline constexpr usize pipe_buf = 4096;           // writes up to this size are atomic
inline constexpr usize pipe_capacity = 65536;     // the default pipe size (16 pages)
inline constexpr u32 symlink_max_follows = 40;    // MAXSYMLINKS
inline constexpr usize max_rw_count = 0x7ffff000; // MAX_RW_COUNT: one read/write moves at most this much

struct LinuxTimespec {
    i64 tv_sec;
    i64 tv_nsec;
};
static_assert(sizeof(LinuxTimespec) == 16);

// `struct stat` of x86-64, arch/x86/include/uapi/asm/stat.h (note st_nlink before st_mode, unlike i386).
struct LinuxStat {
    u64 st_dev;
    u64 st_ino;
    u64 st_nlink;
    u32 st_mode;
    u32 st_uid;
    u32 st_gid;
    u32 pad0;
    u64 st_rdev;
    i64 st_size;
    i64 st_blksize;
    i64 st_blocks; // in 512-byte units
    LinuxTimespec st_atim;
    LinuxTimespec st_mtim;
    LinuxTimespec st_ctim;
    i64 unused[3];
};
static_assert(sizeof(LinuxStat) == 144);
static_assert(__builtin_offsetof(LinuxStat, st_nlink) == 16);
static_assert(__builtin_offsetof(LinuxStat, st_mode) == 24);
static_assert(__builtin_offsetof(LinuxStat, st_rdev) == 40);
static_assert(__builtin_offsetof(LinuxStat, st_size) == 48);
static_assert(__builtin_offsetof(LinuxStat, st_blocks) == 64);
static_assert(__builtin_offsetof(LinuxStat, st_atim) == 72);
static_assert(__builtin_offsetof(LinuxStat, st_mtim) == 88);
static_assert(__builtin_offsetof(LinuxStat, st_ctim) == 104);

// statx(2), include/uapi/linux/stat.h.
inline constexpr u32 statx_type = 0x1;
inline constexpr u32 statx_mode = 0x2;
inline constexpr u32 statx_nlink = 0x4;
inline constexpr u32 statx_uid = 0x8;
inline constexpr u32 statx_gid = 0x10;
inline constexpr u32 statx_atime = 0x20;
inline constexpr u32 statx_mtime = 0x40;
inline constexpr u32 statx_ctime = 0x80;
inline constexpr u32 statx_ino = 0x100;
inline constexpr u32 statx_size = 0x200;
inline constexpr u32 statx_blocks = 0x400;
inline constexpr u32 statx_basic_stats = 0x7ff;
inline constexpr u32 statx_reserved = 0x80000000; // a request with this bit is EINVAL

struct LinuxStatxTimestamp {
    i64 tv_sec;
    u32 tv_nsec;
    i32 reserved;
};
static_assert(sizeof(LinuxStatxTimestamp) == 16);

struct LinuxStatx {
    u32 stx_mask;
    u32 stx_blksize;
    u64 stx_attributes;
    u32 stx_nlink;
    u32 stx_uid;
    u32 stx_gid;
    u16 stx_mode;
    u16 spare0;
    u64 stx_ino;
    u64 stx_size;
    u64 stx_blocks;
    u64 stx_attributes_mask;
    LinuxStatxTimestamp stx_atime;
    LinuxStatxTimestamp stx_btime;
    LinuxStatxTimestamp stx_ctime;
    LinuxStatxTimestamp stx_mtime;
    u32 stx_rdev_major;
    u32 stx_rdev_minor;
    u32 stx_dev_major;
    u32 stx_dev_minor;
    u64 stx_mnt_id;
    u32 stx_dio_mem_align;
    u32 stx_dio_offset_align;
    u64 spare3[12];
};
static_assert(sizeof(LinuxStatx) == 256);
static_assert(__builtin_offsetof(LinuxStatx, stx_mode) == 28);
static_assert(__builtin_offsetof(LinuxStatx, stx_ino) == 32);
static_assert(__builtin_offsetof(LinuxStatx, stx_size) == 40);
static_assert(__builtin_offsetof(LinuxStatx, stx_atime) == 64);
static_assert(__builtin_offsetof(LinuxStatx, stx_mtime) == 112);
static_assert(__builtin_offsetof(LinuxStatx, stx_rdev_major) == 128);
static_assert(__builtin_offsetof(LinuxStatx, stx_mnt_id) == 144);

// `struct linux_dirent64` (include/linux/dirent.h): a fixed 19-byte head, then the NUL-terminated name; each
// record is padded to a multiple of 8 bytes (d_reclen). Written byte-wise by getdents64, never as a struct, so
// only the offsets matter.
inline constexpr usize dirent64_ino_offset = 0;
inline constexpr usize dirent64_off_offset = 8;
inline constexpr usize dirent64_reclen_offset = 16;
inline constexpr usize dirent64_type_offset = 18;
inline constexpr usize dirent64_name_offset = 19;

// Record length for a name of `name_length` bytes: head + name + NUL, rounded up to 8.
constexpr usize dirent64_record_length(usize name_length)
{
    return (dirent64_name_offset + name_length + 1 + 7) & ~usize(7);
}

} // namespace kernite::vfs::linux_abi
