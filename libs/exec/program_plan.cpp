// Program loading plan: see include/exec/program_plan.h. The image is hostile: every header field is checked
// before it is used and every sum of untrusted values is overflow-checked (or bounded first).
#include <exec/program_plan.h>

#include <vma/layout.h>

namespace kernite::exec {

namespace {

using elf::Diagnostic;
using elf::Elf64_Ehdr;
using elf::Elf64_Phdr;
using vma::minimum_user_address;
using vma::page_size;
using vma::user_address_limit;

// gABI "ELF Identification" and program header types; Linux include/uapi/linux/elf.h for the GNU ones.
constexpr usize ei_osabi = 7;
constexpr u8 elfosabi_sysv = 0;
constexpr u8 elfosabi_gnu = 3; // ELFOSABI_LINUX: what GNU ld writes when the program uses GNU extensions
constexpr u32 pt_phdr = 6;
constexpr u32 pt_tls = 7;
constexpr u32 pt_gnu_stack = 0x6474e551;
constexpr u32 pt_gnu_relro = 0x6474e552;

Error refuse(char const* reason) { return Error::from_errno(ENOEXEC, reason); }

Error refuse_header(Diagnostic* diagnostic, u32 index, char const* reason, int other = -1)
{
    if (diagnostic) {
        diagnostic->segment = static_cast<int>(index);
        diagnostic->other_segment = other;
    }
    return refuse(reason);
}

u64 page_down(u64 value) { return ktl::align_down(value, page_size); }
// Only for values already bounded by user_address_limit, so the rounding cannot overflow.
u64 page_up(u64 value) { return ktl::align_down(value + page_size - 1, page_size); }
u32 prot_from_flags(u32 flags)
{
    return ((flags & elf::pf_r) ? prot_read : 0) | ((flags & elf::pf_w) ? prot_write : 0)
        | ((flags & elf::pf_x) ? prot_exec : 0);
}

// The checks that come before libs/elf's, so that a refusal names the real problem in the user's words.
ErrorOr<Elf64_Ehdr> read_header(u8 const* image, usize size)
{
    if (image == nullptr || size < sizeof(Elf64_Ehdr))
        return refuse("the file is too small to be an ELF program");
    Elf64_Ehdr header;
    __builtin_memcpy(&header, image, sizeof(header)); // the image need not be aligned
    if (__builtin_memcmp(header.e_ident, elf::elf_magic, sizeof(elf::elf_magic)) != 0)
        return refuse("not an ELF file (bad magic number)");
    if (header.e_ident[elf::ei_class] != elf::elfclass64)
        return refuse("not a 64-bit ELF program (only x86-64 programs run)");
    if (header.e_ident[elf::ei_data] != elf::elfdata2lsb)
        return refuse("not a little-endian ELF program");
    if (header.e_ident[elf::ei_version] != elf::ev_current || header.e_version != elf::ev_current)
        return refuse("unsupported ELF version (EV_CURRENT expected)");
    if (header.e_ident[ei_osabi] != elfosabi_sysv && header.e_ident[ei_osabi] != elfosabi_gnu)
        return refuse("not a Linux program (ELF OS/ABI is neither System V nor GNU/Linux)");
    if (header.e_machine != elf::em_x86_64)
        return refuse("not an x86-64 program");
    if (header.e_type != elf::et_exec && header.e_type != elf::et_dyn)
        return refuse("not an executable program (ET_EXEC or ET_DYN expected)");
    if (header.e_phentsize != sizeof(Elf64_Phdr))
        return refuse("e_phentsize is not the size of an ELF64 program header");
    if (header.e_phnum == 0 || header.e_phnum == elf::pn_xnum || header.e_phnum > elf::max_program_headers)
        return refuse("the program header count is zero or too large");
    // e_phnum <= 64, so the table size cannot overflow; its end can.
    u64 const table_size = static_cast<u64>(header.e_phnum) * sizeof(Elf64_Phdr);
    u64 table_end = 0;
    if (!ktl::checked_add<u64>(header.e_phoff, table_size, &table_end) || table_end > size)
        return refuse("the program header table lies outside the file");
    return header;
}

Elf64_Phdr program_header(u8 const* image, Elf64_Ehdr const& header, u32 index)
{
    Elf64_Phdr phdr; // read_header() checked that the whole table lies inside the image
    __builtin_memcpy(&phdr, image + header.e_phoff + static_cast<u64>(index) * sizeof(Elf64_Phdr), sizeof(phdr));
    return phdr;
}

// Same rule as libs/elf: an empty PT_LOAD (memsz and filesz 0) loads nothing and is skipped.
bool loads_something(Elf64_Phdr const& phdr) { return phdr.p_type == elf::pt_load && (phdr.p_memsz | phdr.p_filesz); }

struct SpecialHeaders {
    bool has_phdr { false };
    Elf64_Phdr phdr {};
    bool has_tls { false };
    Elf64_Phdr tls {};
    bool has_relro { false };
    Elf64_Phdr relro {};
    u64 stack_size { 0 };
};

// One pass over the program headers for what libs/elf does not look at.
ErrorOr<SpecialHeaders> scan_program_headers(u8 const* image, Elf64_Ehdr const& header, Diagnostic* diagnostic)
{
    SpecialHeaders special;
    u32 load_count = 0;
    for (u32 index = 0; index < header.e_phnum; ++index) {
        Elf64_Phdr const phdr = program_header(image, header, index);
        switch (phdr.p_type) {
        case elf::pt_interp:
            return refuse("dynamically linked programs are not supported yet: link with -static or -static-pie");
        case pt_gnu_stack:
            if (phdr.p_flags & elf::pf_x)
                return refuse("the program asks for an executable stack (PT_GNU_STACK with X); Kernite refuses W+X "
                              "memory");
            special.stack_size = phdr.p_memsz;
            break;
        case pt_phdr:
            if (special.has_phdr)
                return refuse_header(diagnostic, index, "is a second PT_PHDR");
            special.has_phdr = true;
            special.phdr = phdr;
            break;
        case pt_tls:
            if (special.has_tls)
                return refuse_header(diagnostic, index, "is a second PT_TLS");
            special.has_tls = true;
            special.tls = phdr;
            break;
        case pt_gnu_relro:
            if (special.has_relro)
                return refuse_header(diagnostic, index, "is a second PT_GNU_RELRO");
            special.has_relro = phdr.p_memsz != 0;
            special.relro = phdr;
            break;
        case elf::pt_load: {
            if (!loads_something(phdr))
                break;
            if (++load_count > max_program_segments)
                return refuse("the program has more than 16 PT_LOAD segments");
            u64 end = 0;
            if (!ktl::checked_add(phdr.p_vaddr, phdr.p_memsz, &end) || end > user_address_limit)
                return refuse_header(diagnostic, index,
                    "lies outside the user address space (the canonical lower half below 2^47)");
            // ET_DYN addresses are offsets from the load bias, which keeps them above the floor.
            if (header.e_type == elf::et_exec && phdr.p_vaddr < minimum_user_address)
                return refuse_header(diagnostic, index,
                    "would be mapped below 64 KiB, where nothing is ever mapped (null-pointer guard)");
            break;
        }
        default: break; // PT_NOTE, PT_DYNAMIC, PT_GNU_PROPERTY, PT_GNU_EH_FRAME...: nothing to map or refuse
        }
    }
    if (load_count == 0)
        return refuse("the program has no PT_LOAD segment");
    return special;
}

// The segment whose file-backed bytes hold [vaddr, vaddr + length), or null.
ProgramSegment const* segment_with_file_bytes(ProgramPlan const& plan, u64 vaddr, u64 length)
{
    for (u32 i = 0; i < plan.segment_count; ++i) {
        ProgramSegment const& segment = plan.segments[i];
        if (vaddr >= segment.vaddr && vaddr - segment.vaddr <= segment.filesz
            && length <= segment.filesz - (vaddr - segment.vaddr))
            return &segment;
    }
    return nullptr;
}

// The segment whose memory (file bytes and zero fill) holds [vaddr, vaddr + length), or null.
ProgramSegment const* segment_with_memory(ProgramPlan const& plan, u64 vaddr, u64 length)
{
    for (u32 i = 0; i < plan.segment_count; ++i) {
        ProgramSegment const& segment = plan.segments[i];
        if (vaddr >= segment.vaddr && vaddr - segment.vaddr <= segment.memsz
            && length <= segment.memsz - (vaddr - segment.vaddr))
            return &segment;
    }
    return nullptr;
}

// Turns libs/elf's validated segments into plan segments: page congruence, ascending order and page ownership.
ErrorOr<void> add_segments(ProgramPlan& plan, elf::LoadableImage const& image, Diagnostic* diagnostic)
{
    for (u32 i = 0; i < image.segment_count; ++i) {
        elf::LoadSegment const& loaded = image.segments[i];
        // mmap-style loading needs p_offset == p_vaddr modulo the page size (Linux elf_map() maps the file page
        // at p_offset - ELF_PAGEOFFSET(p_vaddr)); we copy instead of mapping, but keep the rule so that what
        // runs here also runs on Linux and a malformed file is caught early.
        if ((loaded.virtual_address ^ loaded.file_offset) & (page_size - 1))
            return refuse_header(diagnostic, loaded.program_header_index,
                "has p_offset and p_vaddr not congruent modulo the page size");
        ProgramSegment segment {
            .vaddr = loaded.virtual_address,
            .memsz = loaded.memory_size,
            .filesz = loaded.file_size,
            .file_offset = loaded.file_offset,
            .prot = prot_from_flags(loaded.flags),
            .program_header_index = loaded.program_header_index,
            .map_start = page_down(loaded.virtual_address),
            .map_end = page_up(loaded.virtual_address + loaded.memory_size), // bounded by scan_program_headers()
            .map_offset = 0,
        };
        if (plan.segment_count > 0) {
            ProgramSegment const& previous = plan.segments[plan.segment_count - 1];
            // gABI: "loadable segment entries in the program header table appear in ascending order, sorted on
            // the p_vaddr member". libs/elf already refused byte overlaps, so previous ends before this starts.
            if (segment.vaddr < previous.vaddr)
                return refuse_header(diagnostic, segment.program_header_index,
                    "is not in ascending p_vaddr order after segment", static_cast<int>(previous.program_header_index));
            if (segment.map_start < previous.map_end) {
                // The two share a page. One page has one set of permissions; Linux would silently give it the
                // later segment's, so one of them would run with permissions its header does not grant.
                if (segment.prot != previous.prot)
                    return refuse_header(diagnostic, segment.program_header_index,
                        "shares a page, with different permissions, with segment",
                        static_cast<int>(previous.program_header_index));
                segment.map_start = previous.map_end;
                if (segment.map_end < segment.map_start)
                    segment.map_end = segment.map_start;
            }
        }
        // p_offset >= p_vaddr % page (congruence), so this never goes below 0 for map_start <= vaddr; for a
        // map_start moved past a shared page it is p_offset plus that distance.
        segment.map_offset = segment.file_offset - segment.vaddr + segment.map_start;
        if (loaded.alignment > plan.max_alignment)
            plan.max_alignment = loaded.alignment;
        plan.segments[plan.segment_count++] = segment;
    }
    return {};
}

ErrorOr<void> add_program_header_address(ProgramPlan& plan, Elf64_Ehdr const& header, SpecialHeaders const& special)
{
    u64 const table_size = static_cast<u64>(header.e_phnum) * sizeof(Elf64_Phdr);
    if (special.has_phdr) {
        // ld.so reads the table through AT_PHDR: it must be memory the program has, holding the file's bytes.
        if (!segment_with_file_bytes(plan, special.phdr.p_vaddr, table_size))
            return refuse("PT_PHDR does not lie inside the file bytes of a PT_LOAD segment");
        plan.phdr = special.phdr.p_vaddr;
        return {};
    }
    // Without PT_PHDR, the table is where the PT_LOAD holding e_phoff maps it (Linux load_elf_binary()).
    for (u32 i = 0; i < plan.segment_count; ++i) {
        ProgramSegment const& segment = plan.segments[i];
        if (header.e_phoff >= segment.file_offset && header.e_phoff - segment.file_offset <= segment.filesz
            && table_size <= segment.filesz - (header.e_phoff - segment.file_offset)) {
            plan.phdr = segment.vaddr + (header.e_phoff - segment.file_offset);
            return {};
        }
    }
    return refuse("the program header table is not inside any PT_LOAD segment and there is no PT_PHDR");
}

ErrorOr<void> add_tls_and_relro(ProgramPlan& plan, SpecialHeaders const& special)
{
    if (special.has_tls) {
        Elf64_Phdr const& tls = special.tls;
        if (tls.p_filesz > tls.p_memsz)
            return refuse("PT_TLS has p_filesz larger than p_memsz");
        if (tls.p_align > 1 && (!ktl::is_power_of_two(tls.p_align) || tls.p_align > elf::max_segment_alignment))
            return refuse("PT_TLS has an invalid alignment");
        u64 tls_end = 0;
        if (!ktl::checked_add(tls.p_vaddr, tls.p_memsz, &tls_end) || tls_end > user_address_limit)
            return refuse("PT_TLS lies outside the user address space");
        // libc copies the initial image from here into every thread's TLS block.
        ProgramSegment const* segment = segment_with_file_bytes(plan, tls.p_vaddr, tls.p_filesz);
        if (!segment)
            return refuse("PT_TLS initial image does not lie inside the file bytes of a PT_LOAD segment");
        plan.has_tls = true;
        plan.tls = { .vaddr = tls.p_vaddr, .filesz = tls.p_filesz, .memsz = tls.p_memsz, .align = tls.p_align };
    }
    if (special.has_relro) {
        // glibc mprotects these pages read-only after relocating; the kernel may do the same for musl. Either
        // way it must be memory of one segment.
        if (!segment_with_memory(plan, special.relro.p_vaddr, special.relro.p_memsz))
            return refuse("PT_GNU_RELRO does not lie inside one PT_LOAD segment");
        plan.has_relro = true;
        plan.relro_start = special.relro.p_vaddr;
        plan.relro_end = special.relro.p_vaddr + special.relro.p_memsz;
    }
    return {};
}

} // namespace

ErrorOr<ProgramPlan> plan_program(u8 const* image, usize size, Diagnostic* diagnostic)
{
    if (diagnostic)
        *diagnostic = {};
    Elf64_Ehdr const header = TRY(read_header(image, size));
    SpecialHeaders const special = TRY(scan_program_headers(image, header, diagnostic));

    // libs/elf: file ranges inside the image, p_filesz <= p_memsz, no overflow, W+X, byte overlap, entry point
    // inside an executable segment. Addresses were bounded above; this repeats the user-range check.
    elf::LoadPolicy const policy {
        .address_kind = elf::AddressKind::Virtual,
        .min_address = header.e_type == elf::et_exec ? minimum_user_address : 0,
        .max_address = user_address_limit,
    };
    elf::LoadableImage const loadable = TRY(elf::parse_loadable_image(image, size, policy, diagnostic));

    ProgramPlan plan;
    plan.position_independent = header.e_type == elf::et_dyn;
    plan.entry = header.e_entry;
    plan.phent = header.e_phentsize;
    plan.phnum = header.e_phnum;
    plan.max_alignment = page_size;
    plan.stack_size = special.stack_size;
    TRY(add_segments(plan, loadable, diagnostic));
    plan.span_start = plan.segments[0].map_start;
    plan.span_end = plan.segments[plan.segment_count - 1].map_end;
    TRY(add_program_header_address(plan, header, special));
    TRY(add_tls_and_relro(plan, special));
    return plan;
}

char const* describe_refusal(Error const& error, Diagnostic const& diagnostic, char* buffer, usize buffer_size)
{
    return elf::format_refusal(error, diagnostic, buffer, buffer_size);
}

} // namespace kernite::exec
