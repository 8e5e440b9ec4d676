// plan_program() on real static programs: the fixture linked by this build (glibc static-PIE, musl static) and
// the host's /bin/busybox and /sbin/ldconfig when present. Each plan is compared with the program headers
// read independently here; a dynamically linked host program must be refused. Missing ones are skipped.
#include <exec/initial_stack.h>
#include <exec/program_plan.h>

#include <elf/elf64.h>
#include <vma/layout.h>

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace kernite::exec;
namespace elf = kernite::elf;

namespace {

std::vector<u8> read_file(char const* path)
{
    std::ifstream stream(path, std::ios::binary);
    if (!stream)
        return {};
    return std::vector<u8>(std::istreambuf_iterator<char>(stream), {});
}

bool has_program_header(std::vector<u8> const& file, u32 type)
{
    elf::Elf64_Ehdr header;
    std::memcpy(&header, file.data(), sizeof(header));
    for (u16 i = 0; i < header.e_phnum; ++i) {
        elf::Elf64_Phdr phdr;
        std::memcpy(&phdr, file.data() + header.e_phoff + i * sizeof(phdr), sizeof(phdr));
        if (phdr.p_type == type)
            return true;
    }
    return false;
}

// Plans `file` and checks the plan against its program headers, then biases it and builds a stack for it.
void check_real_program(std::vector<u8> const& file, bool expect_pie)
{
    auto planned = plan_program(file.data(), file.size());
    ASSERT_FALSE(planned.is_error()) << planned.error().reason();
    ProgramPlan plan = planned.release_value();
    EXPECT_EQ(plan.position_independent, expect_pie);

    elf::Elf64_Ehdr header;
    std::memcpy(&header, file.data(), sizeof(header));
    EXPECT_EQ(plan.entry, header.e_entry);
    EXPECT_EQ(plan.phnum, header.e_phnum);
    u32 loads = 0;
    bool saw_exec = false;
    for (u16 i = 0; i < header.e_phnum; ++i) {
        elf::Elf64_Phdr phdr;
        std::memcpy(&phdr, file.data() + header.e_phoff + i * sizeof(phdr), sizeof(phdr));
        if (phdr.p_type == elf::pt_load) {
            ASSERT_LT(loads, plan.segment_count);
            ProgramSegment const& segment = plan.segments[loads++];
            EXPECT_EQ(segment.vaddr, phdr.p_vaddr);
            EXPECT_EQ(segment.memsz, phdr.p_memsz);
            EXPECT_EQ(segment.filesz, phdr.p_filesz);
            EXPECT_EQ(segment.file_offset, phdr.p_offset);
            EXPECT_EQ(segment.program_header_index, i);
            u32 const expected_prot = ((phdr.p_flags & elf::pf_r) ? prot_read : 0)
                | ((phdr.p_flags & elf::pf_w) ? prot_write : 0) | ((phdr.p_flags & elf::pf_x) ? prot_exec : 0);
            EXPECT_EQ(segment.prot, expected_prot);
            saw_exec |= (segment.prot & prot_exec) != 0;
            EXPECT_LE(segment.map_start, segment.vaddr + segment.memsz);
            EXPECT_EQ(segment.map_end, (segment.vaddr + segment.memsz + 0xfff) & ~0xfffull);
            EXPECT_EQ(segment.map_offset, phdr.p_offset & ~0xfffull) << "what Linux shows in /proc/self/maps";
        }
        if (phdr.p_type == 7) { // PT_TLS
            EXPECT_TRUE(plan.has_tls);
            EXPECT_EQ(plan.tls.vaddr, phdr.p_vaddr);
            EXPECT_EQ(plan.tls.memsz, phdr.p_memsz);
        }
    }
    EXPECT_EQ(loads, plan.segment_count);
    EXPECT_TRUE(saw_exec);

    // The program-header table as the program will see it: AT_PHDR must point at a copy of the file's table.
    bool phdr_in_file_bytes = false;
    for (u32 i = 0; i < plan.segment_count; ++i) {
        ProgramSegment const& segment = plan.segments[i];
        if (plan.phdr >= segment.vaddr && plan.phdr + plan.phnum * 56 <= segment.vaddr + segment.filesz)
            phdr_in_file_bytes = segment.file_offset + (plan.phdr - segment.vaddr) == header.e_phoff;
    }
    EXPECT_TRUE(phdr_in_file_bytes);

    u64 const bias = choose_load_bias(plan, 0x0123456789abcdefull).value();
    EXPECT_EQ(bias != 0, expect_pie);
    ASSERT_FALSE(apply_load_bias(plan, bias).is_error());
    EXPECT_GE(plan.span_start, kernite::vma::minimum_user_address);

    InitialStackInput input;
    char const* argv[] = { "program", nullptr };
    input.argv = argv;
    input.argc = 1;
    set_program(input, plan);
    std::vector<u8> stack(4096);
    EXPECT_FALSE(build_initial_stack(input, stack.data(), stack.size(), 0x7ffff0000000ull).is_error());
}

void check_path(char const* path, bool expect_pie)
{
    std::vector<u8> file = read_file(path);
    if (file.size() < sizeof(elf::Elf64_Ehdr))
        GTEST_SKIP() << path << " is not present on this host";
    check_real_program(file, expect_pie);
}

} // namespace

TEST(RealPrograms, GlibcStaticPieFixture)
{
#ifdef KERNITE_FIXTURE_GLIBC_STATIC_PIE
    std::vector<u8> file = read_file(KERNITE_FIXTURE_GLIBC_STATIC_PIE);
    ASSERT_FALSE(file.empty()) << "the build should have linked " << KERNITE_FIXTURE_GLIBC_STATIC_PIE;
    check_real_program(file, true);
#else
    GTEST_SKIP() << "no glibc static-PIE fixture in this build";
#endif
}

TEST(RealPrograms, MuslStaticFixture)
{
#ifdef KERNITE_FIXTURE_MUSL_STATIC
    std::vector<u8> file = read_file(KERNITE_FIXTURE_MUSL_STATIC);
    ASSERT_FALSE(file.empty()) << "the build should have linked " << KERNITE_FIXTURE_MUSL_STATIC;
    check_real_program(file, false);
#else
    GTEST_SKIP() << "musl-gcc is not installed: no musl static fixture";
#endif
}

TEST(RealPrograms, BusyboxStatic) { check_path("/bin/busybox", false); }

TEST(RealPrograms, LdconfigStaticPie)
{
    std::vector<u8> file = read_file("/sbin/ldconfig");
    if (file.size() < sizeof(elf::Elf64_Ehdr) || has_program_header(file, elf::pt_interp))
        GTEST_SKIP() << "/sbin/ldconfig is absent or not a static-PIE program here";
    check_real_program(file, true);
}

TEST(RealPrograms, DynamicProgramIsRefused)
{
    std::vector<u8> file = read_file("/bin/ls");
    if (file.size() < sizeof(elf::Elf64_Ehdr) || !has_program_header(file, elf::pt_interp))
        GTEST_SKIP() << "/bin/ls is absent or not dynamically linked here";
    auto plan = plan_program(file.data(), file.size());
    ASSERT_TRUE(plan.is_error());
    EXPECT_EQ(plan.error().code(), ENOEXEC);
    EXPECT_STREQ(plan.error().reason(),
        "dynamically linked programs are not supported yet: link with -static or -static-pie");
}
