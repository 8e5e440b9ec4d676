// ChaCha20 (RFC 8439 §2.3 block function, §2.4 encryption). 32-bit words, little-endian byte order.
// Plain integer code with no tables and no pointers in data: early boot (kernel/boot/early.cpp) calls it before
// the image is relocated.
#pragma once

#include <ktl/types.h>

namespace kernite::rng {

inline constexpr usize chacha20_key_size = 32;
inline constexpr usize chacha20_nonce_size = 12;
inline constexpr usize chacha20_block_size = 64;

// RFC 8439 §2.3: the 64-byte keystream block for (key, block counter, nonce).
void chacha20_block(u8 const (&key)[chacha20_key_size], u32 counter, u8 const (&nonce)[chacha20_nonce_size],
    u8 (&out)[chacha20_block_size]);

// RFC 8439 §2.4: XORs `length` bytes of `in` with the keystream starting at block `counter` into `out`
// (in == out is allowed). Used by the tests against §2.4.2; the generator uses chacha20_block directly.
void chacha20_xor(u8 const (&key)[chacha20_key_size], u32 counter, u8 const (&nonce)[chacha20_nonce_size], u8 const* in,
    u8* out, usize length);

// Zeroes memory in a way the compiler may not drop as a dead store (key and seed erasure).
void secure_zero(void* buffer, usize length);

} // namespace kernite::rng
