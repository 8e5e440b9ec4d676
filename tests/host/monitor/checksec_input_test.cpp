// `kernite checksec`'s inputs and outputs: the feature-note parser, malformed and mutated files (never a crash,
// always an answer), the JSON and table output and the arguments.
#include "checksec_test_elf.h"

using namespace kernite;
using namespace kernite::monitor;
using namespace kernite::monitor::checksec_test;

TEST(FeatureNote, ParsesEntriesAndPadding)
{
    auto bytes = feature_descriptor({ "version=1", "profile=debug", "compiler=gcc 12.2.0", "future_key=x" });
    bytes.push_back(0); // more padding than needed is fine
    auto note = parse_feature_note(bytes.data(), bytes.size());
    ASSERT_TRUE(note.ok()) << note.error();
    EXPECT_EQ(note.value().entries.size(), 4u);
    EXPECT_EQ(note.value().value("profile"), "debug");
    EXPECT_EQ(note.value().value("compiler"), "gcc 12.2.0");
    EXPECT_EQ(note.value().value("future_key"), "x");
    EXPECT_EQ(note.value().value("absent"), "");
}

TEST(FeatureNote, RefusesMalformedDescriptors)
{
    std::vector<Bytes> bad = {
        {},
        text_bytes("version=1"),                           // not NUL-terminated
        feature_descriptor({ "profile=x" }),               // version not first
        feature_descriptor({ "version=1", "Profile=x" }),  // key outside [a-z0-9_]
        feature_descriptor({ "version=1", "=x" }),         // empty key
        feature_descriptor({ "version=1", "novalue" }),    // no '='
        feature_descriptor({ "version=1", "a=1", "a=2" }), // duplicate
        feature_descriptor({ "version=1", "a=\x1b[31m" }), // terminal escape in a value
        feature_descriptor({ "version=1", std::string(33, 'k') + "=v" }),
        feature_descriptor({ "version=1", "k=" + std::string(129, 'v') }),
    };
    Bytes gap = feature_descriptor({ "version=1" });
    gap.push_back(0);
    gap.push_back('a'); // an empty entry followed by more text
    gap.push_back(0);
    bad.push_back(gap);
    std::vector<std::string> many = { "version=1" };
    for (int i = 0; i < 64; ++i)
        many.push_back("k" + std::to_string(i) + "=v");
    bad.push_back(feature_descriptor(many));
    for (auto const& bytes : bad)
        EXPECT_FALSE(parse_feature_note(bytes.data(), bytes.size()).ok()) << std::string(bytes.begin(), bytes.end());
    Bytes huge(max_feature_note_size + 4, 0);
    EXPECT_FALSE(parse_feature_note(huge.data(), huge.size()).ok());
}

TEST(ChecksecMalformed, RefusesWhatItCannotReadSafely)
{
    auto const good = kernel_image(hardened_note).build();
    auto refuse = [](Bytes const& bytes, char const* expected) {
        auto report = analyse_binary(bytes.data(), bytes.size());
        ASSERT_FALSE(report.ok()) << expected;
        EXPECT_NE(report.error().find(expected), std::string::npos) << report.error();
    };
    auto patched = [&](u64 offset, auto value) {
        Bytes copy = good;
        std::memcpy(copy.data() + offset, &value, sizeof(value));
        return copy;
    };
    elf::Elf64_Ehdr header;
    std::memcpy(&header, good.data(), sizeof(header));
    refuse(Bytes(10, 0), "too small");
    refuse(patched(0, u8(0)), "bad magic");
    refuse(patched(offsetof(elf::Elf64_Ehdr, e_machine), u16(3)), "x86-64");
    refuse(patched(offsetof(elf::Elf64_Ehdr, e_type), u16(1)), "ET_EXEC or ET_DYN");
    refuse(patched(offsetof(elf::Elf64_Ehdr, e_phoff), u64(good.size() - 8)), "program header table");
    refuse(patched(offsetof(elf::Elf64_Ehdr, e_shoff), u64(good.size() - 8)), "section header table");
    refuse(patched(offsetof(elf::Elf64_Ehdr, e_shstrndx), u16(2)), "string table"); // section 2 is .symtab
    // Program header 0's file size past the end of the file.
    refuse(patched(header.e_phoff + offsetof(elf::Elf64_Phdr, p_filesz), u64(good.size())), "outside the file");
    // Section 1 (.strtab) past the end of the file.
    refuse(
        patched(header.e_shoff + sizeof(checksec::Elf64_Shdr) + offsetof(checksec::Elf64_Shdr, sh_size), u64(1) << 40),
        "section 1 lies outside the file");
}

TEST(ChecksecMalformed, EveryTruncationIsRefusedOrAnalysedWithoutACrash)
{
    auto const good = kernel_image(hardened_note).build();
    int refused = 0;
    for (u64 size = 0; size < good.size(); ++size) {
        Bytes copy(good.begin(), good.begin() + static_cast<long>(size)); // a fresh allocation: ASan sees overreads
        if (!analyse_binary(copy.data(), copy.size()).ok())
            ++refused;
    }
    // Everything up to the section headers at the end is needed.
    EXPECT_GT(refused, static_cast<int>(good.size()) / 2);
}

TEST(ChecksecMalformed, RandomCorruptionNeverCrashes)
{
    std::mt19937_64 random(4242); // fixed seed: a failure reproduces
    for (auto const& good :
        { kernel_image(hardened_note).build(), hardened_program().build(), program_with_property_note().build() }) {
        elf::Elf64_Ehdr header;
        std::memcpy(&header, good.data(), sizeof(header));
        // The notes and the dynamic section (with the RELA table after it) are where the parsers walk lists.
        std::vector<std::pair<u64, u64>> lists;
        for (u32 i = 0; i < header.e_phnum; ++i) {
            elf::Elf64_Phdr phdr;
            std::memcpy(&phdr, good.data() + header.e_phoff + i * sizeof(phdr), sizeof(phdr));
            if (phdr.p_type == elf::pt_note || phdr.p_type == elf::pt_dynamic)
                lists.emplace_back(phdr.p_offset, phdr.p_filesz + (phdr.p_type == elf::pt_dynamic ? 48 : 0));
        }
        if (lists.empty())
            lists.emplace_back(0, good.size()); // hardened_program() has neither
        int analysed = 0;
        for (int round = 0; round < 3000; ++round) {
            Bytes copy = good;
            int const changes = 1 + static_cast<int>(random() % 4);
            for (int i = 0; i < changes; ++i) {
                // Most changes hit the tables, where the sizes and offsets are.
                u64 const headers_end = sizeof(header) + header.e_phnum * sizeof(elf::Elf64_Phdr);
                u64 position = 0;
                auto const& list = lists[random() % lists.size()];
                switch (random() % 4) {
                case 0: position = random() % headers_end; break;
                case 1: position = header.e_shoff + random() % (copy.size() - header.e_shoff); break;
                case 2: position = list.first + random() % list.second; break;
                default: position = random() % copy.size(); break;
                }
                copy[position] = static_cast<u8>(random());
            }
            auto report = analyse_binary(copy.data(), copy.size());
            if (report.ok()) {
                ++analysed;
                (void)format_checksec_json(report.value(), "x");
                (void)format_checksec_table(report.value(), "x");
            }
        }
        EXPECT_GT(analysed, 0);
    }
}

TEST(ChecksecOutput, JsonIsOneFlatObjectWithEveryProtection)
{
    auto report = analyse(kernel_image(hardened_note).build());
    std::string json = format_checksec_json(report, "dir/\"odd\"\n.elf");
    EXPECT_EQ(json.front(), '{');
    EXPECT_EQ(json.back(), '}');
    EXPECT_EQ(json.find('\n'), std::string::npos);
    EXPECT_EQ(json.find('{', 1), std::string::npos); // flat: no nested object
    EXPECT_EQ(json.find('['), std::string::npos);
    EXPECT_NE(json.find("\"file\":\"dir/\\\"odd\\\"\\u000a.elf\""), std::string::npos) << json;
    for (char const* key : { "\"pie\":true", "\"nx\":true", "\"wx_free\":true", "\"canary\":true", "\"kasan\":false",
             "\"ubsan\":false", "\"cfi\":false", "\"relro\":true", "\"fortify\":false", "\"hardened_heap\":true",
             "\"kind\":\"kernel\"", "\"canary_method\":\"symbol\"", "\"feature_note\":true",
             "\"note_profile\":\"hardened\"", "\"note_compiler\":\"gcc 12.2.0\"", "\"note_mismatches\":\"\"" })
        EXPECT_NE(json.find(key), std::string::npos) << key << " in " << json;
}

TEST(ChecksecOutput, TableHasOneLinePerProtectionAndTheNote)
{
    auto report = analyse(kernel_image(hardened_note).build());
    std::string table = format_checksec_table(report, "k.elf");
    EXPECT_EQ(table.rfind("k.elf: Kernite kernel image, ET_EXEC", 0), 0u) << table;
    for (char const* line : { "\n  pie            yes ", "\n  canary         yes  2 calls to __stack_chk_fail",
             "\n  kasan          no ", "\n  hardened_heap  yes ", "\n  feature note   version=1 profile=hardened" })
        EXPECT_NE(table.find(line), std::string::npos) << line << " in\n" << table;
}

TEST(ChecksecArguments, ParsesImageProgramAndJson)
{
    auto parse = [](std::vector<char const*> arguments) {
        arguments.insert(arguments.begin(), { "kernite", "checksec" });
        return parse_checksec_arguments(static_cast<int>(arguments.size()), arguments.data(), 2);
    };
    auto options = parse({ "k.elf", "--program", "p", "--json" });
    ASSERT_TRUE(options.ok()) << options.error();
    EXPECT_EQ(options.value().image, "k.elf");
    EXPECT_EQ(options.value().program, "p");
    EXPECT_TRUE(options.value().json);
    options = parse({ "--program=p2", "hardened" });
    ASSERT_TRUE(options.ok());
    EXPECT_EQ(options.value().program, "p2");
    EXPECT_FALSE(options.value().json);
    EXPECT_TRUE(parse({ "--help" }).value().help);
    for (auto const& bad : std::vector<std::vector<char const*>> { {}, { "--json" }, { "a", "b" }, { "a", "--program" },
             { "a", "--program=" }, { "a", "--frob" }, { "a", "--program", "p", "--program", "q" } })
        EXPECT_FALSE(parse(bad).ok());

    char const* argv[] = { "kernite", "checksec", "img", "--json" };
    auto command = parse_command_line(4, argv);
    ASSERT_TRUE(command.ok()) << command.error();
    EXPECT_EQ(command.value().kind, Command::Kind::Checksec);
    EXPECT_EQ(command.value().checksec.image, "img");
}
