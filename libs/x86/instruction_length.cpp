#include <x86/instruction_length.h>

namespace kernite::x86 {

namespace {

// Immediate kinds.
enum Immediate : u8 {
    None,
    Byte,       // imm8, rel8
    Word,       // imm16
    Full,       // imm16 with 66, else imm32 (also rel32: 66 is ignored for near branches in 64-bit mode)
    Enter,      // imm16 + imm8
    Moffs,      // an address: 8 bytes, 4 with 67
    FullOr64,   // B8-BF: imm64 with REX.W, else Full
    Group3,     // F6/F7: an immediate only for /0 and /1 (test)
};

struct OneByte {
    bool modrm;
    Immediate immediate;
    bool invalid;
};

// The one-byte opcode map in 64-bit mode (SDM Vol. 2D Table A-2). Prefixes (26 2E 36 3E 40-4F 64-67 F0 F2 F3) and
// escapes (0F C4 C5 62) are handled before this table is used.
constexpr OneByte one_byte(u8 op)
{
    if (op < 0x40) {
        u8 low = op & 7;
        if (op == 0x0f)
            return { false, None, true }; // escape, handled earlier
        if (low < 4)
            return { true, None, false };
        if (low == 4)
            return { false, Byte, false };
        if (low == 5)
            return { false, Full, false };
        return { false, None, true }; // push/pop seg, daa.., and segment prefixes (handled earlier): invalid here
    }
    if (op < 0x50)
        return { false, None, true }; // REX: handled earlier
    if (op < 0x60)
        return { false, None, false }; // push/pop r64
    switch (op) {
    case 0x60: case 0x61: case 0x62: return { false, None, true };
    case 0x63: return { true, None, false };
    case 0x68: return { false, Full, false };
    case 0x69: return { true, Full, false };
    case 0x6a: return { false, Byte, false };
    case 0x6b: return { true, Byte, false };
    case 0x80: case 0x83: return { true, Byte, false };
    case 0x81: return { true, Full, false };
    case 0x82: return { false, None, true };
    case 0x9a: return { false, None, true };
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: return { false, Moffs, false };
    case 0xa8: return { false, Byte, false };
    case 0xa9: return { false, Full, false };
    case 0xc0: case 0xc1: return { true, Byte, false };
    case 0xc2: return { false, Word, false };
    case 0xc6: return { true, Byte, false };
    case 0xc7: return { true, Full, false };
    case 0xc8: return { false, Enter, false };
    case 0xca: return { false, Word, false };
    case 0xcd: return { false, Byte, false };
    case 0xce: case 0xd4: case 0xd5: case 0xd6: case 0xea: return { false, None, true };
    case 0xe8: case 0xe9: return { false, Full, false };
    case 0xf6: case 0xf7: return { true, Group3, false };
    default: break;
    }
    if (op >= 0x6c && op <= 0x6f)
        return { false, None, false };
    if (op >= 0x70 && op <= 0x7f)
        return { false, Byte, false };
    if (op >= 0x84 && op <= 0x8f)
        return { true, None, false };
    if (op >= 0x90 && op <= 0x9f)
        return { false, None, false };
    if (op >= 0xa4 && op <= 0xaf)
        return { false, None, false };
    if (op >= 0xb0 && op <= 0xb7)
        return { false, Byte, false };
    if (op >= 0xb8 && op <= 0xbf)
        return { false, FullOr64, false };
    if (op >= 0xd0 && op <= 0xd3)
        return { true, None, false };
    if (op >= 0xd8 && op <= 0xdf)
        return { true, None, false }; // x87
    if (op >= 0xe0 && op <= 0xe3)
        return { false, Byte, false };
    if (op >= 0xe4 && op <= 0xe7)
        return { false, Byte, false };
    if (op == 0xeb)
        return { false, Byte, false };
    if (op == 0xfe || op == 0xff)
        return { true, None, false };
    return { false, None, false }; // c3 c9 cb cc cf d7 ec-ef f1 f4 f5 f8-fd
}

// The two-byte map (0F xx, SDM Vol. 2D Table A-3): which opcodes have no ModRM, and which take an immediate.
bool two_byte_has_modrm(u8 op)
{
    switch (op) {
    case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x0b: case 0x0e:
    case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x37:
    case 0x77: case 0xa0: case 0xa1: case 0xa2: case 0xa8: case 0xa9: case 0xaa:
        return false;
    default:
        break;
    }
    if (op >= 0x80 && op <= 0x8f)
        return false; // jcc rel32
    if (op >= 0xc8 && op <= 0xcf)
        return false; // bswap
    return true;
}

Immediate two_byte_immediate(u8 op)
{
    if (op >= 0x80 && op <= 0x8f)
        return Full;
    switch (op) {
    case 0x70: case 0x71: case 0x72: case 0x73: case 0xa4: case 0xac: case 0xba:
    case 0xc2: case 0xc4: case 0xc5: case 0xc6:
        return Byte;
    default:
        return None;
    }
}

// VEX/EVEX map 1 (0F) opcodes with an imm8; map 3 (0F3A) always has one.
bool vex_map1_has_imm8(u8 op)
{
    return (op >= 0x70 && op <= 0x73) || op == 0xc2 || op == 0xc4 || op == 0xc5 || op == 0xc6;
}

// ModRM, then SIB and displacement (SDM Vol. 2A §2.1.5, Tables 2-2 and 2-3; 64-bit mode: the 32-bit forms with
// 67, the same lengths). Returns the bytes after the opcode they take, or 0 when out of bytes.
usize modrm_length(u8 const* bytes, usize available)
{
    if (available < 1)
        return 0;
    u8 modrm = bytes[0];
    u8 mod = modrm >> 6, rm = modrm & 7;
    usize length = 1;
    if (mod == 3)
        return length;
    if (rm == 4) {
        if (available < 2)
            return 0;
        u8 base = bytes[1] & 7;
        length += 1;
        if (mod == 0 && base == 5)
            length += 4;
    } else if (mod == 0 && rm == 5) {
        length += 4; // RIP-relative
    }
    if (mod == 1)
        length += 1;
    else if (mod == 2)
        length += 4;
    return length;
}

} // namespace

usize instruction_length(u8 const* bytes, usize available)
{
    usize limit = available < max_instruction_length ? available : max_instruction_length;
    usize i = 0;
    bool operand_size = false, address_size = false, rex_w = false;
    // Legacy prefixes, in any order (SDM Vol. 2A §2.1.1), then at most one REX right before the opcode.
    for (;; ++i) {
        if (i >= limit)
            return 0;
        u8 b = bytes[i];
        if (b == 0x66)
            operand_size = true;
        else if (b == 0x67)
            address_size = true;
        else if (b == 0xf0 || b == 0xf2 || b == 0xf3 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x26
            || b == 0x64 || b == 0x65)
            continue;
        else
            break;
    }
    if ((bytes[i] & 0xf0) == 0x40) {
        rex_w = bytes[i] & 8;
        if (++i >= limit)
            return 0;
    }
    u8 op = bytes[i++];
    Immediate immediate = None;
    bool modrm = false;
    if (op == 0xc4 || op == 0xc5 || op == 0x62) {
        // VEX (C4: 2 more prefix bytes, map in the low 5 bits of the first; C5: 1, map 0F) and EVEX (62: 3, map
        // in the low 3 bits of the first), all always valid in 64-bit mode (SDM Vol. 2A §2.3, §2.7).
        usize payload = op == 0xc5 ? 1 : op == 0xc4 ? 2 : 3;
        if (i + payload >= limit)
            return 0;
        u8 map = op == 0xc5 ? 1 : op == 0xc4 ? (bytes[i] & 0x1f) : (bytes[i] & 0x07);
        i += payload;
        u8 vop = bytes[i++];
        modrm = !(map == 1 && vop == 0x77); // vzeroupper/vzeroall have no ModRM

        if (map == 3 || (map == 1 && vex_map1_has_imm8(vop)))
            immediate = Byte;
        else if (map == 0 || map > 7)
            return 0;
    } else if (op == 0x0f) {
        if (i >= limit)
            return 0;
        u8 second = bytes[i++];
        if (second == 0x38 || second == 0x3a) {
            if (i >= limit)
                return 0;
            ++i; // the third opcode byte
            modrm = true;
            immediate = second == 0x3a ? Byte : None;
        } else if (second == 0x0f) {
            modrm = true; // 3DNow!: ModRM, then the opcode as an imm8 suffix
            immediate = Byte;
        } else {
            modrm = two_byte_has_modrm(second);
            immediate = two_byte_immediate(second);
        }
    } else {
        auto entry = one_byte(op);
        if (entry.invalid)
            return 0;
        modrm = entry.modrm;
        immediate = entry.immediate;
        if (immediate == Group3) {
            if (i >= limit)
                return 0;
            u8 reg = (bytes[i] >> 3) & 7;
            immediate = reg <= 1 ? (op == 0xf6 ? Byte : Full) : None;
        }
    }
    if (modrm) {
        usize length = modrm_length(bytes + i, limit - i);
        if (length == 0)
            return 0;
        i += length;
    }
    usize size = 0;
    switch (immediate) {
    case None: size = 0; break;
    case Byte: size = 1; break;
    case Word: size = 2; break;
    case Full: size = (operand_size && !rex_w) ? 2 : 4; break;
    case Enter: size = 3; break;
    case Moffs: size = address_size ? 4 : 8; break;
    case FullOr64: size = rex_w ? 8 : (operand_size ? 2 : 4); break;
    case Group3: size = 0; break;
    }
    i += size;
    if (i > limit)
        return 0;
    return i;
}

bool ends_with_hlt_at(u8 const* window, usize window_size, usize target, usize starts, usize quorum)
{
    if (target >= window_size || window[target] != hlt_opcode)
        return false;
    usize votes_for = 0, votes_against = 0;
    for (usize start = 0; start < starts && start <= target; ++start) {
        usize offset = start;
        bool valid = true;
        while (offset < target) {
            usize length = instruction_length(window + offset, window_size - offset);
            if (length == 0) {
                valid = false;
                break;
            }
            offset += length;
        }
        if (!valid)
            continue;
        if (offset == target)
            ++votes_for;
        else
            ++votes_against;
    }
    return votes_for >= quorum && votes_for > votes_against;
}

} // namespace kernite::x86
