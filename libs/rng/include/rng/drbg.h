// The kernel's deterministic random bit generator: ChaCha20 with "fast key erasure" (D. J. Bernstein,
// https://blog.cr.yp.to/20170723-random.html).
//
// - generate(): one ChaCha20 block stream from the current key (counter 0, 1, ..., zero nonce). Its first
//   32 bytes replace the key at once, the rest is output. Output already handed out cannot be recomputed from
//   a later state (forward secrecy). The unused tail of the last block is kept as a small buffer for the next
//   small request (future output, not past); each byte is wiped as it is handed out.
// - reseed(): mixes new entropy into the key: for each 32-byte chunk, key = ChaCha20(key XOR chunk, counter =
//   chunk index, nonce = "kernite-mix" domain + length) block's first 32 bytes. The buffer is dropped, so the
//   next output depends on the new input. (A source that knew the current key could cancel it in the XOR;
//   the seed from the host is mixed first for that reason.)
// - A reseed is *requested* (reseed_requested()) after `reseed_interval_requests` requests or
//   `reseed_interval_bytes` bytes; the generator keeps working, the caller reseeds from its sources.
//
// - instantiate(seed, pool): the key is the seed and the buffer is `pool` (more host getrandom bytes), handed out
//   first and wiped as it goes, so the first pool_capacity bytes cost no block (the boot's canary, region bases
//   and heap secrets: a block is ~2,000 instructions, emulated at ~1 us each where guest ring 0 is emulated).
//   absorb() leaves pool bytes alone (they never depended on the key); a reseed drops them like any buffer.
//
// Promises (tested in tests/host/rng): the output is a deterministic function of the seed, the pool and the reseed
// inputs;
// an all-zero seed gives ChaCha20's keystream (never all-zero output) but is no secret: the kernel refuses to
// boot without a real source. generate() before any seed returns false and writes nothing.
// Freestanding, no heap, not thread-safe (the caller holds a lock).
#pragma once

#include <ktl/types.h>
#include <rng/chacha20.h>

namespace kernite::rng {

class Drbg {
public:
    static constexpr u64 default_reseed_interval_requests = 1u << 16;
    static constexpr u64 default_reseed_interval_bytes = 1u << 20;
    static constexpr usize key_size = chacha20_key_size;
    static constexpr usize pool_capacity = 64;

    // Takes 32 bytes of uniformly random seed material (host getrandom output) as the key, and up to
    // pool_capacity more such bytes (`pool`, may be empty) as the first output.
    void instantiate(u8 const (&seed)[key_size], u8 const* pool = nullptr, usize pool_length = 0);
    // Starts from an all-zero key and mixes `material` in: for seeds that are not 32 uniform bytes.
    void instantiate_from(u8 const* material, usize length);
    void reseed(u8 const* material, usize length);
    // The cheap mix used at boot: XORs up to 32 bytes of independent entropy into the key and drops buffered
    // generator output, so the next block (which replaces the key) depends on both. Buffered pool bytes stay:
    // they are the host's, independent of the key, and mixing the material into them would let whoever knows
    // the pool read the material off the output. Costs no ChaCha20 block. Sound when the material is
    // independent of the key (a source that could read the key could cancel it).
    void absorb(u8 const* material, usize length);

    [[nodiscard]] bool generate(void* output, usize length);

    bool is_seeded() const { return m_seeded; }
    bool reseed_requested() const
    {
        return m_requests_since_reseed >= m_reseed_interval_requests || m_bytes_since_reseed >= m_reseed_interval_bytes;
    }
    void set_reseed_interval(u64 requests, u64 bytes)
    {
        m_reseed_interval_requests = requests;
        m_reseed_interval_bytes = bytes;
    }
    u64 requests_since_reseed() const { return m_requests_since_reseed; }
    u64 reseed_count() const { return m_reseed_count; }
    usize buffered_bytes() const { return m_buffered; }

    // For tests: the current key (to check it changes and that old keys are gone).
    u8 const* key_for_testing() const { return m_key; }

    void wipe();

private:
    alignas(8) u8 m_key[key_size] {};
    // Unused output of the last block, or the pool; the last m_buffered bytes are valid.
    alignas(8) u8 m_buffer[pool_capacity > chacha20_block_size - key_size ? pool_capacity : chacha20_block_size - key_size] {};
    usize m_buffered { 0 };
    bool m_buffer_is_pool { false };
    bool m_seeded { false };
    u64 m_requests_since_reseed { 0 };
    u64 m_bytes_since_reseed { 0 };
    u64 m_reseed_count { 0 };
    u64 m_reseed_interval_requests { default_reseed_interval_requests };
    u64 m_reseed_interval_bytes { default_reseed_interval_bytes };
};

} // namespace kernite::rng
