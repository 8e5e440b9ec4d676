#include <rng/drbg.h>

namespace kernite::rng {

namespace {

// Word copies where both sides allow: on hosts that emulate guest ring 0 every instruction at boot counts.
void copy(u8* destination, u8 const* source, usize length)
{
    usize i = 0;
    if ((reinterpret_cast<uptr>(destination) | reinterpret_cast<uptr>(source)) % 8 == 0) {
        for (; i + 8 <= length; i += 8)
            __builtin_memcpy(destination + i, source + i, 8);
    }
    for (; i < length; ++i)
        destination[i] = source[i];
}

} // namespace

void Drbg::instantiate(u8 const (&seed)[key_size], u8 const* pool, usize pool_length)
{
    wipe();
    copy(m_key, seed, key_size);
    if (pool_length > sizeof(m_buffer))
        pool_length = sizeof(m_buffer);
    if (pool && pool_length) {
        copy(m_buffer + sizeof(m_buffer) - pool_length, pool, pool_length);
        m_buffered = pool_length;
        m_buffer_is_pool = true;
    }
    m_seeded = true;
}

void Drbg::instantiate_from(u8 const* material, usize length)
{
    wipe();
    reseed(material, length);
}

void Drbg::reseed(u8 const* material, usize length)
{
    u8 nonce[chacha20_nonce_size] = { 'k', 'e', 'r', 'n', 'i', 't', 'e', '-' };
    u64 const length64 = length;
    for (int i = 0; i < 4; ++i)
        nonce[8 + i] = static_cast<u8>(length64 >> (8 * i));
    alignas(8) u8 block[chacha20_block_size];
    usize offset = 0;
    u32 chunk = 0;
    do {
        alignas(8) u8 mixed[key_size];
        copy(mixed, m_key, key_size);
        for (usize i = 0; i < key_size && offset + i < length; ++i)
            mixed[i] ^= material[offset + i];
        chacha20_block(mixed, chunk, nonce, block);
        copy(m_key, block, key_size);
        secure_zero(mixed, sizeof(mixed));
        offset += key_size;
        ++chunk;
    } while (offset < length);
    secure_zero(block, sizeof(block));
    secure_zero(m_buffer, sizeof(m_buffer));
    m_buffered = 0;
    m_buffer_is_pool = false;
    m_seeded = true;
    m_requests_since_reseed = 0;
    m_bytes_since_reseed = 0;
    ++m_reseed_count;
}

void Drbg::absorb(u8 const* material, usize length)
{
    if (length > key_size)
        length = key_size;
    usize i = 0;
    for (; i + 8 <= length; i += 8) { // word-wise: boot time is instruction count (docs/platform-notes.md)
        u64 key_word, material_word;
        __builtin_memcpy(&key_word, m_key + i, 8);
        __builtin_memcpy(&material_word, material + i, 8);
        key_word ^= material_word;
        __builtin_memcpy(m_key + i, &key_word, 8);
    }
    for (; i < length; ++i)
        m_key[i] ^= material[i];
    if (!m_buffer_is_pool) {
        secure_zero(m_buffer, sizeof(m_buffer));
        m_buffered = 0;
    }
}

bool Drbg::generate(void* output, usize length)
{
    if (!m_seeded)
        return false;
    auto* out = static_cast<u8*>(output);
    ++m_requests_since_reseed;
    m_bytes_since_reseed += length;

    // Small requests come from the buffer: its bytes were made by a key that is already gone.
    if (length <= m_buffered) {
        u8* source = m_buffer + sizeof(m_buffer) - m_buffered;
        copy(out, source, length);
        secure_zero(source, length);
        m_buffered -= length;
        return true;
    }
    // Otherwise a fresh stream: block 0's first 32 bytes become the key at once (the old one is overwritten
    // before any output leaves), the rest of the stream is output, and the last block's tail the new buffer.
    secure_zero(m_buffer, sizeof(m_buffer));
    m_buffered = 0;
    m_buffer_is_pool = false;
    u8 const zero_nonce[chacha20_nonce_size] = {};
    alignas(8) u8 key[key_size];
    copy(key, m_key, key_size);
    alignas(8) u8 block[chacha20_block_size];
    chacha20_block(key, 0, zero_nonce, block);
    copy(m_key, block, key_size);
    usize done = 0;
    usize offset = key_size;
    u32 counter = 1;
    while (true) {
        usize take = chacha20_block_size - offset;
        if (take > length - done)
            take = length - done;
        copy(out + done, block + offset, take);
        done += take;
        offset += take;
        if (done == length)
            break;
        chacha20_block(key, counter++, zero_nonce, block);
        offset = 0;
    }
    // The tail of the last block that was not handed out is future output.
    usize left = chacha20_block_size - offset;
    if (left > sizeof(m_buffer))
        left = sizeof(m_buffer);
    copy(m_buffer + sizeof(m_buffer) - left, block + chacha20_block_size - left, left);
    m_buffered = left;
    secure_zero(block, sizeof(block));
    secure_zero(key, sizeof(key));
    return true;
}

void Drbg::wipe()
{
    secure_zero(m_key, sizeof(m_key));
    secure_zero(m_buffer, sizeof(m_buffer));
    m_buffered = 0;
    m_buffer_is_pool = false;
    m_seeded = false;
    m_requests_since_reseed = 0;
    m_bytes_since_reseed = 0;
}

} // namespace kernite::rng
