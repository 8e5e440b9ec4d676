#include <rng/chacha20.h>

namespace kernite::rng {

namespace {

constexpr u32 rotate_left(u32 value, int bits) { return (value << bits) | (value >> (32 - bits)); }

u32 load32(u8 const* bytes)
{
    return u32(bytes[0]) | (u32(bytes[1]) << 8) | (u32(bytes[2]) << 16) | (u32(bytes[3]) << 24);
}

void store32(u8* bytes, u32 value)
{
    bytes[0] = static_cast<u8>(value);
    bytes[1] = static_cast<u8>(value >> 8);
    bytes[2] = static_cast<u8>(value >> 16);
    bytes[3] = static_cast<u8>(value >> 24);
}

// RFC 8439 §2.1 (the quarter round is KERNITE_CHACHA_QR in chacha20_block).

} // namespace

void chacha20_block(u8 const (&key)[chacha20_key_size], u32 counter, u8 const (&nonce)[chacha20_nonce_size],
    u8 (&out)[chacha20_block_size])
{
    // RFC 8439 §2.3: constants "expand 32-byte k", key, counter, nonce.
    alignas(8) u32 state[16];
    state[0] = 0x61707865;
    state[1] = 0x3320646e;
    state[2] = 0x79622d32;
    state[3] = 0x6b206574;
    for (int i = 0; i < 8; ++i)
        state[4 + i] = load32(key + 4 * i);
    state[12] = counter;
    for (int i = 0; i < 3; ++i)
        state[13 + i] = load32(nonce + 4 * i);

    // The 16 words as locals, not an array: the compiler keeps most of them in registers (about 30% fewer
    // instructions per block, which is boot time on hosts that emulate ring 0).
    u32 x0 = state[0], x1 = state[1], x2 = state[2], x3 = state[3], x4 = state[4], x5 = state[5], x6 = state[6],
        x7 = state[7], x8 = state[8], x9 = state[9], x10 = state[10], x11 = state[11], x12 = state[12], x13 = state[13],
        x14 = state[14], x15 = state[15];
#define KERNITE_CHACHA_QR(a, b, c, d)                                                                                  \
    a += b;                                                                                                            \
    d = rotate_left(d ^ a, 16);                                                                                        \
    c += d;                                                                                                            \
    b = rotate_left(b ^ c, 12);                                                                                        \
    a += b;                                                                                                            \
    d = rotate_left(d ^ a, 8);                                                                                         \
    c += d;                                                                                                            \
    b = rotate_left(b ^ c, 7)
    for (int round = 0; round < 10; ++round) { // 20 rounds: 10 column + 10 diagonal
        KERNITE_CHACHA_QR(x0, x4, x8, x12);
        KERNITE_CHACHA_QR(x1, x5, x9, x13);
        KERNITE_CHACHA_QR(x2, x6, x10, x14);
        KERNITE_CHACHA_QR(x3, x7, x11, x15);
        KERNITE_CHACHA_QR(x0, x5, x10, x15);
        KERNITE_CHACHA_QR(x1, x6, x11, x12);
        KERNITE_CHACHA_QR(x2, x7, x8, x13);
        KERNITE_CHACHA_QR(x3, x4, x9, x14);
    }
#undef KERNITE_CHACHA_QR
    alignas(8) u32 working[16] = { x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15 };
    for (int i = 0; i < 16; ++i)
        store32(out + 4 * i, working[i] + state[i]);
    // The key schedule is key material: do not leave it on the stack.
    secure_zero(state, sizeof(state));
    secure_zero(working, sizeof(working));
}

void chacha20_xor(u8 const (&key)[chacha20_key_size], u32 counter, u8 const (&nonce)[chacha20_nonce_size], u8 const* in,
    u8* out, usize length)
{
    alignas(8) u8 stream[chacha20_block_size];
    for (usize done = 0; done < length; ++counter) {
        chacha20_block(key, counter, nonce, stream);
        for (usize i = 0; i < chacha20_block_size && done < length; ++i, ++done)
            out[done] = in[done] ^ stream[i];
    }
    secure_zero(stream, sizeof(stream));
}

void secure_zero(void* buffer, usize length)
{
    // Word stores where the buffer allows (every caller's buffers do): boot time is instruction count on
    // hosts that emulate guest ring 0 (docs/platform-notes.md).
    auto* bytes = static_cast<u8*>(buffer);
    usize i = 0;
    if (reinterpret_cast<uptr>(bytes) % 8 == 0) {
        for (; i + 8 <= length; i += 8)
            *reinterpret_cast<u64 volatile*>(bytes + i) = 0;
    }
    for (; i < length; ++i)
        static_cast<u8 volatile*>(buffer)[i] = 0;
    asm volatile("" : : "r"(buffer) : "memory");
}

} // namespace kernite::rng
