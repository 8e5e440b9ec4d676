// Shared helpers for the vfs tests: a filesystem fixture that frees everything (so ASan's leak check covers the
// library), small file helpers, and a cpio newc writer for building archives, valid and hostile, in memory.
#pragma once

#include <vfs/filesystem.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace vfs_test {

using namespace kernite::vfs;
using namespace kernite::vfs::linux_abi;

// The errno of a failed call, or 0 when it succeeded.
template<typename T>
int errno_of(ErrorOr<T> const& result)
{
    return result.is_error() ? result.error().code() : 0;
}

class FsTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        auto created = FileSystem::create();
        ASSERT_FALSE(created.is_error());
        fs = created.value();
        root = fs->root();
    }
    void TearDown() override { FileSystem::destroy(fs); }

    OpenFile* open(char const* path, u32 flags, u32 mode = 0644)
    {
        auto file = fs->open(root, path, flags, mode);
        EXPECT_FALSE(file.is_error()) << path << ": " << (file.is_error() ? file.error().reason() : "");
        return file.is_error() ? nullptr : file.value();
    }

    int open_errno(char const* path, u32 flags, u32 mode = 0644)
    {
        auto file = fs->open(root, path, flags, mode);
        if (!file.is_error()) {
            file.value()->unref();
            return 0;
        }
        return file.error().code();
    }

    void write_file(char const* path, std::string const& content)
    {
        OpenFile* file = open(path, o_wronly | o_creat | o_trunc);
        ASSERT_NE(file, nullptr);
        auto written = file->write(content.data(), content.size());
        ASSERT_FALSE(written.is_error());
        EXPECT_EQ(written.value(), content.size());
        file->unref();
    }

    std::string read_file(char const* path)
    {
        OpenFile* file = open(path, o_rdonly);
        if (!file)
            return "<open failed>";
        std::string content;
        char buffer[1000];
        for (;;) {
            auto got = file->read(buffer, sizeof(buffer));
            if (got.is_error()) {
                content += "<read failed>";
                break;
            }
            if (got.value() == 0)
                break;
            content.append(buffer, got.value());
        }
        file->unref();
        return content;
    }

    bool exists(char const* path) { return !fs->resolve(root, path, false).is_error(); }

    Inode* inode(char const* path, bool follow = true)
    {
        auto found = fs->resolve(root, path, follow);
        return found.is_error() ? nullptr : found.value();
    }

    // All names getdents64 returns for a directory, in order, with "." and "..".
    std::vector<std::string> list(char const* path);

    FileSystem* fs { nullptr };
    Inode* root { nullptr };
};

struct Dirent {
    u64 ino;
    i64 next;
    u8 type;
    std::string name;
};

// Decodes linux_dirent64 records, checking each record's framing.
inline std::vector<Dirent> decode_dirents(u8 const* buffer, usize size)
{
    std::vector<Dirent> out;
    usize at = 0;
    while (at < size) {
        Dirent d;
        u16 reclen = 0;
        std::memcpy(&d.ino, buffer + at + dirent64_ino_offset, 8);
        std::memcpy(&d.next, buffer + at + dirent64_off_offset, 8);
        std::memcpy(&reclen, buffer + at + dirent64_reclen_offset, 2);
        d.type = buffer[at + dirent64_type_offset];
        d.name = reinterpret_cast<char const*>(buffer + at + dirent64_name_offset);
        EXPECT_EQ(reclen % 8, 0u);
        EXPECT_EQ(reclen, dirent64_record_length(d.name.size()));
        EXPECT_LE(at + reclen, size);
        if (reclen == 0)
            break;
        at += reclen;
        out.push_back(d);
    }
    return out;
}

inline std::vector<std::string> FsTest::list(char const* path)
{
    std::vector<std::string> names;
    OpenFile* dir = open(path, o_rdonly | o_directory);
    if (!dir)
        return names;
    u8 buffer[256];
    for (;;) {
        auto got = dir->getdents64(buffer, sizeof(buffer));
        EXPECT_FALSE(got.is_error());
        if (got.is_error() || got.value() == 0)
            break;
        for (auto& d : decode_dirents(buffer, got.value()))
            names.push_back(d.name);
    }
    dir->unref();
    return names;
}

// Builds cpio newc archives (buffer-format.rst): header, name, pad to 4, data, pad to 4.
class CpioWriter {
public:
    struct Entry {
        std::string name;
        u32 mode;
        std::string data;
        u32 ino { 0 };
        u32 nlink { 1 };
        u32 mtime { 0 };
        u32 devmajor { 0 };
        u32 devminor { 0 };
    };

    CpioWriter& file(std::string name, std::string data, u32 mode = 0644)
    {
        return add({ std::move(name), s_ifreg | mode, std::move(data) });
    }
    CpioWriter& directory(std::string name, u32 mode = 0755) { return add({ std::move(name), s_ifdir | mode, "" }); }
    CpioWriter& symlink(std::string name, std::string target)
    {
        return add({ std::move(name), s_iflnk | 0777, std::move(target) });
    }
    CpioWriter& add(Entry entry)
    {
        if (entry.ino == 0)
            entry.ino = m_next_ino++;
        append_entry(entry, entry.name, entry.data.size());
        m_bytes += entry.data;
        pad();
        return *this;
    }
    // A header whose namesize/filesize fields say what the caller wants, whatever follows.
    CpioWriter& raw_header(std::string const& magic, u32 mode, u32 namesize, u32 filesize)
    {
        char header[111];
        std::snprintf(header, sizeof(header), "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", magic.c_str(),
            1u, mode, 0u, 0u, 1u, 0u, filesize, 0u, 0u, 0u, 0u, namesize, 0u);
        m_bytes.append(header, 110);
        return *this;
    }
    CpioWriter& raw(std::string const& bytes)
    {
        m_bytes += bytes;
        return *this;
    }
    CpioWriter& trailer()
    {
        Entry end { "TRAILER!!!", 0, "" };
        end.nlink = 1;
        append_entry(end, end.name, 0);
        return *this;
    }
    std::string const& bytes() const { return m_bytes; }
    std::vector<u8> vector() const { return std::vector<u8>(m_bytes.begin(), m_bytes.end()); }

    std::string magic { "070701" };

private:
    void append_entry(Entry const& entry, std::string const& name, usize filesize)
    {
        char header[111];
        std::snprintf(header, sizeof(header), "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", magic.c_str(),
            entry.ino, entry.mode, 0u, 0u, entry.nlink, entry.mtime, static_cast<u32>(filesize), entry.devmajor,
            entry.devminor, 0u, 0u, static_cast<u32>(name.size() + 1), 0u);
        m_bytes.append(header, 110);
        m_bytes += name;
        m_bytes.push_back('\0');
        pad();
    }
    void pad()
    {
        while (m_bytes.size() % 4)
            m_bytes.push_back('\0');
    }

    std::string m_bytes;
    u32 m_next_ino { 100 };
};

} // namespace vfs_test
