#include <x86/instruction_length.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <sys/stat.h>
#include <vector>

using kernite::x86::ends_with_hlt_at;
using kernite::x86::instruction_length;

namespace {

struct Instruction {
    unsigned long address;
    std::vector<unsigned char> bytes;
    std::string mnemonic;
};

// objdump -d of PATH's code, one entry per instruction (16 bytes a line, so none wraps).
std::vector<Instruction> disassemble(std::string const& path)
{
    std::vector<Instruction> result;
    std::string command = "objdump -d --insn-width=16 " + path + " 2>/dev/null";
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe)
        return result;
    char line[1024];
    while (fgets(line, sizeof(line), pipe)) {
        char* cursor = line;
        while (*cursor == ' ')
            ++cursor;
        char* end = nullptr;
        unsigned long address = std::strtoul(cursor, &end, 16);
        if (end == cursor || *end != ':' || end[1] != '\t')
            continue;
        cursor = end + 2;
        Instruction instruction { address, {}, {} };
        while (*cursor && *cursor != '\t' && *cursor != '\n') {
            if (*cursor == ' ') {
                ++cursor;
                continue;
            }
            instruction.bytes.push_back(static_cast<unsigned char>(std::strtoul(cursor, &end, 16)));
            cursor = end;
        }
        if (*cursor == '\t')
            instruction.mnemonic = cursor + 1;
        if (!instruction.bytes.empty())
            result.push_back(instruction);
    }
    pclose(pipe);
    return result;
}

bool exists(std::string const& path)
{
    struct stat info;
    return stat(path.c_str(), &info) == 0;
}

void check_program(std::string const& path)
{
    if (!exists(path))
        GTEST_SKIP() << path << " is not there";
    auto instructions = disassemble(path);
    if (instructions.empty())
        GTEST_SKIP() << "objdump gave nothing for " << path;
    // Contiguous runs of code, rebuilt from objdump's bytes.
    std::map<unsigned long, unsigned char> bytes;
    for (auto const& instruction : instructions)
        for (size_t i = 0; i < instruction.bytes.size(); ++i)
            bytes[instruction.address + i] = instruction.bytes[i];
    auto window = [&](unsigned long target, size_t before, std::vector<unsigned char>& out) {
        out.clear();
        unsigned long start = target >= before ? target - before : 0;
        while (start < target && !bytes.count(start))
            ++start;
        for (unsigned long a = start; a <= target; ++a) {
            if (!bytes.count(a)) {
                out.clear();
                start = a + 1;
                continue;
            }
            out.push_back(bytes[a]);
        }
        return out.size() - 1;
    };
    size_t checked = 0, wrong = 0, bad = 0, hlt = 0, f4_tails = 0, false_hlt = 0, missed_hlt = 0;
    std::vector<unsigned char> buffer;
    for (size_t k = 0; k < instructions.size(); ++k) {
        auto const& instruction = instructions[k];
        if (instruction.mnemonic.rfind("(bad)", 0) == 0) {
            ++bad;
            continue;
        }
        std::vector<unsigned char> code = instruction.bytes;
        for (size_t j = k + 1; j < instructions.size() && code.size() < 16; ++j)
            code.insert(code.end(), instructions[j].bytes.begin(), instructions[j].bytes.end());
        size_t length = instruction_length(code.data(), code.size());
        ++checked;
        if (length != instruction.bytes.size()) {
            if (++wrong <= 10)
                ADD_FAILURE() << path << ": at 0x" << std::hex << instruction.address << " decoded " << std::dec
                              << length << " bytes, objdump " << instruction.bytes.size() << " ("
                              << instruction.mnemonic << ")";
        }
        // The hlt question at every 0xF4 that ends an instruction.
        if (instruction.bytes.back() == 0xf4) {
            unsigned long target = instruction.address + instruction.bytes.size() - 1;
            size_t offset = window(target, 64, buffer);
            bool answer = ends_with_hlt_at(buffer.data(), buffer.size(), offset, 16, 3);
            bool is_hlt = instruction.bytes.size() == 1;
            if (is_hlt) {
                ++hlt;
                missed_hlt += !answer;
            } else {
                ++f4_tails;
                false_hlt += answer;
            }
        }
    }
    std::printf("%s: %zu instructions checked (%zu (bad) skipped), %zu hlt (%zu missed), %zu other instructions "
                "ending in 0xF4 (%zu taken for hlt)\n",
        path.c_str(), checked, bad, hlt, missed_hlt, f4_tails, false_hlt);
    EXPECT_EQ(wrong, 0u);
    EXPECT_EQ(false_hlt, 0u) << "a longer instruction's last byte 0xF4 was taken for a hlt";
    EXPECT_EQ(missed_hlt, 0u);
}

} // namespace

TEST(InstructionLength, SimpleEncodings)
{
    unsigned char const hlt[] = { 0xf4 };
    EXPECT_EQ(instruction_length(hlt, 1), 1u);
    unsigned char const mov_disp8[] = { 0x8b, 0x45, 0xf4 }; // mov -0xc(%rbp),%eax
    EXPECT_EQ(instruction_length(mov_disp8, 3), 3u);
    unsigned char const movabs[] = { 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8 };
    EXPECT_EQ(instruction_length(movabs, sizeof(movabs)), 10u);
    unsigned char const lea_sib[] = { 0x48, 0x8d, 0x04, 0xf4 }; // lea (%rsp,%rsi,8),%rax
    EXPECT_EQ(instruction_length(lea_sib, 4), 4u);
    unsigned char const vex[] = { 0xc5, 0xf9, 0xef, 0xc0 }; // vpxor %xmm0,%xmm0,%xmm0
    EXPECT_EQ(instruction_length(vex, 4), 4u);
    unsigned char const evex[] = { 0x62, 0xf1, 0xfd, 0x48, 0x6f, 0x06 }; // vmovdqa64 (%rsi),%zmm0
    EXPECT_EQ(instruction_length(evex, 6), 6u);
    unsigned char const truncated[] = { 0x48, 0x8b };
    EXPECT_EQ(instruction_length(truncated, 2), 0u);
    unsigned char const invalid[] = { 0x06 }; // push %es: invalid in 64-bit mode
    EXPECT_EQ(instruction_length(invalid, 1), 0u);
}

TEST(InstructionLength, HltAfterSyscallAndAfterDisp8)
{
    // mov $60,%eax; syscall; hlt
    unsigned char const real[] = { 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05, 0xf4 };
    EXPECT_TRUE(ends_with_hlt_at(real, sizeof(real), 7, 16, 1));
    // xor %eax,%eax; mov %eax,-0xc(%rbp): the 0xF4 is a displacement
    unsigned char const fake[] = { 0x31, 0xc0, 0x89, 0x45, 0xf4 };
    EXPECT_FALSE(ends_with_hlt_at(fake, sizeof(fake), 4, 16, 1));
}

TEST(InstructionLength, MatchesObjdumpOnMuslProgram) { check_program(KERNITE_TEST_PROGRAMS "/threads.musl"); }
TEST(InstructionLength, MatchesObjdumpOnGlibcProgram) { check_program(KERNITE_TEST_PROGRAMS "/threads.glibc"); }
TEST(InstructionLength, MatchesObjdumpOnBusybox) { check_program("/bin/busybox"); }
