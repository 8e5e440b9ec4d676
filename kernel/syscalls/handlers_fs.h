// The file family (kernel/syscalls/fs_paths.cpp, fs_io.cpp, fs_poll.cpp); included by handlers.h.
#pragma once

#define KERNITE_SYSCALLS_FS(X)                                                                               \
    X(read, "fpu") X(write, "fpu") X(readv, "fpd") X(writev, "fpd") X(pread64, "fpud") X(pwrite64, "fpud")   \
    X(open, "sxo") X(openat, "fsxo") X(creat, "so") X(close, "f") X(lseek, "fdd") X(fstat, "fp")              \
    X(stat, "sp") X(lstat, "sp") X(newfstatat, "fspx") X(statx, "fsxxp") X(getdents64, "fpu")                 \
    X(access, "so") X(faccessat, "fso") X(faccessat2, "fsox") X(readlink, "spu") X(readlinkat, "fspu")        \
    X(getcwd, "pu") X(chdir, "s") X(fchdir, "f") X(mkdir, "so") X(mkdirat, "fso") X(rmdir, "s")               \
    X(unlink, "s") X(unlinkat, "fsx") X(rename, "ss") X(renameat, "fsfs") X(renameat2, "fsfsx")               \
    X(link, "ss") X(linkat, "fsfsx") X(symlink, "ss") X(symlinkat, "sfs") X(ftruncate, "fd")                  \
    X(truncate, "sd") X(fsync, "f") X(fdatasync, "f") X(sync, "") X(dup, "f") X(dup2, "ff") X(dup3, "ffx")    \
    X(fcntl, "fdx") X(ioctl, "fxp") X(pipe, "p") X(pipe2, "px") X(poll, "pud") X(ppoll, "pupp")               \
    X(select, "dpppp") X(pselect6, "dppppp") X(chmod, "so") X(fchmod, "fo") X(fchmodat, "fso")                \
    X(chown, "sdd") X(fchown, "fdd") X(lchown, "sdd") X(fchownat, "fsddx") X(utimensat, "fspx")               \
    X(statfs, "sp") X(fstatfs, "fp") X(flock, "fd") X(fadvise64, "fddd") X(fallocate, "fxdd")                 \
    X(sendfile, "ffpu") X(copy_file_range, "fpfpux")
