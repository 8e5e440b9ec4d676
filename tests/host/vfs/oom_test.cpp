// Out of memory: every allocation of an operation is made to fail in turn. Each attempt must end in success or
// ENOMEM (never a crash or another errno), and leave a consistent tree: the listing and the file contents are
// either the old or the new state, and destroying everything leaks nothing (ASan's leak check).
//
// This binary supplies its own ktl::allocate/deallocate (and the page variants), so the static library's host allocator is not linked
// in: allocation number `g_fail_at` (counted from arming) returns null.
#include "vfs_test_support.h"

#include <ktl/allocator.h>

#include <vfs/fd_table.h>

#include <cstdlib>

namespace {
long g_allocations = 0;
long g_fail_at = -1; // -1: never fail
} // namespace

namespace ktl {

void* allocate(usize size)
{
    if (g_fail_at >= 0 && g_allocations++ == g_fail_at)
        return nullptr;
    return std::malloc(size == 0 ? 1 : size);
}

void deallocate(void* pointer) { std::free(pointer); }

// File pages are counted (and failed) with the rest.
void* allocate_zeroed_page()
{
    if (g_fail_at >= 0 && g_allocations++ == g_fail_at)
        return nullptr;
    void* page = std::aligned_alloc(page_allocation_size, page_allocation_size);
    if (page)
        __builtin_memset(page, 0, page_allocation_size);
    return page;
}

void deallocate_page(void* page) { std::free(page); }

} // namespace ktl

using namespace vfs_test;

namespace {

void arm(long fail_at)
{
    g_allocations = 0;
    g_fail_at = fail_at;
}

void disarm() { g_fail_at = -1; }

// Runs `operation` with the 0th, 1st, ... allocation failing until it runs without reaching the failure.
// `check` is called after every attempt with whether the operation succeeded.
template<typename Setup, typename Operation, typename Check>
void exhaust(Setup setup, Operation operation, Check check)
{
    for (long fail_at = 0; fail_at < 10000; ++fail_at) {
        auto created = FileSystem::create();
        ASSERT_FALSE(created.is_error());
        FileSystem* fs = created.value();
        setup(*fs);
        arm(fail_at);
        int error = operation(*fs);
        bool reached = g_allocations > fail_at;
        disarm();
        if (error != 0) {
            EXPECT_EQ(error, ENOMEM) << "allocation " << fail_at;
        }
        if (!reached) {
            EXPECT_EQ(error, 0) << "failed although no allocation failed";
        }
        check(*fs, error == 0);
        FileSystem::destroy(fs);
        if (!reached)
            return; // the operation completed with every allocation served
    }
    FAIL() << "operation never completed";
}

std::string read_all(FileSystem& fs, char const* path)
{
    auto file = fs.open(fs.root(), path, o_rdonly, 0);
    if (file.is_error())
        return "<missing>";
    std::string content(1 << 16, '\0');
    usize n = file.value()->pread(content.data(), content.size(), 0).value();
    file.value()->unref();
    content.resize(n);
    return content;
}

std::vector<std::string> names(FileSystem& fs, char const* path)
{
    std::vector<std::string> out;
    auto dir = fs.open(fs.root(), path, o_rdonly | o_directory, 0);
    if (dir.is_error())
        return { "<missing>" };
    u8 buffer[4096];
    for (;;) {
        usize n = dir.value()->getdents64(buffer, sizeof(buffer)).value();
        if (n == 0)
            break;
        for (auto& d : decode_dirents(buffer, n))
            out.push_back(d.name);
    }
    dir.value()->unref();
    return out;
}

TEST(VfsOutOfMemory, InjectionIsActive)
{
    // Guards the premise of every test below: this binary's allocator is the one the library calls.
    arm(0);
    auto created = FileSystem::create();
    disarm();
    ASSERT_TRUE(created.is_error());
    EXPECT_EQ(created.error().code(), ENOMEM);
    long attempts = 0;
    exhaust([](FileSystem&) {},
        [&](FileSystem& fs) {
            ++attempts;
            auto r = fs.make_directories("/one/two/three");
            return r.is_error() ? r.error().code() : 0;
        },
        [](FileSystem&, bool) {});
    EXPECT_GE(attempts, 7); // three inodes, three entries, three names, path copies: all failed in turn
}

void populate(FileSystem& fs)
{
    ASSERT_FALSE(fs.make_directories("/a/b").is_error());
    auto file = fs.open(fs.root(), "/a/file", o_wronly | o_creat, 0644);
    ASSERT_FALSE(file.is_error());
    ASSERT_EQ(file.value()->write("content", 7).value(), 7u);
    file.value()->unref();
}

TEST(VfsOutOfMemory, CreatingAFile)
{
    exhaust(
        populate,
        [](FileSystem& fs) {
            auto file = fs.open(fs.root(), "/a/new", o_wronly | o_creat, 0644);
            if (file.is_error())
                return file.error().code();
            file.value()->unref();
            return 0;
        },
        [](FileSystem& fs, bool succeeded) {
            EXPECT_EQ(read_all(fs, "/a/new"), succeeded ? "" : "<missing>");
            EXPECT_EQ(names(fs, "/a").size(), succeeded ? 5u : 4u);
        });
}

TEST(VfsOutOfMemory, WritingPastManyPages)
{
    std::string data(50000, 'w');
    exhaust(
        populate,
        [&](FileSystem& fs) {
            auto file = fs.open(fs.root(), "/a/file", o_wronly, 0);
            if (file.is_error())
                return file.error().code();
            auto written = file.value()->pwrite(data.data(), data.size(), 3);
            file.value()->unref();
            if (written.is_error())
                return written.error().code();
            // A short count is how a partial failure shows; the size must match what was written.
            auto st = fs.stat(fs.root(), "/a/file").value();
            EXPECT_EQ(static_cast<usize>(st.st_size), written.value() + 3);
            return written.value() == data.size() ? 0 : ENOMEM;
        },
        [&](FileSystem& fs, bool succeeded) {
            std::string content = read_all(fs, "/a/file");
            EXPECT_EQ(content.substr(0, 3), "con");
            if (succeeded) {
                EXPECT_EQ(content, "con" + data);
            }
            if (content != "content") { // otherwise nothing was written: the old content is intact
                for (usize i = 3; i < content.size(); ++i)
                    ASSERT_EQ(content[i], 'w');
            }
        });
}

TEST(VfsOutOfMemory, MkdirSymlinkLink)
{
    exhaust(
        populate,
        [](FileSystem& fs) {
            if (auto r = fs.mkdir(fs.root(), "/a/b/c", 0755); r.is_error())
                return r.error().code();
            if (auto r = fs.symlink("/a/file", fs.root(), "/a/b/c/link"); r.is_error())
                return r.error().code();
            if (auto r = fs.link(fs.root(), "/a/file", fs.root(), "/hard"); r.is_error())
                return r.error().code();
            return 0;
        },
        [](FileSystem& fs, bool succeeded) {
            if (succeeded) {
                EXPECT_EQ(read_all(fs, "/a/b/c/link"), "content");
                EXPECT_EQ(read_all(fs, "/hard"), "content");
            }
            auto st = fs.stat(fs.root(), "/a/file").value();
            EXPECT_EQ(st.st_nlink, fs.stat(fs.root(), "/hard").is_error() ? 1u : 2u);
        });
}

TEST(VfsOutOfMemory, RenameIntoAnotherDirectory)
{
    exhaust(
        [](FileSystem& fs) {
            populate(fs);
            // Fill /a/b up to its entry array's capacity so the rename has to grow it.
            for (int i = 0; i < 7; ++i) {
                std::string name = "/a/b/f" + std::to_string(i);
                fs.open(fs.root(), name.c_str(), o_wronly | o_creat, 0644).value()->unref();
            }
        },
        [](FileSystem& fs) {
            auto r = fs.rename(fs.root(), "/a/file", fs.root(), "/a/b/moved");
            return r.is_error() ? r.error().code() : 0;
        },
        [](FileSystem& fs, bool succeeded) {
            // Exactly one of the two names exists, with the content.
            EXPECT_EQ(read_all(fs, "/a/file"), succeeded ? "<missing>" : "content");
            EXPECT_EQ(read_all(fs, "/a/b/moved"), succeeded ? "content" : "<missing>");
            EXPECT_EQ(fs.stat(fs.root(), succeeded ? "/a/b/moved" : "/a/file").value().st_nlink, 1u);
        });
}

TEST(VfsOutOfMemory, LoadingAnArchive)
{
    CpioWriter archive;
    archive.directory("etc").file("etc/a", "A").symlink("etc/l", "a").file("deep/er/file", std::string(9000, 'x'));
    CpioWriter::Entry linked { "h1", s_ifreg | 0644, "" };
    linked.ino = 9;
    linked.nlink = 2;
    archive.add(linked);
    linked.name = "h2";
    linked.data = "hard";
    archive.add(linked).trailer();
    std::vector<u8> bytes = archive.vector();
    exhaust([](FileSystem&) {},
        [&](FileSystem& fs) {
            auto r = fs.load_cpio(bytes.data(), bytes.size());
            return r.is_error() ? r.error().code() : 0;
        },
        [](FileSystem& fs, bool succeeded) {
            names(fs, "/");
            if (succeeded) {
                EXPECT_EQ(read_all(fs, "/etc/l"), "A");
                EXPECT_EQ(read_all(fs, "/h1"), "hard");
                EXPECT_EQ(read_all(fs, "/deep/er/file"), std::string(9000, 'x'));
            }
        });
}

TEST(VfsOutOfMemory, PipesGeneratedFilesAndFdTables)
{
    exhaust(
        [](FileSystem& fs) {
            ASSERT_FALSE(fs.add_generated_file(
                               "/proc/maps",
                               [](void*, FileData& out) -> ErrorOr<void> {
                                   for (int i = 0; i < 200; ++i)
                                       TRY(out.append("0000-1000 r-xp 0 00:00 0 [line]\n"));
                                   return {};
                               },
                               nullptr)
                             .is_error());
        },
        [](FileSystem& fs) {
            auto ends = fs.create_pipe(0);
            if (ends.is_error())
                return ends.error().code();
            auto table = FdTable::create();
            int error = table.is_error() ? table.error().code() : 0;
            if (!error) {
                EXPECT_EQ(table.value()->install(*ends.value().read_end, false).value(), 0);
                FdTable::destroy(table.value());
            }
            ends.value().read_end->unref();
            ends.value().write_end->unref();
            if (error)
                return error;
            auto maps = fs.open(fs.root(), "/proc/maps", o_rdonly, 0);
            if (maps.is_error())
                return maps.error().code();
            EXPECT_EQ(maps.value()->bytes_available(), 200u * 32);
            maps.value()->unref();
            return 0;
        },
        [](FileSystem&, bool) {});
}

} // namespace
