// The fast-key-erasure generator (libs/rng/include/rng/drbg.h): what it promises, plus a statistical sanity
// check (FIPS 140-2 style monobit and runs tests over 1 MiB; a sanity check, not a proof of quality).
#include <rng/chacha20.h>
#include <rng/drbg.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

using namespace kernite::rng;

namespace {

using Seed = u8[Drbg::key_size];

std::vector<u8> output(Drbg& drbg, size_t length)
{
    std::vector<u8> bytes(length);
    EXPECT_TRUE(drbg.generate(bytes.data(), bytes.size()));
    return bytes;
}

Drbg seeded(u8 fill_byte)
{
    Seed seed;
    std::memset(seed, fill_byte, sizeof(seed));
    Drbg drbg;
    drbg.instantiate(seed);
    return drbg;
}

} // namespace

TEST(Drbg, UnseededRefusesAndWritesNothing)
{
    Drbg drbg;
    u8 buffer[16];
    std::memset(buffer, 0x5a, sizeof(buffer));
    EXPECT_FALSE(drbg.is_seeded());
    EXPECT_FALSE(drbg.generate(buffer, sizeof(buffer)));
    for (u8 byte : buffer)
        EXPECT_EQ(byte, 0x5a);
}

// Documented construction: block 0 of ChaCha20(seed, counter 0, zero nonce); its first half is the next key,
// its second half the first output. An all-zero seed therefore yields RFC 8439 A.1 vector #1's second half:
// predictable (a zero seed is no secret) but never all-zero output.
TEST(Drbg, ZeroSeedGivesChaChaKeystreamNotZeros)
{
    auto drbg = seeded(0);
    auto bytes = output(drbg, 32);
    u8 key[chacha20_key_size] = {};
    u8 nonce[chacha20_nonce_size] = {};
    u8 block[chacha20_block_size];
    chacha20_block(key, 0, nonce, block);
    EXPECT_EQ(std::memcmp(bytes.data(), block + 32, 32), 0);
    EXPECT_EQ(std::memcmp(drbg.key_for_testing(), block, 32), 0);
    EXPECT_NE(std::count(bytes.begin(), bytes.end(), 0), 32);
}

TEST(Drbg, SameSeedSameOutputDifferentSeedDifferentOutput)
{
    auto a = seeded(1), b = seeded(1), c = seeded(2);
    auto out_a = output(a, 100), out_b = output(b, 100), out_c = output(c, 100);
    EXPECT_EQ(out_a, out_b);
    EXPECT_NE(out_a, out_c);
}

TEST(Drbg, KeyIsReplacedOnEveryRefillAndOldOutputCannotBeRecomputed)
{
    auto drbg = seeded(3);
    std::array<u8, 32> before;
    std::memcpy(before.data(), drbg.key_for_testing(), 32);
    auto first = output(drbg, 40); // more than the buffer: a refill
    std::array<u8, 32> after;
    std::memcpy(after.data(), drbg.key_for_testing(), 32);
    EXPECT_NE(before, after);
    // A copy of the state taken now (the attacker's view) produces only later output, never `first` again.
    Drbg copy = drbg;
    auto later = output(copy, 40);
    EXPECT_NE(later, first);
    EXPECT_EQ(output(drbg, 40), later);
}

TEST(Drbg, BufferedBytesAreWipedAsTheyAreHandedOut)
{
    auto drbg = seeded(4);
    (void)output(drbg, 8); // refill: 24 bytes of the block left over
    EXPECT_EQ(drbg.buffered_bytes(), 24u);
    (void)output(drbg, 8);
    EXPECT_EQ(drbg.buffered_bytes(), 16u);
    Drbg copy = drbg;
    // The copy sees the same future, so the handed-out bytes are no longer in the state: its next 16 bytes
    // are the reference's next 16, not the ones already given.
    EXPECT_EQ(output(copy, 16), output(drbg, 16));
}

TEST(Drbg, SmallRequestsConcatenateToTheSameStreamShape)
{
    // Many small requests never repeat a value.
    auto drbg = seeded(5);
    std::vector<u64> values;
    for (int i = 0; i < 4096; ++i) {
        u64 value = 0;
        ASSERT_TRUE(drbg.generate(&value, sizeof(value)));
        values.push_back(value);
    }
    std::sort(values.begin(), values.end());
    EXPECT_EQ(std::adjacent_find(values.begin(), values.end()), values.end());
}

TEST(Drbg, ReseedChangesOutputAndDependsOnInput)
{
    auto a = seeded(6), b = seeded(6), c = seeded(6);
    u8 input_one[20] = { 1 };
    u8 input_two[20] = { 2 };
    a.reseed(input_one, sizeof(input_one));
    b.reseed(input_two, sizeof(input_two));
    auto out_a = output(a, 64), out_b = output(b, 64), out_c = output(c, 64);
    EXPECT_NE(out_a, out_c);
    EXPECT_NE(out_a, out_b);
    // Even an empty or all-zero input changes the state (the key goes through a block).
    auto d = seeded(6);
    d.reseed(nullptr, 0);
    EXPECT_NE(output(d, 64), out_c);
}

TEST(Drbg, AbsorbChangesTheNextOutputWithoutABlock)
{
    auto a = seeded(12), b = seeded(12);
    (void)output(a, 8);
    (void)output(b, 8);
    u8 input[32] = { 0, 0, 1 };
    a.absorb(input, sizeof(input));
    EXPECT_EQ(a.buffered_bytes(), 0u);
    EXPECT_NE(output(a, 8), output(b, 8));
}

// The boot pool (instantiate(seed, pool)): handed out first, byte for byte, wiped as it goes, then the stream of
// the seed's key exactly as without a pool; capped at pool_capacity.
TEST(Drbg, PoolIsTheFirstOutputThenTheSeedsStream)
{
    Seed seed;
    std::memset(seed, 13, sizeof(seed));
    std::array<u8, Drbg::pool_capacity + 8> pool;
    for (size_t i = 0; i < pool.size(); ++i)
        pool[i] = static_cast<u8>(0xa0 + i);
    Drbg with_pool, without;
    with_pool.instantiate(seed, pool.data(), pool.size());
    without.instantiate(seed);
    EXPECT_EQ(with_pool.buffered_bytes(), Drbg::pool_capacity);
    auto first = output(with_pool, 24);
    EXPECT_TRUE(std::equal(first.begin(), first.end(), pool.begin()));
    EXPECT_EQ(with_pool.buffered_bytes(), Drbg::pool_capacity - 24);
    // A copy of the state now has only the rest of the pool, never the bytes handed out.
    Drbg copy = with_pool;
    auto rest = output(copy, Drbg::pool_capacity - 24);
    EXPECT_TRUE(std::equal(rest.begin(), rest.end(), pool.begin() + 24));
    // Past the pool (the 8 bytes beyond capacity were not taken): the seed's own stream.
    EXPECT_EQ(output(copy, 32), output(without, 32));
}

TEST(Drbg, RequestLargerThanThePoolLeftStartsTheStream)
{
    Seed seed;
    std::memset(seed, 14, sizeof(seed));
    u8 pool[16];
    std::memset(pool, 0x77, sizeof(pool));
    Drbg with_pool, without;
    with_pool.instantiate(seed, pool, sizeof(pool));
    without.instantiate(seed);
    // 24 > 16 buffered: the pool is dropped (wiped) and the request comes from the key's stream.
    EXPECT_EQ(output(with_pool, 24), output(without, 24));
    EXPECT_EQ(with_pool.buffered_bytes(), without.buffered_bytes());
}

TEST(Drbg, AbsorbKeepsThePoolButChangesTheStreamAfterIt)
{
    Seed seed;
    std::memset(seed, 15, sizeof(seed));
    u8 pool[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    Drbg a, b;
    a.instantiate(seed, pool, sizeof(pool));
    b.instantiate(seed, pool, sizeof(pool));
    u8 input[32] = { 0, 0, 1 };
    a.absorb(input, sizeof(input));
    EXPECT_EQ(a.buffered_bytes(), sizeof(pool)); // the host's bytes are not the key's: kept as they are
    EXPECT_EQ(output(a, 8), output(b, 8));
    EXPECT_NE(output(a, 32), output(b, 32)); // the key took the material
}

TEST(Drbg, ReseedDropsThePool)
{
    Seed seed;
    std::memset(seed, 16, sizeof(seed));
    u8 pool[32];
    std::memset(pool, 0x33, sizeof(pool));
    Drbg drbg;
    drbg.instantiate(seed, pool, sizeof(pool));
    u8 input[32] = { 9 };
    drbg.reseed(input, sizeof(input));
    EXPECT_EQ(drbg.buffered_bytes(), 0u);
    auto bytes = output(drbg, 32);
    EXPECT_FALSE(std::all_of(bytes.begin(), bytes.end(), [](u8 b) { return b == 0x33; }));
}

TEST(Drbg, ReseedDropsBufferedOutput)
{
    auto a = seeded(7), b = seeded(7);
    (void)output(a, 8);
    (void)output(b, 8);
    u8 input[32] = { 9 };
    a.reseed(input, sizeof(input));
    EXPECT_EQ(a.buffered_bytes(), 0u);
    EXPECT_NE(output(a, 8), output(b, 8));
}

TEST(Drbg, LongMaterialIsMixedInWhole)
{
    auto a = seeded(8), b = seeded(8);
    u8 one[100] = {}, two[100] = {};
    two[99] = 1; // differs only in the last chunk
    a.reseed(one, sizeof(one));
    b.reseed(two, sizeof(two));
    EXPECT_NE(output(a, 32), output(b, 32));
}

TEST(Drbg, InstantiateFromArbitraryMaterial)
{
    Drbg a, b;
    u8 material[5] = { 1, 2, 3, 4, 5 };
    a.instantiate_from(material, sizeof(material));
    b.instantiate_from(material, 4);
    EXPECT_TRUE(a.is_seeded());
    EXPECT_NE(output(a, 32), output(b, 32));
}

TEST(Drbg, ReseedIsRequestedAfterTheInterval)
{
    auto drbg = seeded(9);
    drbg.set_reseed_interval(3, 1u << 20);
    u8 byte;
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(drbg.generate(&byte, 1));
        EXPECT_FALSE(drbg.reseed_requested());
    }
    ASSERT_TRUE(drbg.generate(&byte, 1));
    EXPECT_TRUE(drbg.reseed_requested());
    ASSERT_TRUE(drbg.generate(&byte, 1)); // still works: forward secrecy does not depend on reseeding
    u8 input[32] = {};
    drbg.reseed(input, sizeof(input));
    EXPECT_FALSE(drbg.reseed_requested());
    EXPECT_EQ(drbg.requests_since_reseed(), 0u);

    drbg.set_reseed_interval(1000, 100);
    (void)output(drbg, 99);
    EXPECT_FALSE(drbg.reseed_requested());
    (void)output(drbg, 1);
    EXPECT_TRUE(drbg.reseed_requested());
}

TEST(Drbg, WipeForgetsKeyAndBuffer)
{
    auto drbg = seeded(10);
    (void)output(drbg, 4);
    drbg.wipe();
    EXPECT_FALSE(drbg.is_seeded());
    EXPECT_EQ(drbg.buffered_bytes(), 0u);
    for (int i = 0; i < 32; ++i)
        EXPECT_EQ(drbg.key_for_testing()[i], 0);
}

// FIPS 140-2 (4.9.1) bounds scaled to 1 MiB: monobit within 4.5 sigma of n/2; runs count within 4.5 sigma of
// its expectation; the longest run short. A good generator fails these with probability ~1e-5.
TEST(Drbg, StatisticalSanityOnOneMebibyte)
{
    auto drbg = seeded(11);
    // Mixed request sizes: the buffered path and the streaming path both contribute.
    std::vector<u8> data;
    size_t const total = 1u << 20;
    size_t sizes[] = { 1, 7, 8, 32, 33, 100, 4096 };
    for (size_t i = 0; data.size() < total; ++i) {
        size_t size = std::min(sizes[i % std::size(sizes)], total - data.size());
        auto chunk = output(drbg, size);
        data.insert(data.end(), chunk.begin(), chunk.end());
    }
    double const bits = static_cast<double>(total) * 8;
    u64 ones = 0, runs = 1, longest = 1, current = 1;
    int previous = data[0] & 1;
    bool first = true;
    for (u8 byte : data) {
        for (int bit = 0; bit < 8; ++bit) {
            int value = (byte >> bit) & 1;
            ones += value;
            if (first) {
                first = false;
                continue;
            }
            if (value == previous) {
                longest = std::max(longest, ++current);
            } else {
                ++runs;
                current = 1;
            }
            previous = value;
        }
    }
    double const sigma = std::sqrt(bits) / 2;
    EXPECT_LT(std::fabs(static_cast<double>(ones) - bits / 2), 4.5 * sigma) << ones << " ones";
    double const p = static_cast<double>(ones) / bits;
    double const expected_runs = 2 * bits * p * (1 - p);
    double const runs_sigma = 2 * std::sqrt(2 * bits) * p * (1 - p);
    EXPECT_LT(std::fabs(static_cast<double>(runs) - expected_runs), 4.5 * runs_sigma) << runs << " runs";
    EXPECT_LT(longest, 40u); // expected ~23 for 8 Mbit
    // Byte frequencies: chi-square with 255 degrees of freedom, far below a 1e-6 tail (~370).
    std::array<u64, 256> counts {};
    for (u8 byte : data)
        ++counts[byte];
    double const expected = static_cast<double>(total) / 256;
    double chi = 0;
    for (u64 count : counts)
        chi += (static_cast<double>(count) - expected) * (static_cast<double>(count) - expected) / expected;
    EXPECT_LT(chi, 370.0);
}
