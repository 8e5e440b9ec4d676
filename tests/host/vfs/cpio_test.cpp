// cpio newc loading: valid archives (files, directories, symlinks, hard links, "./" names, both magics) and
// hostile ones (truncations, bad fields, overflowing sizes, device nodes, ".."), plus a small fuzz.
#include "vfs_test_support.h"

#include <random>

using namespace vfs_test;

namespace {

struct CpioTest : FsTest {
    ErrorOr<void> load(std::string const& bytes, usize* failed_offset = nullptr)
    {
        // An exact-size heap copy, so ASan catches any read past the archive.
        std::vector<u8> copy(bytes.begin(), bytes.end());
        u8* data = copy.empty() ? nullptr : copy.data();
        return fs->load_cpio(data, copy.size(), failed_offset);
    }
    int load_errno(std::string const& bytes)
    {
        auto result = load(bytes);
        return result.is_error() ? result.error().code() : 0;
    }
};

TEST_F(CpioTest, LoadsFilesDirectoriesAndSymlinks)
{
    CpioWriter archive;
    archive.directory(".", 0755)
        .directory("./etc")
        .file("./etc/hostname", "kernite\n")
        .file("bin/tool", std::string(10000, 'T'), 0755) // "bin" is created on the way
        .symlink("./bin/sh", "tool")
        .symlink("lib", "/usr/lib")
        .directory("usr/lib", 0700)
        .file("/usr/lib/libx.so", "ELF")
        .file("empty", "")
        .trailer();
    auto result = load(archive.bytes());
    ASSERT_FALSE(result.is_error()) << result.error().reason();
    EXPECT_EQ(read_file("/etc/hostname"), "kernite\n");
    EXPECT_EQ(read_file("/bin/tool"), std::string(10000, 'T'));
    EXPECT_EQ(inode("/bin/tool")->mode(), s_ifreg | 0755);
    EXPECT_EQ(inode("/bin")->mode(), s_ifdir | 0755);
    EXPECT_EQ(read_file("/bin/sh"), std::string(10000, 'T'));
    EXPECT_EQ(read_file("/lib/libx.so"), "ELF");
    EXPECT_EQ(inode("/usr/lib")->mode(), s_ifdir | 0700); // a later entry for an existing directory merges
    EXPECT_EQ(read_file("/empty"), "");
    EXPECT_EQ(inode("/usr")->nlink(), 3u);
}

TEST_F(CpioTest, KeepsModesAndTimes)
{
    CpioWriter archive;
    CpioWriter::Entry entry { "script", s_ifreg | 04750, "#!/bin/sh\n" };
    entry.mtime = 1600000000;
    archive.add(entry).trailer();
    ASSERT_FALSE(load(archive.bytes()).is_error());
    auto st = fs->stat(root, "/script");
    ASSERT_FALSE(st.is_error());
    EXPECT_EQ(st.value().st_mode, s_ifreg | 04750);
    EXPECT_EQ(st.value().st_mtim.tv_sec, 1600000000);
    EXPECT_EQ(st.value().st_size, 10);
}

TEST_F(CpioTest, AcceptsTheCrcMagicAndIgnoresItsChecksum)
{
    CpioWriter archive;
    archive.magic = "070702";
    archive.file("f", "crc").trailer();
    ASSERT_FALSE(load(archive.bytes()).is_error());
    EXPECT_EQ(read_file("/f"), "crc");
}

TEST_F(CpioTest, HardLinksShareOneInodeWhicheverEntryHasTheData)
{
    CpioWriter archive;
    // GNU cpio style: data on the last name.
    CpioWriter::Entry first { "a", s_ifreg | 0644, "" };
    first.ino = 7;
    first.nlink = 2;
    CpioWriter::Entry second { "dir/b", s_ifreg | 0644, "shared data" };
    second.ino = 7;
    second.nlink = 2;
    // Data on the first name (gen_init_cpio style); same ino on another device is another file.
    CpioWriter::Entry third { "c", s_ifreg | 0644, "other" };
    third.ino = 7;
    third.nlink = 2;
    third.devminor = 1;
    CpioWriter::Entry fourth { "d", s_ifreg | 0644, "" };
    fourth.ino = 7;
    fourth.nlink = 2;
    fourth.devminor = 1;
    archive.add(first).add(second).add(third).add(fourth).trailer();
    ASSERT_FALSE(load(archive.bytes()).is_error());
    EXPECT_EQ(read_file("/a"), "shared data");
    EXPECT_EQ(inode("/a"), inode("/dir/b"));
    EXPECT_EQ(inode("/a")->nlink(), 2u);
    EXPECT_EQ(read_file("/d"), "other");
    EXPECT_EQ(inode("/c"), inode("/d"));
    EXPECT_NE(inode("/a"), inode("/c"));
}

TEST_F(CpioTest, ManyHardLinkGroupsGrowTheTable)
{
    CpioWriter archive;
    for (u32 i = 0; i < 300; ++i) {
        for (int copy = 0; copy < 2; ++copy) {
            CpioWriter::Entry entry { "f" + std::to_string(i) + "_" + std::to_string(copy), s_ifreg | 0644,
                copy ? std::to_string(i) : "" };
            entry.ino = 1000 + i;
            entry.nlink = 2;
            archive.add(entry);
        }
    }
    archive.trailer();
    ASSERT_FALSE(load(archive.bytes()).is_error());
    for (u32 i = 0; i < 300; i += 37) {
        std::string a = "/f" + std::to_string(i) + "_0";
        std::string b = "/f" + std::to_string(i) + "_1";
        EXPECT_EQ(inode(a.c_str()), inode(b.c_str()));
        EXPECT_EQ(read_file(a.c_str()), std::to_string(i));
    }
}

TEST_F(CpioTest, LaterEntriesReplaceEarlierOnes)
{
    CpioWriter archive;
    archive.file("x", "old").file("x", "new").directory("d").file("d/f", "").symlink("y", "x").file("y", "plain");
    archive.trailer();
    ASSERT_FALSE(load(archive.bytes()).is_error());
    EXPECT_EQ(read_file("/x"), "new");
    EXPECT_FALSE(inode("/y", false)->is_symlink());
    CpioWriter replace_dir;
    replace_dir.file("d", "file over a full directory").trailer();
    EXPECT_EQ(load_errno(replace_dir.bytes()), EINVAL);
}

TEST_F(CpioTest, RefusesSpecialFilesWithAReason)
{
    struct Case {
        u32 type;
        char const* word;
    } cases[] = { { s_ifchr, "device" }, { s_ifblk, "device" }, { s_ififo, "FIFO" }, { s_ifsock, "socket" } };
    for (auto const& c : cases) {
        CpioWriter archive;
        archive.add({ "special", c.type | 0644, "" }).trailer();
        auto result = load(archive.bytes());
        ASSERT_TRUE(result.is_error());
        EXPECT_EQ(result.error().code(), EINVAL);
        EXPECT_NE(std::string(result.error().reason()).find(c.word), std::string::npos) << result.error().reason();
    }
    CpioWriter unknown;
    unknown.add({ "weird", 0070000 | 0644, "" }).trailer();
    EXPECT_EQ(load_errno(unknown.bytes()), EINVAL);
}

TEST_F(CpioTest, RefusesDotDotAndBadNames)
{
    EXPECT_EQ(load_errno(CpioWriter().file("../escape", "x").trailer().bytes()), EINVAL);
    EXPECT_EQ(load_errno(CpioWriter().file("a/../../b", "x").trailer().bytes()), EINVAL);
    EXPECT_EQ(load_errno(CpioWriter().file("a/..", "x").trailer().bytes()), EINVAL);
    EXPECT_EQ(load_errno(CpioWriter().file(".", "not a directory").trailer().bytes()), EINVAL);
    EXPECT_EQ(load_errno(CpioWriter().file("a/.", "x").trailer().bytes()), EINVAL);
    EXPECT_EQ(load_errno(CpioWriter().file("slash/", "x").trailer().bytes()), EINVAL);
    EXPECT_EQ(load_errno(CpioWriter().directory("dir/").file("dir//f", "ok").trailer().bytes()), 0);
    EXPECT_EQ(read_file("/dir/f"), "ok");
    EXPECT_EQ(load_errno(CpioWriter().file(std::string(300, 'n'), "x").trailer().bytes()), ENAMETOOLONG);
    EXPECT_EQ(load_errno(CpioWriter().symlink("l", "").trailer().bytes()), EINVAL);
    EXPECT_EQ(load_errno(CpioWriter().symlink("l", std::string("a\0b", 3)).trailer().bytes()), EINVAL);
    EXPECT_EQ(load_errno(CpioWriter().add({ "d", s_ifdir | 0755, "data" }).trailer().bytes()), EINVAL);
    EXPECT_FALSE(exists("/escape"));
    EXPECT_FALSE(exists("/b"));
}

TEST_F(CpioTest, RefusesMalformedHeaders)
{
    std::string good = CpioWriter().file("f", "data").trailer().bytes();
    EXPECT_EQ(load_errno(""), EINVAL);
    EXPECT_EQ(load_errno(CpioWriter().file("f", "x").bytes()), EINVAL); // no trailer
    std::string bad_magic = good;
    bad_magic[5] = '7';
    EXPECT_EQ(load_errno(bad_magic), EINVAL);
    std::string old_format = good;
    old_format.replace(0, 6, "070707");
    EXPECT_EQ(load_errno(old_format), EINVAL);
    std::string bad_hex = good;
    bad_hex[20] = 'g';
    EXPECT_EQ(load_errno(bad_hex), EINVAL);
    std::string sign = good;
    sign[54] = '-'; // inside filesize
    EXPECT_EQ(load_errno(sign), EINVAL);

    // Sizes that point past the end, or overflow when added up.
    EXPECT_EQ(load_errno(CpioWriter().raw_header("070701", s_ifreg | 0644, 0xffffffff, 0).raw("x").bytes()),
        ENAMETOOLONG);
    EXPECT_EQ(load_errno(CpioWriter().raw_header("070701", s_ifreg | 0644, 4000, 0).raw("abc").bytes()), EINVAL);
    EXPECT_EQ(
        load_errno(CpioWriter().raw_header("070701", s_ifreg | 0644, 2, 0xffffffff).raw(std::string("f\0", 2)).bytes()),
        EINVAL);
    EXPECT_EQ(load_errno(CpioWriter().raw_header("070701", s_ifreg | 0644, 0, 0).bytes()), EINVAL);
    // A name without its NUL, and one with a NUL inside.
    EXPECT_EQ(load_errno(CpioWriter().raw_header("070701", s_ifreg | 0644, 2, 0).raw("ab").raw("\0\0").bytes()),
        EINVAL);
    EXPECT_EQ(load_errno(CpioWriter().raw_header("070701", s_ifreg | 0644, 4, 0).raw(std::string("a\0b\0", 4)).bytes()),
        EINVAL);
}

TEST_F(CpioTest, ReportsTheOffsetOfTheRefusedEntry)
{
    CpioWriter archive;
    archive.file("ok", "1234");
    usize bad_offset = archive.bytes().size();
    archive.add({ "dev", s_ifchr | 0600, "" }).trailer();
    usize failed = 0;
    auto result = load(archive.bytes(), &failed);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(failed, bad_offset);
    EXPECT_EQ(read_file("/ok"), "1234"); // entries before the bad one stay
}

TEST_F(CpioTest, EveryTruncationFailsCleanly)
{
    CpioWriter archive;
    archive.directory("etc").file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n").symlink("l", "etc/passwd");
    archive.file("big", std::string(5000, 'b')).trailer();
    std::string const& bytes = archive.bytes();
    ASSERT_FALSE(load(bytes).is_error());
    // Every strict prefix ends before the trailer's name: each must be refused, never crash or over-read.
    // "TRAILER!!!\0" ends 3 bytes before the end (then padding): every shorter prefix lacks the trailer.
    for (usize length = 0; length + 3 < bytes.size(); ++length) {
        FileSystem::destroy(fs);
        fs = FileSystem::create().value();
        root = fs->root();
        auto result = load(bytes.substr(0, length));
        ASSERT_TRUE(result.is_error()) << "prefix of " << length << " bytes was accepted";
        EXPECT_EQ(result.error().code(), EINVAL) << "prefix " << length;
    }
}

TEST_F(CpioTest, RandomByteFlipsNeverCrash)
{
    CpioWriter archive;
    archive.directory("d").file("d/one", "first file").symlink("d/link", "one").file("two", std::string(300, 'x'));
    CpioWriter::Entry linked { "three", s_ifreg | 0644, "hard" };
    linked.nlink = 2;
    linked.ino = 5;
    archive.add(linked);
    linked.name = "four";
    archive.add(linked).trailer();
    std::string const& pristine = archive.bytes();
    std::mt19937 random(20240601);
    int accepted = 0;
    for (int round = 0; round < 1500; ++round) {
        std::string bytes = pristine;
        int flips = 1 + static_cast<int>(random() % 4);
        for (int i = 0; i < flips; ++i) {
            usize at = random() % bytes.size();
            // Bias towards the header digits, where most parsing happens.
            static char const alphabet[] = "0123456789abcdefABCDEFxg/.\0\xff";
            bytes[at] = random() % 2 ? alphabet[random() % (sizeof(alphabet) - 1)] : static_cast<char>(random());
        }
        if (random() % 4 == 0)
            bytes.resize(random() % bytes.size());
        FileSystem::destroy(fs);
        fs = FileSystem::create().value();
        root = fs->root();
        auto result = load(bytes);
        if (!result.is_error()) {
            ++accepted;
            // Whatever was accepted must be a consistent tree: every directory listable, root intact.
            EXPECT_FALSE(fs->resolve(root, "/").is_error());
            list("/");
        }
    }
    EXPECT_GT(accepted, 0); // flips in file data are harmless, so some variants load
}

} // namespace
