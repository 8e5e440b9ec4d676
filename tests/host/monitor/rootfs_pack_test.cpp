// `--rootfs DIR` packing (rootfs_pack.h): the archive is parsed back with a strict newc reader written here from
// cpio(5), and compared with the tree it came from.
#include "rootfs_pack.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace kernite::monitor;

namespace {

struct CpioEntry {
    u32 inode;
    u32 mode;
    u32 uid;
    u32 gid;
    u32 nlink;
    u32 mtime;
    std::string name;
    std::string data;
};

u32 hex_field(std::string const& archive, usize offset)
{
    u32 value = 0;
    for (usize i = 0; i < 8; ++i) {
        char c = archive[offset + i];
        EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << offset;
        value = value * 16 + static_cast<u32>(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return value;
}

// Every entry up to and including the trailer; checks magic, padding, zero device fields, and that nothing
// follows the trailer.
std::vector<CpioEntry> parse_newc(std::vector<u8> const& bytes)
{
    std::string const archive(bytes.begin(), bytes.end());
    std::vector<CpioEntry> entries;
    usize offset = 0;
    for (;;) {
        EXPECT_LE(offset + cpio_newc_header_size, archive.size());
        if (offset + cpio_newc_header_size > archive.size())
            return entries;
        EXPECT_EQ(offset % 4, 0u);
        EXPECT_EQ(archive.substr(offset, 6), "070701");
        CpioEntry entry {};
        entry.inode = hex_field(archive, offset + 6);
        entry.mode = hex_field(archive, offset + 14);
        entry.uid = hex_field(archive, offset + 22);
        entry.gid = hex_field(archive, offset + 30);
        entry.nlink = hex_field(archive, offset + 38);
        entry.mtime = hex_field(archive, offset + 46);
        u32 const file_size = hex_field(archive, offset + 54);
        for (usize field = 62; field < 94; field += 8) // devmajor, devminor, rdevmajor, rdevminor
            EXPECT_EQ(hex_field(archive, offset + field), 0u);
        u32 const name_size = hex_field(archive, offset + 94);
        EXPECT_EQ(hex_field(archive, offset + 102), 0u); // check
        offset += cpio_newc_header_size;
        EXPECT_GE(name_size, 2u);
        EXPECT_LE(offset + name_size, archive.size());
        if (name_size < 2 || offset + name_size > archive.size())
            return entries;
        EXPECT_EQ(archive[offset + name_size - 1], '\0');
        entry.name = archive.substr(offset, name_size - 1);
        offset = (offset + name_size + 3) & ~usize { 3 };
        EXPECT_LE(offset + file_size, archive.size());
        if (offset + file_size > archive.size())
            return entries;
        entry.data = archive.substr(offset, file_size);
        offset = (offset + file_size + 3) & ~usize { 3 };
        entries.push_back(entry);
        if (entry.name == "TRAILER!!!")
            break;
    }
    EXPECT_EQ(offset, archive.size());
    return entries;
}

class TempTree {
public:
    TempTree()
    {
        char path[] = "/tmp/kernite-rootfs-test-XXXXXX";
        EXPECT_NE(mkdtemp(path), nullptr);
        m_root = path;
    }
    ~TempTree() { (void)std::system(("rm -rf '" + m_root + "'").c_str()); }
    std::string const& root() const { return m_root; }
    std::string path(std::string const& relative) const { return m_root + "/" + relative; }

    void file(std::string const& relative, std::string const& contents, mode_t mode, time_t mtime)
    {
        int fd = open(path(relative).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0) << relative;
        ASSERT_EQ(write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
        close(fd);
        ASSERT_EQ(chmod(path(relative).c_str(), mode), 0);
        set_mtime(relative, mtime);
    }
    void directory(std::string const& relative, mode_t mode)
    {
        ASSERT_EQ(mkdir(path(relative).c_str(), 0700), 0) << relative;
        ASSERT_EQ(chmod(path(relative).c_str(), mode), 0);
    }
    void set_mtime(std::string const& relative, time_t mtime)
    {
        timespec const times[2] = { { mtime, 0 }, { mtime, 0 } };
        ASSERT_EQ(utimensat(AT_FDCWD, path(relative).c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << relative;
    }

private:
    std::string m_root;
};

} // namespace

TEST(RootfsPack, FilesDirectoriesSymlinksWithModesAndTimes)
{
    TempTree tree;
    std::string binary;
    for (int i = 0; i < 70000; ++i)
        binary += static_cast<char>(i * 31);
    tree.directory("etc", 0755);
    tree.file("etc/hostname", "kernite\n", 0644, 1'600'000'000);
    tree.directory("bin", 0711);
    tree.file("bin/tool", binary, 04755, 1'700'000'000);
    tree.file("bin/empty", "", 0600, 0);
    tree.file("a b", "odd name", 0444, 42);
    ASSERT_EQ(symlink("../etc/hostname", tree.path("bin/link").c_str()), 0);
    tree.set_mtime("bin/link", 1234);
    tree.directory("empty-dir", 01777);
    tree.set_mtime("bin", 99);
    tree.set_mtime("etc", 98);
    tree.set_mtime("empty-dir", 97);

    auto packed = pack_rootfs(tree.root());
    ASSERT_TRUE(packed.ok()) << packed.error();
    auto entries = parse_newc(packed.value());
    // Depth first, each directory before its contents, names sorted bytewise; the trailer last.
    std::vector<std::string> names;
    for (auto const& entry : entries)
        names.push_back(entry.name);
    EXPECT_EQ(names,
        (std::vector<std::string> { "a b", "bin", "bin/empty", "bin/link", "bin/tool", "empty-dir", "etc",
            "etc/hostname", "TRAILER!!!" }));
    ASSERT_EQ(entries.size(), 9u);

    auto find = [&](std::string const& name) -> CpioEntry const& {
        for (auto const& entry : entries) {
            if (entry.name == name)
                return entry;
        }
        ADD_FAILURE() << name;
        return entries.back();
    };
    EXPECT_EQ(find("a b").mode, S_IFREG | 0444u);
    EXPECT_EQ(find("a b").data, "odd name");
    EXPECT_EQ(find("a b").mtime, 42u);
    EXPECT_EQ(find("bin").mode, S_IFDIR | 0711u);
    EXPECT_EQ(find("bin").mtime, 99u);
    EXPECT_EQ(find("bin").nlink, 2u);
    EXPECT_EQ(find("bin").data, "");
    EXPECT_EQ(find("bin/tool").mode, S_IFREG | 04755u);
    EXPECT_EQ(find("bin/tool").data, binary);
    EXPECT_EQ(find("bin/tool").mtime, 1'700'000'000u);
    EXPECT_EQ(find("bin/empty").data, "");
    EXPECT_EQ(find("bin/link").mode & S_IFMT, static_cast<u32>(S_IFLNK));
    EXPECT_EQ(find("bin/link").data, "../etc/hostname");
    EXPECT_EQ(find("bin/link").mtime, 1234u);
    EXPECT_EQ(find("empty-dir").mode, S_IFDIR | 01777u);
    EXPECT_EQ(find("etc/hostname").data, "kernite\n");
    EXPECT_EQ(find("etc/hostname").mtime, 1'600'000'000u);
    std::vector<u32> inodes;
    for (auto const& entry : entries) {
        EXPECT_EQ(entry.uid, 0u) << entry.name;
        EXPECT_EQ(entry.gid, 0u) << entry.name;
        if (entry.name != "TRAILER!!!") {
            EXPECT_NE(entry.inode, 0u);
            EXPECT_EQ(std::find(inodes.begin(), inodes.end(), entry.inode), inodes.end()) << entry.name;
            inodes.push_back(entry.inode);
        }
    }

    // Deterministic: the same tree gives the same bytes.
    auto again = pack_rootfs(tree.root());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again.value(), packed.value());
}

TEST(RootfsPack, EmptyDirectoryIsJustTheTrailer)
{
    TempTree tree;
    auto packed = pack_rootfs(tree.root());
    ASSERT_TRUE(packed.ok()) << packed.error();
    auto entries = parse_newc(packed.value());
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].name, "TRAILER!!!");
    EXPECT_EQ(entries[0].nlink, 1u);
}

TEST(RootfsPack, HardLinksBecomeCopies)
{
    TempTree tree;
    tree.file("one", "shared", 0644, 5);
    ASSERT_EQ(link(tree.path("one").c_str(), tree.path("two").c_str()), 0);
    auto entries = parse_newc(pack_rootfs(tree.root()).value());
    ASSERT_EQ(entries.size(), 3u);
    EXPECT_EQ(entries[0].data, "shared");
    EXPECT_EQ(entries[1].data, "shared");
    EXPECT_EQ(entries[0].nlink, 1u);
    EXPECT_NE(entries[0].inode, entries[1].inode);
}

TEST(RootfsPack, RefusesSpecialFilesNamingThePath)
{
    {
        TempTree tree;
        tree.directory("run", 0755);
        ASSERT_EQ(mkfifo(tree.path("run/pipe").c_str(), 0600), 0);
        auto packed = pack_rootfs(tree.root());
        ASSERT_FALSE(packed.ok());
        EXPECT_EQ(packed.error(),
            "rootfs " + tree.root() + ": " + tree.path("run/pipe")
                + " is a fifo: only regular files, directories and symlinks can be packed");
    }
    {
        TempTree tree;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_GE(fd, 0);
        sockaddr_un address {};
        address.sun_family = AF_UNIX;
        std::string const path = tree.path("socket");
        ASSERT_LT(path.size(), sizeof(address.sun_path));
        std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
        ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
        auto packed = pack_rootfs(tree.root());
        close(fd);
        ASSERT_FALSE(packed.ok());
        EXPECT_NE(packed.error().find(path + " is a socket"), std::string::npos) << packed.error();
    }
    {
        TempTree tree;
        if (mknod(tree.path("null").c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0)
            GTEST_SKIP() << "mknod not permitted here: the device case is not checked";
        auto packed = pack_rootfs(tree.root());
        ASSERT_FALSE(packed.ok());
        EXPECT_NE(packed.error().find(tree.path("null") + " is a character device"), std::string::npos)
            << packed.error();
    }
}

TEST(RootfsPack, RefusesUnreadableFilesAndDirectories)
{
    TempTree tree;
    ASSERT_EQ(chmod(tree.root().c_str(), 0755), 0);
    tree.directory("locked", 0);
    tree.file("secret", "x", 0, 0);
    auto check = [&]() -> bool {
        auto packed = pack_rootfs(tree.root());
        return !packed.ok() && packed.error().find("Permission denied") != std::string::npos
            && (packed.error().find(tree.path("locked")) != std::string::npos);
    };
    if (geteuid() != 0) {
        EXPECT_TRUE(check());
        return;
    }
    // Root reads everything: check as an unprivileged user, in a child.
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        _exit(check() ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);

    // The file alone (the directory readable now).
    ASSERT_EQ(chmod(tree.path("locked").c_str(), 0755), 0);
    child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        auto packed = pack_rootfs(tree.root());
        _exit(!packed.ok() && packed.error() == "rootfs: cannot read " + tree.path("secret") + ": Permission denied"
                ? 0
                : 1);
    }
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(RootfsPack, SizeLimit)
{
    TempTree tree;
    tree.file("big", std::string(10000, 'b'), 0644, 0);
    auto full = pack_rootfs(tree.root());
    ASSERT_TRUE(full.ok());
    u64 const exact = full.value().size();
    EXPECT_TRUE(pack_rootfs(tree.root(), exact).ok());
    auto refused = pack_rootfs(tree.root(), exact - 1);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().find("MiB limit (reached at " + tree.path("big") + ")"), std::string::npos)
        << refused.error();
}

TEST(RootfsPack, RefusesBadRootsAndTrailerNames)
{
    TempTree tree;
    tree.file("file", "x", 0644, 0);
    auto not_directory = pack_rootfs(tree.path("file"));
    ASSERT_FALSE(not_directory.ok());
    EXPECT_EQ(not_directory.error(), "rootfs " + tree.path("file") + ": not a directory");
    auto missing = pack_rootfs(tree.path("missing"));
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error(), "rootfs " + tree.path("missing") + ": No such file or directory");

    tree.file("TRAILER!!!", "", 0644, 0);
    auto trailer = pack_rootfs(tree.root());
    ASSERT_FALSE(trailer.ok());
    EXPECT_NE(trailer.error().find("name of the cpio trailer"), std::string::npos) << trailer.error();
    // Deeper down the name is harmless ("dir/TRAILER!!!").
    ASSERT_EQ(unlink(tree.path("TRAILER!!!").c_str()), 0);
    tree.directory("dir", 0755);
    tree.file("dir/TRAILER!!!", "t", 0644, 0);
    EXPECT_TRUE(pack_rootfs(tree.root()).ok());
}

TEST(RootfsPack, SymlinksAreNotFollowed)
{
    TempTree outside;
    outside.file("private", "host secret", 0644, 0);
    TempTree tree;
    ASSERT_EQ(symlink(outside.root().c_str(), tree.path("escape").c_str()), 0);
    auto entries = parse_newc(pack_rootfs(tree.root()).value());
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].name, "escape");
    EXPECT_EQ(entries[0].mode & S_IFMT, static_cast<u32>(S_IFLNK));
    EXPECT_EQ(entries[0].data, outside.root());
}
