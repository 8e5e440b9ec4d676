#include "kernel_image.h"

#include "boot_layout.h"

#include <elf/relocations.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kernite::monitor {

Result<KernelFile> read_kernel_file(std::string const& path)
{
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail("kernel image " + path + " not found or unreadable: " + std::strerror(errno));
    struct FdCloser {
        int fd;
        ~FdCloser() { close(fd); }
    } closer { fd };
    struct stat status { };
    if (fstat(fd, &status) != 0 || !S_ISREG(status.st_mode))
        return fail("kernel image " + path + " is not a regular file");
    if (static_cast<u64>(status.st_size) > max_kernel_image_size)
        return fail("refusing kernel image " + path + ": larger than 64 MiB");
    KernelFile file;
    file.size = static_cast<u64>(status.st_size);
    file.bytes.reset(new u8[file.size ? file.size : 1]);
    u64 done = 0;
    while (done < file.size) {
        ssize_t got = read(fd, file.bytes.get() + done, file.size - done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return fail("cannot read kernel image " + path + ": " + (got < 0 ? std::strerror(errno) : "file shrank"));
        done += static_cast<u64>(got);
    }
    return file;
}

Result<elf::LoadableImage> validate_kernel_image(KernelFile const& file, u64 memory_size)
{
    elf::LoadPolicy const policy {
        .address_kind = elf::AddressKind::Physical,
        .min_address = kernel_min_gpa,
        .max_address = memory_size,
    };
    elf::Diagnostic diagnostic;
    auto image = elf::parse_loadable_image(file.bytes.get(), file.size, policy, &diagnostic);
    if (image.is_error()) {
        char reason[256];
        elf::format_refusal(image.error(), diagnostic, reason, sizeof(reason));
        std::string message = reason;
        if (std::strstr(reason, "outside the loadable memory range"))
            message += " [1 MiB, " + std::to_string(memory_size >> 20) + " MiB)";
        return fail(message);
    }
    return image.release_value();
}

Result<u64> load_kernel_image(KernelFile const& file, elf::LoadableImage const& image, GuestMemory& memory)
{
    for (u32 i = 0; i < image.segment_count; ++i) {
        elf::LoadSegment const& segment = image.segments[i];
        // Re-checked here so that this function is safe on its own, not only after validate_kernel_image().
        if (segment.file_size > file.size || segment.file_offset > file.size - segment.file_size
            || !memory.contains(segment.load_address, segment.memory_size) || segment.file_size > segment.memory_size)
            return fail("segment " + std::to_string(segment.program_header_index) + " does not fit");
        if (!memory.write_bytes(segment.load_address, file.bytes.get() + segment.file_offset, segment.file_size))
            return fail("segment " + std::to_string(segment.program_header_index) + " does not fit");
    }
    return image.entry_load_address;
}

u64 kernel_image_physical_end(elf::LoadableImage const& image)
{
    u64 end = 0;
    for (u32 i = 0; i < image.segment_count; ++i) {
        u64 segment_end = 0;
        if (ktl::checked_add(image.segments[i].load_address, image.segments[i].memory_size, &segment_end))
            end = std::max(end, segment_end);
    }
    u64 aligned = 0;
    return ktl::align_up(end, guest_page_size, &aligned) ? aligned : end;
}

Result<u64> relocate_kernel_image(KernelFile const& file, elf::LoadableImage const& image, GuestMemory& memory, u64 virt_base)
{
    auto table = elf::find_relocations(file.bytes.get(), file.size, image);
    if (table.is_error())
        return fail(table.error().reason());
    auto applied = elf::apply_relative_relocations(file.bytes.get(), file.size, image, table.value(), virt_base,
        [&](u64 gpa, u64 value) { return memory.write_bytes(gpa, &value, sizeof(value)); });
    if (applied.is_error())
        return fail(applied.error().reason());
    return applied.value();
}

} // namespace kernite::monitor
