// ChaCha20 against RFC 8439: §2.3.2 (block function), §2.4.2 (encryption), Appendix A.1 (block vectors).
#include <rng/chacha20.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <string>
#include <vector>

using namespace kernite::rng;

namespace {

std::vector<u8> from_hex(std::string const& text)
{
    std::vector<u8> bytes;
    std::string digits;
    for (char c : text) {
        if (std::isxdigit(static_cast<unsigned char>(c)))
            digits += c;
    }
    for (size_t i = 0; i + 1 < digits.size(); i += 2)
        bytes.push_back(static_cast<u8>(std::stoul(digits.substr(i, 2), nullptr, 16)));
    return bytes;
}

template<size_t N>
void fill(u8 (&array)[N], std::vector<u8> const& bytes)
{
    ASSERT_EQ(bytes.size(), N);
    std::memcpy(array, bytes.data(), N);
}

std::vector<u8> block(std::vector<u8> const& key_bytes, u32 counter, std::vector<u8> const& nonce_bytes)
{
    u8 key[chacha20_key_size];
    u8 nonce[chacha20_nonce_size];
    fill(key, key_bytes);
    fill(nonce, nonce_bytes);
    u8 out[chacha20_block_size];
    chacha20_block(key, counter, nonce, out);
    return std::vector<u8>(out, out + sizeof(out));
}

std::vector<u8> sequence_key() // 00:01:02:...:1f
{
    std::vector<u8> key(32);
    for (size_t i = 0; i < key.size(); ++i)
        key[i] = static_cast<u8>(i);
    return key;
}

} // namespace

TEST(ChaCha20, Rfc8439Section232Block)
{
    auto expected = from_hex("10 f1 e7 e4 d1 3b 59 15 50 0f dd 1f a3 20 71 c4"
                             "c7 d1 f4 c7 33 c0 68 03 04 22 aa 9a c3 d4 6c 4e"
                             "d2 82 64 46 07 9f aa 09 14 c2 d7 05 d9 8b 02 a2"
                             "b5 12 9c d1 de 16 4e b9 cb d0 83 e8 a2 50 3c 4e");
    EXPECT_EQ(block(sequence_key(), 1, from_hex("00 00 00 09 00 00 00 4a 00 00 00 00")), expected);
}

TEST(ChaCha20, Rfc8439Section242Encryption)
{
    std::string const plaintext = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
                                  "the future, sunscreen would be it.";
    auto expected = from_hex("6e 2e 35 9a 25 68 f9 80 41 ba 07 28 dd 0d 69 81"
                             "e9 7e 7a ec 1d 43 60 c2 0a 27 af cc fd 9f ae 0b"
                             "f9 1b 65 c5 52 47 33 ab 8f 59 3d ab cd 62 b3 57"
                             "16 39 d6 24 e6 51 52 ab 8f 53 0c 35 9f 08 61 d8"
                             "07 ca 0d bf 50 0d 6a 61 56 a3 8e 08 8a 22 b6 5e"
                             "52 bc 51 4d 16 cc f8 06 81 8c e9 1a b7 79 37 36"
                             "5a f9 0b bf 74 a3 5b e6 b4 0b 8e ed f2 78 5e 42"
                             "87 4d");
    ASSERT_EQ(plaintext.size(), 114u);
    u8 key[chacha20_key_size];
    u8 nonce[chacha20_nonce_size];
    fill(key, sequence_key());
    fill(nonce, from_hex("00 00 00 00 00 00 00 4a 00 00 00 00"));
    std::vector<u8> out(plaintext.size());
    chacha20_xor(key, 1, nonce, reinterpret_cast<u8 const*>(plaintext.data()), out.data(), out.size());
    EXPECT_EQ(out, expected);
    // Decryption is the same operation, in place.
    chacha20_xor(key, 1, nonce, out.data(), out.data(), out.size());
    EXPECT_EQ(std::string(out.begin(), out.end()), plaintext);
}

struct A1Vector {
    char const* key;
    u32 counter;
    char const* nonce;
    char const* keystream;
};

TEST(ChaCha20, Rfc8439AppendixA1)
{
    std::string const zero_key(64, '0');
    std::string const zero_nonce(24, '0');
    A1Vector const vectors[] = {
        { zero_key.c_str(), 0, zero_nonce.c_str(),
            "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
            "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586" },
        { zero_key.c_str(), 1, zero_nonce.c_str(),
            "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"
            "29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f" },
        { "0000000000000000000000000000000000000000000000000000000000000001", 1, zero_nonce.c_str(),
            "3aeb5224ecf849929b9d828db1ced4dd832025e8018b8160b82284f3c949aa5a"
            "8eca00bbb4a73bdad192b5c42f73f2fd4e273644c8b36125a64addeb006c13a0" },
        { "00ff000000000000000000000000000000000000000000000000000000000000", 2, zero_nonce.c_str(),
            "72d54dfbf12ec44b362692df94137f328fea8da73990265ec1bbbea1ae9af0ca"
            "13b25aa26cb4a648cb9b9d1be65b2c0924a66c54d545ec1b7374f4872e99f096" },
        { zero_key.c_str(), 0, "000000000000000000000002",
            "c2c64d378cd536374ae204b9ef933fcd1a8b2288b3dfa49672ab765b54ee27c7"
            "8a970e0e955c14f3a88e741b97c286f75f8fc299e8148362fa198a39531bed6d" },
    };
    for (auto const& vector : vectors)
        EXPECT_EQ(block(from_hex(vector.key), vector.counter, from_hex(vector.nonce)), from_hex(vector.keystream))
            << "key " << vector.key << " counter " << vector.counter;
}

TEST(ChaCha20, XorAcrossBlockBoundariesMatchesBlocks)
{
    u8 key[chacha20_key_size] = { 7 };
    u8 nonce[chacha20_nonce_size] = { 1, 2, 3 };
    std::vector<u8> zeros(200), stream(200);
    chacha20_xor(key, 5, nonce, zeros.data(), stream.data(), stream.size());
    for (u32 i = 0; i < 4; ++i) {
        u8 out[chacha20_block_size];
        chacha20_block(key, 5 + i, nonce, out);
        size_t count = std::min<size_t>(64, 200 - i * 64);
        EXPECT_EQ(std::memcmp(out, stream.data() + i * 64, count), 0) << "block " << i;
    }
}

TEST(ChaCha20, SecureZeroClears)
{
    u8 buffer[33];
    std::memset(buffer, 0xa5, sizeof(buffer));
    secure_zero(buffer, sizeof(buffer));
    for (u8 byte : buffer)
        EXPECT_EQ(byte, 0);
}
