// Namespace operations of libs/vfs against Linux's documented errno for each success and failure path.
#include "vfs_test_support.h"

// Both on purpose: the vfs ABI header must coexist with the host's macros (O_CREAT, S_IFREG...).
#include <fcntl.h>
#include <sys/stat.h>

#include <cstddef>

using namespace vfs_test;

// The layouts must be the host's (x86-64 Linux): a program reads these bytes as its own struct stat.
static_assert(sizeof(struct stat) == sizeof(LinuxStat));
static_assert(offsetof(struct stat, st_nlink) == offsetof(LinuxStat, st_nlink));
static_assert(offsetof(struct stat, st_mode) == offsetof(LinuxStat, st_mode));
static_assert(offsetof(struct stat, st_size) == offsetof(LinuxStat, st_size));
static_assert(offsetof(struct stat, st_blocks) == offsetof(LinuxStat, st_blocks));
static_assert(offsetof(struct stat, st_mtim) == offsetof(LinuxStat, st_mtim));
static_assert(O_CREAT == o_creat && O_EXCL == o_excl && O_TRUNC == o_trunc && O_APPEND == o_append);
static_assert(O_NONBLOCK == o_nonblock && O_DIRECTORY == o_directory && O_NOFOLLOW == o_nofollow);
static_assert(O_CLOEXEC == o_cloexec && O_PATH == o_path && O_TMPFILE == o_tmpfile);
static_assert(S_IFREG == s_ifreg && S_IFDIR == s_ifdir && S_IFLNK == s_iflnk && S_IFIFO == s_ififo);
static_assert(AT_FDCWD == at_fdcwd && AT_SYMLINK_NOFOLLOW == at_symlink_nofollow && AT_REMOVEDIR == at_removedir);
static_assert(AT_EMPTY_PATH == at_empty_path && SEEK_DATA == seek_data && SEEK_HOLE == seek_hole);

namespace {

Timespec fixed_clock() { return { 1700000000, 123 }; }

TEST_F(FsTest, RootIsADirectoryWithTwoLinks)
{
    auto st = fs->stat(root, "/");
    ASSERT_FALSE(st.is_error());
    EXPECT_EQ(st.value().st_mode, s_ifdir | 0755);
    EXPECT_EQ(st.value().st_nlink, 2u);
    EXPECT_EQ(inode("/.."), root);
    EXPECT_EQ(inode("/../../."), root);
}

TEST_F(FsTest, MkdirCreatesAndCountsLinks)
{
    ASSERT_FALSE(fs->mkdir(root, "a", 0755).is_error());
    ASSERT_FALSE(fs->mkdir(root, "/a/b/", 0700).is_error()); // a trailing slash is fine for mkdir
    EXPECT_EQ(inode("/a")->nlink(), 3u);                     // entry, ".", b's ".."
    EXPECT_EQ(root->nlink(), 3u);
    EXPECT_EQ(inode("a/b")->mode(), s_ifdir | 0700);
    EXPECT_EQ(inode("a/b/..")->ino(), inode("a")->ino());
    EXPECT_EQ(errno_of(fs->mkdir(root, "a", 0755)), EEXIST);
    EXPECT_EQ(errno_of(fs->mkdir(root, "/", 0755)), EEXIST);
    EXPECT_EQ(errno_of(fs->mkdir(root, "a/.", 0755)), EEXIST);
    EXPECT_EQ(errno_of(fs->mkdir(root, "missing/x", 0755)), ENOENT);
    EXPECT_EQ(errno_of(fs->mkdir(root, "", 0755)), ENOENT);
    write_file("/f", "x");
    EXPECT_EQ(errno_of(fs->mkdir(root, "f/x", 0755)), ENOTDIR);
    // A dangling symlink is an existing name: mkdir must not create its target.
    ASSERT_FALSE(fs->symlink("target", root, "dangling").is_error());
    EXPECT_EQ(errno_of(fs->mkdir(root, "dangling", 0755)), EEXIST);
    EXPECT_EQ(errno_of(fs->mkdir(root, "dangling/", 0755)), EEXIST);
    EXPECT_FALSE(exists("/target"));
}

TEST_F(FsTest, RelativePathsStartAtTheGivenDirectory)
{
    ASSERT_FALSE(fs->mkdir(root, "/d", 0755).is_error());
    Inode* d = inode("/d");
    ASSERT_FALSE(fs->mkdir(d, "sub", 0755).is_error());
    EXPECT_TRUE(exists("/d/sub"));
    EXPECT_EQ(fs->resolve(d, "..").value(), root);
    EXPECT_EQ(fs->resolve(d, "/d/sub").value(), fs->resolve(d, "sub").value());
    // A relative path from a non-directory start: ENOTDIR, as openat with a file dirfd.
    write_file("/file", "");
    EXPECT_EQ(errno_of(fs->resolve(inode("/file"), "x")), ENOTDIR);
}

TEST_F(FsTest, RmdirErrors)
{
    ASSERT_FALSE(fs->mkdir(root, "/d", 0755).is_error());
    ASSERT_FALSE(fs->mkdir(root, "/d/e", 0755).is_error());
    write_file("/file", "");
    EXPECT_EQ(errno_of(fs->rmdir(root, "/d")), ENOTEMPTY);
    EXPECT_EQ(errno_of(fs->rmdir(root, "/file")), ENOTDIR);
    EXPECT_EQ(errno_of(fs->rmdir(root, "/missing")), ENOENT);
    EXPECT_EQ(errno_of(fs->rmdir(root, "/")), EBUSY);
    EXPECT_EQ(errno_of(fs->rmdir(root, "/d/e/.")), EINVAL);
    EXPECT_EQ(errno_of(fs->rmdir(root, "/d/e/..")), ENOTEMPTY);
    ASSERT_FALSE(fs->symlink("/d/e", root, "/link").is_error());
    EXPECT_EQ(errno_of(fs->rmdir(root, "/link")), ENOTDIR);
    EXPECT_EQ(errno_of(fs->rmdir(root, "/link/")), ENOTDIR); // the last component is never followed
    ASSERT_FALSE(fs->rmdir(root, "/d/e/").is_error());
    EXPECT_EQ(inode("/d")->nlink(), 2u);
    ASSERT_FALSE(fs->rmdir(root, "/d").is_error());
    EXPECT_EQ(root->nlink(), 2u);
    EXPECT_FALSE(exists("/d"));
}

TEST_F(FsTest, RemovedDirectoryStaysUsableAsAStartButEmpty)
{
    ASSERT_FALSE(fs->mkdir(root, "/d", 0755).is_error());
    Inode* d = inode("/d");
    d->ref(); // as a cwd would
    ASSERT_FALSE(fs->rmdir(root, "/d").is_error());
    EXPECT_TRUE(d->is_removed());
    EXPECT_EQ(d->nlink(), 0u);
    EXPECT_EQ(errno_of(fs->mkdir(d, "x", 0755)), ENOENT);
    EXPECT_EQ(errno_of(fs->open(d, "f", o_creat | o_wronly, 0644)), ENOENT);
    EXPECT_EQ(errno_of(fs->resolve(d, "..")), ENOENT);
    char buffer[64];
    EXPECT_EQ(errno_of(fs->absolute_path(d, buffer, sizeof(buffer))), ENOENT);
    d->unref();
}

TEST_F(FsTest, UnlinkErrors)
{
    ASSERT_FALSE(fs->mkdir(root, "/d", 0755).is_error());
    write_file("/d/f", "data");
    EXPECT_EQ(errno_of(fs->unlink(root, "/d")), EISDIR);
    EXPECT_EQ(errno_of(fs->unlink(root, "/")), EISDIR);
    EXPECT_EQ(errno_of(fs->unlink(root, "/d/.")), EISDIR);
    EXPECT_EQ(errno_of(fs->unlink(root, "/d/f/")), ENOTDIR);
    EXPECT_EQ(errno_of(fs->unlink(root, "/d/missing")), ENOENT);
    EXPECT_EQ(errno_of(fs->unlink(root, "/d/f/x")), ENOTDIR);
    ASSERT_FALSE(fs->unlink(root, "/d/f").is_error());
    EXPECT_FALSE(exists("/d/f"));
    // Unlinking a symlink removes the link, not its target.
    write_file("/target", "t");
    ASSERT_FALSE(fs->symlink("/target", root, "/link").is_error());
    ASSERT_FALSE(fs->unlink(root, "/link").is_error());
    EXPECT_TRUE(exists("/target"));
}

TEST_F(FsTest, SymlinksResolveRelativeToTheirDirectory)
{
    ASSERT_FALSE(fs->mkdir(root, "/a", 0755).is_error());
    ASSERT_FALSE(fs->mkdir(root, "/a/b", 0755).is_error());
    write_file("/a/b/file", "hello");
    ASSERT_FALSE(fs->symlink("b/file", root, "/a/rel").is_error());
    ASSERT_FALSE(fs->symlink("/a/b", root, "/abs").is_error());
    ASSERT_FALSE(fs->symlink("../../a/./b/", root, "/a/b/up").is_error());
    EXPECT_EQ(read_file("/a/rel"), "hello");
    EXPECT_EQ(read_file("/abs/file"), "hello");
    EXPECT_EQ(read_file("/abs/up/up/up/file"), "hello");
    EXPECT_EQ(fs->resolve(root, "/abs", false).value()->type(), InodeType::Symlink);
    EXPECT_EQ(fs->resolve(root, "/abs/", false).value()->type(), InodeType::Directory); // slash follows
    auto lst = fs->stat(root, "/a/rel", false);
    ASSERT_FALSE(lst.is_error());
    EXPECT_EQ(lst.value().st_mode, s_iflnk | 0777);
    EXPECT_EQ(lst.value().st_size, 6);
    EXPECT_EQ(fs->stat(root, "/a/rel").value().st_size, 5);
    ASSERT_FALSE(fs->symlink("nowhere", root, "/dangling").is_error());
    EXPECT_EQ(errno_of(fs->stat(root, "/dangling")), ENOENT);
    EXPECT_FALSE(fs->stat(root, "/dangling", false).is_error());
    ASSERT_FALSE(fs->symlink("/a/b/file", root, "/filelink").is_error());
    EXPECT_EQ(errno_of(fs->resolve(root, "/filelink/")), ENOTDIR);
    EXPECT_EQ(errno_of(fs->symlink("", root, "/empty")), ENOENT);
    EXPECT_EQ(errno_of(fs->symlink("x", root, "/abs")), EEXIST);
    EXPECT_EQ(errno_of(fs->symlink("x", root, "/new/")), ENOENT);
}

TEST_F(FsTest, SymlinkLoopsAndChainsStopAtForty)
{
    ASSERT_FALSE(fs->symlink("loop2", root, "/loop1").is_error());
    ASSERT_FALSE(fs->symlink("loop1", root, "/loop2").is_error());
    EXPECT_EQ(errno_of(fs->resolve(root, "/loop1")), ELOOP);
    EXPECT_EQ(errno_of(fs->resolve(root, "/loop1/x")), ELOOP);
    EXPECT_FALSE(fs->resolve(root, "/loop1", false).is_error());

    // A chain of exactly 40 links resolves; 41 is ELOOP (MAXSYMLINKS).
    write_file("/end", "end");
    ASSERT_FALSE(fs->symlink("/end", root, "/l0").is_error());
    for (int i = 1; i <= 40; ++i) {
        std::string target = "/l" + std::to_string(i - 1);
        std::string name = "/l" + std::to_string(i);
        ASSERT_FALSE(fs->symlink(target.c_str(), root, name.c_str()).is_error());
    }
    EXPECT_FALSE(fs->resolve(root, "/l39").is_error());
    EXPECT_EQ(errno_of(fs->resolve(root, "/l40")), ELOOP);
}

TEST_F(FsTest, NameAndPathLengthLimits)
{
    std::string name255(255, 'n');
    std::string name256(256, 'n');
    ASSERT_FALSE(fs->mkdir(root, name255.c_str(), 0755).is_error());
    EXPECT_TRUE(exists(("/" + name255).c_str()));
    EXPECT_EQ(errno_of(fs->mkdir(root, name256.c_str(), 0755)), ENAMETOOLONG);
    EXPECT_EQ(errno_of(fs->resolve(root, ("/" + name256 + "/x").c_str())), ENAMETOOLONG);

    std::string long_path;
    while (long_path.size() < 4095)
        long_path += "/.";
    long_path.resize(4095); // 4095 bytes + NUL = PATH_MAX: still allowed
    EXPECT_FALSE(fs->resolve(root, long_path.c_str()).is_error());
    long_path += ".";
    EXPECT_EQ(errno_of(fs->resolve(root, long_path.c_str())), ENAMETOOLONG);

    // Expansion through a symlink may also grow past PATH_MAX.
    std::string target(4000, '/');
    target += "x";
    ASSERT_FALSE(fs->symlink(target.c_str(), root, "/big").is_error());
    std::string through = "/big/" + std::string(200, 'y');
    EXPECT_EQ(errno_of(fs->resolve(root, through.c_str())), ENAMETOOLONG);
}

TEST_F(FsTest, ReadlinkCopiesWithoutNul)
{
    ASSERT_FALSE(fs->symlink("some/target", root, "/link").is_error());
    char buffer[32];
    std::memset(buffer, 'z', sizeof(buffer));
    auto n = fs->readlink(root, "/link", buffer, sizeof(buffer));
    ASSERT_FALSE(n.is_error());
    EXPECT_EQ(n.value(), 11u);
    EXPECT_EQ(std::string(buffer, 12), "some/targetz");
    EXPECT_EQ(fs->readlink(root, "/link", buffer, 4).value(), 4u); // truncated, as Linux
    EXPECT_EQ(errno_of(fs->readlink(root, "/link", buffer, 0)), EINVAL);
    write_file("/file", "");
    EXPECT_EQ(errno_of(fs->readlink(root, "/file", buffer, sizeof(buffer))), EINVAL);
    EXPECT_EQ(errno_of(fs->readlink(root, "/missing", buffer, sizeof(buffer))), ENOENT);
}

TEST_F(FsTest, HardLinksShareTheInode)
{
    write_file("/a", "shared");
    ASSERT_FALSE(fs->link(root, "/a", root, "/b").is_error());
    EXPECT_EQ(inode("/a"), inode("/b"));
    EXPECT_EQ(inode("/a")->nlink(), 2u);
    write_file("/b", "changed");
    EXPECT_EQ(read_file("/a"), "changed");
    ASSERT_FALSE(fs->unlink(root, "/a").is_error());
    EXPECT_EQ(inode("/b")->nlink(), 1u);
    EXPECT_EQ(read_file("/b"), "changed");

    ASSERT_FALSE(fs->mkdir(root, "/d", 0755).is_error());
    EXPECT_EQ(errno_of(fs->link(root, "/d", root, "/d2")), EPERM);
    EXPECT_EQ(errno_of(fs->link(root, "/b", root, "/d")), EEXIST);
    EXPECT_EQ(errno_of(fs->link(root, "/missing", root, "/x")), ENOENT);
    EXPECT_EQ(errno_of(fs->link(root, "/b", root, "/nodir/x")), ENOENT);
    // Without AT_SYMLINK_FOLLOW the link itself is linked.
    ASSERT_FALSE(fs->symlink("/b", root, "/sl").is_error());
    ASSERT_FALSE(fs->link(root, "/sl", root, "/sl2").is_error());
    EXPECT_TRUE(inode("/sl2", false)->is_symlink());
    ASSERT_FALSE(fs->link(root, "/sl", root, "/b2", true).is_error());
    EXPECT_EQ(inode("/b2", false), inode("/b"));
}

TEST_F(FsTest, RenameFiles)
{
    write_file("/a", "A");
    write_file("/b", "B");
    ASSERT_FALSE(fs->rename(root, "/a", root, "/c").is_error());
    EXPECT_FALSE(exists("/a"));
    EXPECT_EQ(read_file("/c"), "A");
    // Replacing an existing file.
    ASSERT_FALSE(fs->rename(root, "/c", root, "/b").is_error());
    EXPECT_EQ(read_file("/b"), "A");
    EXPECT_FALSE(exists("/c"));
    // Same inode under both names: nothing happens.
    ASSERT_FALSE(fs->link(root, "/b", root, "/b2").is_error());
    ASSERT_FALSE(fs->rename(root, "/b", root, "/b2").is_error());
    EXPECT_TRUE(exists("/b"));
    EXPECT_TRUE(exists("/b2"));
    // RENAME_NOREPLACE.
    write_file("/x", "X");
    EXPECT_EQ(errno_of(fs->rename(root, "/x", root, "/b", rename_noreplace)), EEXIST);
    ASSERT_FALSE(fs->rename(root, "/x", root, "/y", rename_noreplace).is_error());
    EXPECT_EQ(errno_of(fs->rename(root, "/y", root, "/z", rename_exchange)), EINVAL);
    EXPECT_EQ(errno_of(fs->rename(root, "/missing", root, "/z")), ENOENT);
    EXPECT_EQ(errno_of(fs->rename(root, "/y", root, "/nodir/z")), ENOENT);
    EXPECT_EQ(errno_of(fs->rename(root, "/y/", root, "/z")), ENOTDIR);
    EXPECT_EQ(errno_of(fs->rename(root, "/y", root, "/z/")), ENOTDIR);
    ASSERT_FALSE(fs->mkdir(root, "/dir", 0755).is_error());
    EXPECT_EQ(errno_of(fs->rename(root, "/y", root, "/dir")), EISDIR);
    EXPECT_EQ(errno_of(fs->rename(root, "/dir", root, "/y")), ENOTDIR);
    EXPECT_EQ(errno_of(fs->rename(root, "/.", root, "/q")), EBUSY);
    EXPECT_EQ(errno_of(fs->rename(root, "/y", root, "/")), EBUSY);
    // A symlink is renamed, not its target.
    ASSERT_FALSE(fs->symlink("/y", root, "/sl").is_error());
    ASSERT_FALSE(fs->rename(root, "/sl", root, "/sl2").is_error());
    EXPECT_TRUE(inode("/sl2", false)->is_symlink());
    EXPECT_TRUE(exists("/y"));
}

TEST_F(FsTest, RenameDirectories)
{
    ASSERT_FALSE(fs->mkdir(root, "/a", 0755).is_error());
    ASSERT_FALSE(fs->mkdir(root, "/a/sub", 0755).is_error());
    ASSERT_FALSE(fs->mkdir(root, "/b", 0755).is_error());
    write_file("/a/sub/f", "f");
    EXPECT_EQ(errno_of(fs->rename(root, "/a", root, "/a/sub/inside")), EINVAL);
    EXPECT_EQ(errno_of(fs->rename(root, "/a", root, "/a/x")), EINVAL);
    ASSERT_FALSE(fs->mkdir(root, "/full", 0755).is_error());
    write_file("/full/x", "");
    EXPECT_EQ(errno_of(fs->rename(root, "/a", root, "/full")), ENOTEMPTY);

    ASSERT_FALSE(fs->rename(root, "/a/sub", root, "/b/moved").is_error());
    EXPECT_EQ(read_file("/b/moved/f"), "f");
    EXPECT_EQ(inode("/a")->nlink(), 2u);
    EXPECT_EQ(inode("/b")->nlink(), 3u);
    EXPECT_EQ(inode("/b/moved")->parent(), inode("/b"));
    EXPECT_EQ(inode("/b/moved/.."), inode("/b"));
    char buffer[64];
    ASSERT_FALSE(fs->absolute_path(inode("/b/moved"), buffer, sizeof(buffer)).is_error());
    EXPECT_STREQ(buffer, "/b/moved");

    // Over an empty directory: the old one is removed (an open handle on it would see a dead directory).
    ASSERT_FALSE(fs->mkdir(root, "/empty", 0755).is_error());
    Inode* empty = inode("/empty");
    empty->ref();
    u32 root_links = root->nlink();
    ASSERT_FALSE(fs->rename(root, "/b/moved", root, "/empty").is_error());
    EXPECT_TRUE(empty->is_removed());
    EXPECT_NE(inode("/empty"), empty);
    EXPECT_EQ(read_file("/empty/f"), "f");
    EXPECT_EQ(root->nlink(), root_links); // lost the old /empty's "..", gained the moved one's
    EXPECT_EQ(inode("/b")->nlink(), 2u);
    empty->unref();
}

TEST_F(FsTest, RenameWithinOneDirectoryKeepsEverythingConsistent)
{
    // Enough entries to force the entry array to grow and compact during the renames.
    for (int i = 0; i < 50; ++i)
        write_file(("/f" + std::to_string(i)).c_str(), std::to_string(i));
    for (int i = 0; i < 50; ++i) {
        std::string from = "/f" + std::to_string(i);
        std::string to = "/g" + std::to_string(i);
        ASSERT_FALSE(fs->rename(root, from.c_str(), root, to.c_str()).is_error());
    }
    for (int i = 0; i < 50; ++i) {
        EXPECT_EQ(read_file(("/g" + std::to_string(i)).c_str()), std::to_string(i));
        EXPECT_FALSE(exists(("/f" + std::to_string(i)).c_str()));
    }
    EXPECT_EQ(root->entry_count(), 50u);
}

TEST_F(FsTest, StatFields)
{
    fs->set_clock(fixed_clock);
    write_file("/f", std::string(5000, 'x'));
    auto st = fs->stat(root, "/f");
    ASSERT_FALSE(st.is_error());
    EXPECT_EQ(st.value().st_mode, s_ifreg | 0644);
    EXPECT_EQ(st.value().st_size, 5000);
    EXPECT_EQ(st.value().st_nlink, 1u);
    EXPECT_EQ(st.value().st_uid, 0u);
    EXPECT_EQ(st.value().st_blksize, 4096);
    EXPECT_EQ(st.value().st_blocks, 16); // two 4 KiB pages in 512-byte units
    EXPECT_EQ(st.value().st_mtim.tv_sec, 1700000000);
    EXPECT_EQ(st.value().st_mtim.tv_nsec, 123);
    EXPECT_NE(st.value().st_ino, fs->stat(root, "/").value().st_ino);
    EXPECT_EQ(errno_of(fs->stat(root, "/f/")), ENOTDIR);
    EXPECT_EQ(errno_of(fs->stat(root, "")), ENOENT);

    auto stx = inode("/f")->statx(statx_basic_stats);
    ASSERT_FALSE(stx.is_error());
    EXPECT_EQ(stx.value().stx_mask, statx_basic_stats);
    EXPECT_EQ(stx.value().stx_size, 5000u);
    EXPECT_EQ(stx.value().stx_mode, s_ifreg | 0644);
    EXPECT_EQ(stx.value().stx_ino, st.value().st_ino);
    EXPECT_EQ(stx.value().stx_mtime.tv_sec, 1700000000);
    EXPECT_EQ(errno_of(inode("/f")->statx(statx_reserved)), EINVAL);
}

TEST_F(FsTest, TruncateByPath)
{
    write_file("/f", "0123456789");
    ASSERT_FALSE(fs->truncate(root, "/f", 4).is_error());
    EXPECT_EQ(read_file("/f"), "0123");
    ASSERT_FALSE(fs->truncate(root, "/f", 6).is_error());
    EXPECT_EQ(read_file("/f"), std::string("0123\0\0", 6));
    EXPECT_EQ(errno_of(fs->truncate(root, "/f", -1)), EINVAL);
    EXPECT_EQ(errno_of(fs->truncate(root, "/f", i64(max_file_size) + 1)), EFBIG);
    EXPECT_EQ(errno_of(fs->truncate(root, "/", 0)), EISDIR);
    EXPECT_EQ(errno_of(fs->truncate(root, "/missing", 0)), ENOENT);
}

TEST_F(FsTest, AccessAsRoot)
{
    write_file("/plain", "");
    ASSERT_FALSE(fs->chmod(root, "/plain", 0000).is_error());
    EXPECT_FALSE(fs->access(root, "/plain", r_ok | w_ok).is_error()); // root reads and writes anything
    EXPECT_EQ(errno_of(fs->access(root, "/plain", x_ok)), EACCES);
    ASSERT_FALSE(fs->chmod(root, "/plain", 0010).is_error()); // any x bit suffices
    EXPECT_FALSE(fs->access(root, "/plain", x_ok).is_error());
    ASSERT_FALSE(fs->mkdir(root, "/d", 0000).is_error());
    EXPECT_FALSE(fs->access(root, "/d", x_ok).is_error());
    EXPECT_EQ(errno_of(fs->access(root, "/missing", f_ok)), ENOENT);
    EXPECT_EQ(errno_of(fs->access(root, "/plain", 8)), EINVAL);
}

TEST_F(FsTest, ChmodKeepsTheTypeBits)
{
    write_file("/f", "");
    ASSERT_FALSE(fs->chmod(root, "/f", 0104755 /* type bits ignored */).is_error());
    EXPECT_EQ(inode("/f")->mode(), s_ifreg | 04755);
    ASSERT_FALSE(fs->symlink("/f", root, "/l").is_error());
    ASSERT_FALSE(fs->chmod(root, "/l", 0600).is_error()); // follows to /f
    EXPECT_EQ(inode("/f")->mode(), s_ifreg | 0600);
    EXPECT_EQ(errno_of(fs->chmod(root, "/l", 0600, false)), ENOTSUP);
}

TEST_F(FsTest, SetTimes)
{
    fs->set_clock(fixed_clock);
    write_file("/f", "");
    LinuxTimespec times[2] = { { 100, 5 }, { 200, 6 } };
    ASSERT_FALSE(fs->set_times(root, "/f", times).is_error());
    EXPECT_EQ(inode("/f")->atime().seconds, 100);
    EXPECT_EQ(inode("/f")->mtime().seconds, 200);
    EXPECT_EQ(inode("/f")->mtime().nanoseconds, 6);
    EXPECT_EQ(inode("/f")->ctime().seconds, 1700000000);
    LinuxTimespec omit_now[2] = { { 0, utime_omit }, { 0, utime_now } };
    ASSERT_FALSE(fs->set_times(root, "/f", omit_now).is_error());
    EXPECT_EQ(inode("/f")->atime().seconds, 100);
    EXPECT_EQ(inode("/f")->mtime().seconds, 1700000000);
    LinuxTimespec bad[2] = { { 0, 1000000000 }, { 0, 0 } };
    EXPECT_EQ(errno_of(fs->set_times(root, "/f", bad)), EINVAL);
    ASSERT_FALSE(fs->set_times(root, "/f", nullptr).is_error());
    EXPECT_EQ(inode("/f")->atime().seconds, 1700000000);
}

TEST_F(FsTest, AbsolutePath)
{
    ASSERT_FALSE(fs->make_directories("/usr/local/lib").is_error());
    char buffer[64];
    auto n = fs->absolute_path(inode("/usr/local/lib"), buffer, sizeof(buffer));
    ASSERT_FALSE(n.is_error());
    EXPECT_STREQ(buffer, "/usr/local/lib");
    EXPECT_EQ(n.value(), std::strlen("/usr/local/lib") + 1);
    ASSERT_FALSE(fs->absolute_path(root, buffer, 2).is_error());
    EXPECT_STREQ(buffer, "/");
    EXPECT_EQ(errno_of(fs->absolute_path(root, buffer, 1)), ERANGE);
    EXPECT_EQ(errno_of(fs->absolute_path(inode("/usr/local/lib"), buffer, 14)), ERANGE);
    EXPECT_FALSE(fs->absolute_path(inode("/usr/local/lib"), buffer, 15).is_error());
}

TEST_F(FsTest, KernelEntries)
{
    struct Counter {
        int writes { 0 };
    } counter;
    static DeviceOps const ops {
        [](void*, void* buffer, usize count, u64) -> ErrorOr<usize> {
            std::memset(buffer, 0, count);
            return count;
        },
        [](void* context, void const*, usize count, u64) -> ErrorOr<usize> {
            static_cast<Counter*>(context)->writes++;
            return count;
        },
    };
    ASSERT_FALSE(fs->add_device("/dev/zero", &ops, &counter, 0666, (1 << 8) | 5).is_error());
    EXPECT_EQ(errno_of(fs->add_device("/dev/zero", &ops, &counter, 0666)), EEXIST);
    auto st = fs->stat(root, "/dev/zero");
    ASSERT_FALSE(st.is_error());
    EXPECT_EQ(st.value().st_mode, s_ifchr | 0666);
    EXPECT_EQ(st.value().st_rdev, (1u << 8) | 5u);
    EXPECT_EQ(inode("/dev/zero")->statx(0).value().stx_rdev_major, 1u);
    EXPECT_EQ(inode("/dev/zero")->statx(0).value().stx_rdev_minor, 5u);
    EXPECT_EQ(inode("/dev")->mode(), s_ifdir | 0755);

    OpenFile* zero = open("/dev/zero", o_rdwr);
    ASSERT_NE(zero, nullptr);
    char buffer[8];
    std::memset(buffer, 'x', sizeof(buffer));
    EXPECT_EQ(zero->read(buffer, sizeof(buffer)).value(), 8u);
    EXPECT_EQ(buffer[7], 0);
    EXPECT_EQ(zero->write("abc", 3).value(), 3u);
    EXPECT_EQ(counter.writes, 1);
    EXPECT_EQ(zero->lseek(100, seek_set).value(), 0);
    zero->unref();

    ASSERT_FALSE(fs->add_symlink("/proc/self/exe", "/bin/program").is_error());
    char target[32];
    EXPECT_EQ(fs->readlink(root, "/proc/self/exe", target, sizeof(target)).value(), 12u);

    static int generations = 0;
    ASSERT_FALSE(fs->add_generated_file(
                       "/proc/self/maps",
                       [](void*, FileData& out) -> ErrorOr<void> {
                           ++generations;
                           TRY(out.append("00400000-00401000 r-xp 00000000 00:00 0 /bin/program\n"));
                           return {};
                       },
                       nullptr)
                     .is_error());
    EXPECT_EQ(generations, 0); // nothing is produced until opened
    EXPECT_EQ(read_file("/proc/self/maps"), "00400000-00401000 r-xp 00000000 00:00 0 /bin/program\n");
    EXPECT_EQ(generations, 1);
    EXPECT_EQ(open_errno("/proc/self/maps", o_wronly), EACCES);
    EXPECT_EQ(errno_of(fs->truncate(root, "/proc/self/maps", 0)), EACCES);
    EXPECT_EQ(fs->stat(root, "/proc/self/maps").value().st_mode, s_ifreg | 0444);
}

TEST_F(FsTest, GeneratorErrorsReachTheCaller)
{
    ASSERT_FALSE(
        fs->add_generated_file(
              "/g", [](void*, FileData&) -> ErrorOr<void> { return Error::from_errno(EIO, "broken"); }, nullptr)
            .is_error());
    EXPECT_EQ(open_errno("/g", o_rdonly), EIO);
}

TEST_F(FsTest, DestroyFreesDeepTreesIteratively)
{
    // 3000 levels deep (more than the path limit allows at once): built with relative steps.
    Inode* current = root;
    for (int i = 0; i < 3000; ++i) {
        ASSERT_FALSE(fs->mkdir(current, "d", 0755).is_error());
        write_file("/leaf", "x"); // sibling files at the root keep the other branch non-trivial
        current = fs->resolve(current, "d").value();
    }
    char* path = new char[8 * 4096];
    EXPECT_EQ(errno_of(fs->absolute_path(current, path, 4096)), ERANGE);
    EXPECT_FALSE(fs->absolute_path(current, path, 8 * 4096).is_error());
    EXPECT_EQ(std::strlen(path), 3000u * 2);
    delete[] path;
    // TearDown's destroy() must free all of it without deep recursion (ASan checks the leaks).
}

} // namespace
