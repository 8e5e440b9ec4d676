// Page-table builder with the W^X rules built in. Architecture-independent: it only needs an environment
// (`Env`) that allocates zeroed table pages and turns a table's physical address into a pointer. The kernel
// instantiates it twice (early boot on the identity map, later on the direct map); unit tests use host memory.
//
// Rules enforced here, not by callers (docs/security-model.md, "W^X"):
//   - no mapping is ever both writable and executable (refused with EACCES);
//   - the page at virtual 0 (and the whole first 64 KiB) is never mapped (refused with EPERM);
//   - a present mapping is never silently replaced (EEXIST): permission changes go through protect();
//   - every address is canonical and page-aligned; lengths are overflow-checked (EINVAL).
// Templates, not virtual functions: the early-boot instance runs before relocation, where an indirect call
// through a relocated vtable would jump to an address that is not mapped yet.
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>
#include <paging/pte.h>

namespace kernite::paging {

enum Access : u8 {
    AccessRead = 1 << 0,
    AccessWrite = 1 << 1,
    AccessExecute = 1 << 2,
    AccessUser = 1 << 3,
    AccessGlobal = 1 << 4,
};

inline constexpr u64 null_guard_size = 64 * 1024; // never mapped: catches null + small offsets

struct Translation {
    u64 phys;
    u64 page_size;
    u8 access;
};

// Env concept:
//   ErrorOr<u64> allocate_table();      // physical address of a zeroed, page-aligned page
//   void free_table(u64 phys);
//   PageTableEntry* table(u64 phys);    // pointer to that page's 512 entries
template<typename Env>
class AddressSpace {
public:
    constexpr AddressSpace(Env& env, u64 root_phys)
        : m_env(&env)
        , m_root(root_phys)
    {
    }

    static ErrorOr<AddressSpace> create(Env& env)
    {
        u64 root = TRY(env.allocate_table());
        return AddressSpace(env, root);
    }

    u64 root() const { return m_root; }

    // Maps [virt, virt+length) to [phys, phys+length). Uses 2 MiB pages where both addresses are aligned and
    // `allow_large` is set.
    ErrorOr<void> map(u64 virt, u64 phys, u64 length, u8 access, bool allow_large = false)
    {
        TRY(check_range(virt, length));
        if (phys % page_size != 0)
            return Error::from_errno(EINVAL, "physical address not page-aligned");
        u64 phys_end = 0;
        if (!ktl::checked_add(phys, length, &phys_end))
            return Error::from_errno(EINVAL, "physical range overflows");
        TRY(check_access(access));
        u64 offset = 0;
        while (offset < length) {
            u64 v = virt + offset;
            u64 p = phys + offset;
            u64 remaining = length - offset;
            if (allow_large && v % large_page_size == 0 && p % large_page_size == 0 && remaining >= large_page_size) {
                offset += TRY(map_leaf_run(v, p, remaining, access, 2));
            } else {
                offset += TRY(map_leaf_run(v, p, remaining, access, 1));
            }
        }
        return {};
    }

    // Changes the access of already-mapped 4 KiB pages (2 MiB pages in range are split).
    ErrorOr<void> protect(u64 virt, u64 length, u8 access)
    {
        TRY(check_range(virt, length));
        TRY(check_access(access));
        for (u64 offset = 0; offset < length; offset += page_size) {
            PageTableEntry* entry = TRY(leaf_for(virt + offset, true));
            if (!entry->is_present())
                return Error::from_errno(ENOENT, "protect of an unmapped page");
            entry->raw = make_entry(entry->address(), access, false);
        }
        return {};
    }

    // Removes 4 KiB mappings (2 MiB pages in range are split). Unmapped pages in range are fine.
    ErrorOr<void> unmap(u64 virt, u64 length)
    {
        TRY(check_range(virt, length));
        for (u64 offset = 0; offset < length; offset += page_size) {
            auto entry_or_error = leaf_for(virt + offset, true);
            if (entry_or_error.is_error())
                continue;
            entry_or_error.value()->raw = 0;
        }
        return {};
    }

    ErrorOr<Translation> translate(u64 virt) const
    {
        if (!is_canonical(virt))
            return Error::from_errno(EINVAL, "non-canonical address");
        u64 table_phys = m_root;
        for (unsigned level = 4; level >= 1; --level) {
            PageTableEntry entry = m_env->table(table_phys)[table_index(virt, level)];
            if (!entry.is_present())
                return Error::from_errno(ENOENT, "not mapped");
            if (level == 1 || (level == 2 && entry.is_huge())) {
                u64 size = level == 1 ? page_size : large_page_size;
                u64 base = level == 1 ? entry.address() : entry.large_address();
                return Translation { base + (virt & (size - 1)), size, access_of(entry) };
            }
            if (entry.is_huge())
                return Error::from_errno(ENOTSUP, "1 GiB pages are not used");
            table_phys = entry.address();
        }
        VERIFY_NOT_REACHED();
    }

    // Visits every present 4 KiB leaf in [start, end) (page-aligned, canonical, not crossing halves), skipping
    // absent tables a whole table at a time: the cost follows what is mapped, not the range's size (a program
    // unmapping a 1 GiB reservation it touched twice must not walk 262144 entries). The visitor may clear the
    // entry or rewrite it with set_leaf(). Visitor: void(u64 virt, PageTableEntry& leaf). 2 MiB leaves in the
    // range are not visited (the program half never has them).
    template<typename Visitor>
    void for_each_leaf_in_range(u64 start, u64 end, Visitor visitor)
    {
        visit_range(m_root, 4, start, end, visitor);
    }

    // Rewrites a present leaf's access, keeping its frame (the W^X rule still holds).
    static ErrorOr<void> set_leaf(PageTableEntry& leaf, u8 access)
    {
        TRY(check_access(access));
        leaf.raw = make_entry(leaf.address(), access, false);
        return {};
    }

    // Walks every present leaf. Visitor: void(u64 virt, u64 phys, u64 size, u8 access).
    template<typename Visitor>
    void for_each_mapping(Visitor visitor) const { walk(m_root, 4, 0, visitor); }

    // The audit the kernel runs after building its tables and the unit tests run after every scenario:
    // counts leaves that are writable and executable at once, and leaves covering the null guard.
    struct Audit {
        u64 writable_and_executable { 0 };
        u64 null_guard_mapped { 0 };
        u64 leaves { 0 };
    };
    Audit audit() const
    {
        Audit result;
        for_each_mapping([&](u64 virt, u64, u64 size, u8 access) {
            ++result.leaves;
            if ((access & AccessWrite) && (access & AccessExecute))
                ++result.writable_and_executable;
            if (virt < null_guard_size && virt + size > 0)
                ++result.null_guard_mapped;
        });
        return result;
    }

    // Clears the top-level entries [first, last] and frees every table below them (leaf frames are not
    // owned by the address space and are left alone).
    void release_top_level_range(unsigned first, unsigned last)
    {
        PageTableEntry* root = m_env->table(m_root);
        for (unsigned i = first; i <= last && i < entries_per_table; ++i) {
            if (root[i].is_present())
                free_subtree(root[i].address(), 3);
            root[i].raw = 0;
        }
    }

    // Removes the top-level entry covering `virt` and frees the single chain of tables under it (PDPT, PD, PT)
    // that leads to `virt`. For a subtree known to hold one path only, such as early boot's temporary identity
    // map of the kernel text: no scan of 512-entry tables. Leaf frames are not freed.
    void release_single_path(u64 virt)
    {
        PageTableEntry* root = m_env->table(m_root);
        PageTableEntry& top = root[table_index(virt, 4)];
        if (!top.is_present())
            return;
        u64 tables[3] = { top.address(), 0, 0 };
        unsigned count = 1;
        for (unsigned level = 3; level > 1 && count < 3; --level) {
            PageTableEntry entry = m_env->table(tables[count - 1])[table_index(virt, level)];
            if (!entry.is_present() || entry.is_huge())
                break;
            tables[count++] = entry.address();
        }
        top.raw = 0;
        for (unsigned i = 0; i < count; ++i)
            m_env->free_table(tables[i]);
    }

    static u8 access_of(PageTableEntry entry)
    {
        u8 access = AccessRead;
        if (entry.is_writable())
            access |= AccessWrite;
        if (entry.is_executable())
            access |= AccessExecute;
        if (entry.is_user())
            access |= AccessUser;
        if (entry.raw & PageTableEntry::global)
            access |= AccessGlobal;
        return access;
    }

private:
    static ErrorOr<void> check_access(u8 access)
    {
        if (!(access & AccessRead))
            return Error::from_errno(EINVAL, "mappings are always readable on x86-64");
        if ((access & AccessWrite) && (access & AccessExecute))
            return Error::from_errno(EACCES, "W^X: mapping would be writable and executable");
        return {};
    }

    static ErrorOr<void> check_range(u64 virt, u64 length)
    {
        if (virt % page_size != 0 || length % page_size != 0 || length == 0)
            return Error::from_errno(EINVAL, "range not page-aligned or empty");
        u64 end = 0;
        if (!ktl::checked_add(virt, length - 1, &end))
            return Error::from_errno(EINVAL, "virtual range overflows");
        if (!is_canonical(virt) || !is_canonical(end) || (virt >> 47) != (end >> 47))
            return Error::from_errno(EINVAL, "virtual range not canonical");
        if (virt < null_guard_size)
            return Error::from_errno(EPERM, "the null guard (first 64 KiB) is never mapped");
        return {};
    }

    static u64 make_entry(u64 phys, u8 access, bool huge)
    {
        u64 raw = phys | PageTableEntry::present;
        if (access & AccessWrite)
            raw |= PageTableEntry::writable;
        if (!(access & AccessExecute))
            raw |= PageTableEntry::no_execute;
        if (access & AccessUser)
            raw |= PageTableEntry::user;
        if (access & AccessGlobal)
            raw |= PageTableEntry::global;
        if (huge)
            raw |= PageTableEntry::huge;
        return raw;
    }

    // Intermediate entries are permissive (present, writable, executable, user if needed): the leaf alone
    // decides, so one intermediate table can hold leaves of different permissions (SDM Vol. 3A §4.6.1).
    ErrorOr<PageTableEntry*> next_table(PageTableEntry& entry, bool user)
    {
        if (!entry.is_present()) {
            u64 table = TRY(m_env->allocate_table());
            entry.raw = table | PageTableEntry::present | PageTableEntry::writable;
        }
        if (user)
            entry.raw |= PageTableEntry::user;
        return m_env->table(entry.address());
    }

    // Maps pages of the size `leaf_level` gives (1: 4 KiB in a page table, 2: 2 MiB in a page directory) from
    // `virt` up to the end of that table or of `length`, walking the upper levels once: one walk per 512
    // pages instead of one per page (a boot-time cost, see libs/pmm for why that matters). Refuses before
    // writing anything if one of the entries is present. Returns the bytes mapped.
    ErrorOr<u64> map_leaf_run(u64 virt, u64 phys, u64 length, u8 access, unsigned leaf_level)
    {
        PageTableEntry* table = m_env->table(m_root);
        for (unsigned level = 4; level > leaf_level; --level) {
            PageTableEntry& entry = table[table_index(virt, level)];
            if (entry.is_present() && entry.is_huge())
                return Error::from_errno(EEXIST, "range already mapped by a large page");
            table = TRY(next_table(entry, access & AccessUser));
        }
        u64 size = leaf_level == 1 ? page_size : large_page_size;
        unsigned first = table_index(virt, leaf_level);
        u64 count = length / size;
        if (count > entries_per_table - first)
            count = entries_per_table - first;
        for (u64 i = 0; i < count; ++i) {
            if (table[first + i].is_present())
                return Error::from_errno(EEXIST, "page already mapped");
        }
        u64 flags = make_entry(0, access, leaf_level == 2);
        for (u64 i = 0; i < count; ++i)
            table[first + i].raw = (phys + i * size) | flags;
        return count * size;
    }

    // Returns the 4 KiB leaf entry for `virt`, splitting a 2 MiB page into 512 small ones if asked.
    ErrorOr<PageTableEntry*> leaf_for(u64 virt, bool split)
    {
        PageTableEntry* table = m_env->table(m_root);
        for (unsigned level = 4; level > 1; --level) {
            PageTableEntry& entry = table[table_index(virt, level)];
            if (!entry.is_present())
                return Error::from_errno(ENOENT, "not mapped");
            if (entry.is_huge()) {
                if (level != 2 || !split)
                    return Error::from_errno(ENOTSUP, "large page");
                TRY(split_large(entry));
            }
            table = m_env->table(entry.address());
        }
        return &table[table_index(virt, 1)];
    }

    ErrorOr<void> split_large(PageTableEntry& pde)
    {
        u64 table_phys = TRY(m_env->allocate_table());
        PageTableEntry* table = m_env->table(table_phys);
        u8 access = access_of(pde);
        u64 base = pde.large_address();
        for (u64 i = 0; i < entries_per_table; ++i)
            table[i].raw = make_entry(base + i * page_size, access, false);
        pde.raw = table_phys | PageTableEntry::present | PageTableEntry::writable | (pde.raw & PageTableEntry::user);
        return {};
    }

    template<typename Visitor>
    void walk(u64 table_phys, unsigned level, u64 virt_prefix, Visitor& visitor) const
    {
        PageTableEntry const* table = m_env->table(table_phys);
        for (u64 i = 0; i < entries_per_table; ++i) {
            PageTableEntry entry = table[i];
            if (!entry.is_present())
                continue;
            u64 virt = virt_prefix | (i << (12 + 9 * (level - 1)));
            if (level == 4 && (virt & (1ull << 47)))
                virt |= 0xffff000000000000ull; // sign-extend into the canonical upper half
            if (level == 1) {
                visitor(virt, entry.address(), page_size, access_of(entry));
            } else if (level == 2 && entry.is_huge()) {
                visitor(virt, entry.large_address(), large_page_size, access_of(entry));
            } else if (!entry.is_huge()) {
                walk(entry.address(), level - 1, virt, visitor);
            }
        }
    }

    template<typename Visitor>
    void visit_range(u64 table_phys, unsigned level, u64 start, u64 end, Visitor& visitor)
    {
        PageTableEntry* table = m_env->table(table_phys);
        u64 span = 1ull << (12 + 9 * (level - 1)); // bytes one entry of this level covers
        u64 address = start;
        while (address < end) {
            u64 entry_end = (address & ~(span - 1)) + span;
            PageTableEntry& entry = table[table_index(address, level)];
            if (entry.is_present()) {
                if (level == 1)
                    visitor(address, entry);
                else if (!entry.is_huge())
                    visit_range(entry.address(), level - 1, address, entry_end < end ? entry_end : end, visitor);
            }
            if (entry_end <= address) // wrapped at the top of the address space
                break;
            address = entry_end;
        }
    }

    void free_subtree(u64 table_phys, unsigned level)
    {
        if (level > 1) {
            PageTableEntry* table = m_env->table(table_phys);
            for (u64 i = 0; i < entries_per_table; ++i) {
                if (table[i].is_present() && !table[i].is_huge())
                    free_subtree(table[i].address(), level - 1);
            }
        }
        m_env->free_table(table_phys);
    }

    Env* m_env;
    u64 m_root;
};

} // namespace kernite::paging
