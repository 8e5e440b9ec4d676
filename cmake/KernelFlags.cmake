# Every kernel compile and link flag lives here (STYLE.md habit 11), one block per profile, with the reason
# for each. Per-file opt-outs are set in kernel/CMakeLists.txt next to the file, each with its reason.
#
# Profiles (DESIGN.md): hardened (default, every protection on), debug (adds checks and, from issue 5,
# KASAN+UBSAN), baseline (protections off, for measuring what they cost).

set(KERNITE_KERNEL_PROFILES hardened debug baseline)

set(KERNITE_KERNEL_COMMON_FLAGS
    -ffreestanding          # no hosted libc or libstdc++ runtime; only freestanding headers
    -fno-exceptions -fno-rtti
    -fno-threadsafe-statics -fno-use-cxa-atexit
    -fno-asynchronous-unwind-tables -fno-unwind-tables
    -mno-red-zone           # interrupts push onto the current stack in ring 0
    -mgeneral-regs-only     # no SSE/AVX state to save on kernel entry
    -mcmodel=small -fpie    # position independent: the image is relocated to its virtual base at boot
    -fvisibility=hidden     # all symbols local: direct RIP-relative references, no GOT
    -include ${PROJECT_SOURCE_DIR}/kernel/lib/visibility.h # ... declarations too (see that file)
    -fno-omit-frame-pointer # frame-pointer backtraces in exception reports
    -fno-strict-aliasing
    -fno-delete-null-pointer-checks # page 0 is a trap we test, not undefined behaviour to optimise away
    -g
    -Wall -Wextra -Wno-missing-field-initializers -Wno-address-of-packed-member
    -Werror=return-type -Werror=vla
)

set(KERNITE_KERNEL_PROFILE_FLAGS_hardened
    -O2
    -fstack-protector-strong -mstack-protector-guard=global # canary in __stack_chk_guard, seeded at boot
    -ftrivial-auto-var-init=zero                            # no uninitialised stack leaks
)
# Register zeroing before every return (-fzero-call-used-regs=used-gpr, Linux's CONFIG_ZERO_CALL_USED_REGS: fewer
# ROP gadgets, no stale values in call-clobbered registers) is opt-in, not part of the default hardened image:
# it is 3-7 extra instructions per kernel function return, and where KVM emulates guest ring 0 (PVM, nested KVM:
# docs/platform-notes.md) every one of them is paid, 6-7% of a program's kernel work, more than every other
# protection together (docs/security-model.md, "What each protection costs"). Build with
# -DKERNITE_ZERO_CALL_USED_REGS=ON for a host whose KVM runs guest ring 0 natively, where it costs under 1%.
# `make bench` prices it either way (security_cost_zero_regs_lua, the hardened-zero-regs variant below).
# The define puts zero_regs=on in the feature note (kernel/security/feature_note.cpp); checksec also finds the
# zeroing in the code itself.
set(KERNITE_ZERO_CALL_USED_REGS_FLAG -fzero-call-used-regs=used-gpr -DKERNITE_ZERO_REGS=1)
option(KERNITE_ZERO_CALL_USED_REGS "hardened kernel: zero call-clobbered registers before every return" OFF)
if(KERNITE_ZERO_CALL_USED_REGS)
    list(APPEND KERNITE_KERNEL_PROFILE_FLAGS_hardened ${KERNITE_ZERO_CALL_USED_REGS_FLAG})
endif()
# FORTIFY (issue 5 item 5, kernel/lib/fortify.h, force-included through visibility.h when KERNITE_FORTIFY): the
# kernel's memory and string builtins check their lengths against __builtin_dynamic_object_size, and usercopy
# checks heap objects; _FORTIFY_SOURCE=3 records the level in the feature note (checksec). The switch: hardened
# and debug have it (the two defines in their blocks), baseline not.
# KERNITE_HEAP_HARDENED: kernel/mm/heap_hardened.cpp (libs/heap) instead of heap_simple.cpp.
set(KERNITE_KERNEL_PROFILE_DEFINES_hardened KERNITE_PROFILE_HARDENED=1 KERNITE_HEAP_HARDENED=1
    KERNITE_FORTIFY=1 _FORTIFY_SOURCE=3)

set(KERNITE_KERNEL_PROFILE_FLAGS_debug
    -O1
    -fstack-protector-all -mstack-protector-guard=global
    -ftrivial-auto-var-init=pattern
)
# KASAN (issue 5 item 4; runtime kernel/security/kasan.cpp, docs/security-model.md "KASAN and UBSAN"):
#  - outline instrumentation (call threshold 0): every load/store calls __asan_{load,store}N_noabort, so the
#    runtime decides which addresses have shadow (lazily mapped; KASLR moves the image, the shadow follows);
#  - the shadow offset maps the kernel half [0xffff800000000000, 2^64) to [0xffffa00000000000, 0xffffb00000000000)
#    (shadow = (addr >> 3) + offset), a hole in boot_params.h's layout; GCC's stack redzones write it inline;
#  - stack and global redzones (asan-stack, asan-globals), use-after-scope (GCC's default).
set(KERNITE_KASAN_SHADOW_OFFSET 0xdfffb00000000000)
set(KERNITE_KERNEL_KASAN_FLAGS
    -fsanitize=kernel-address
    -fasan-shadow-offset=${KERNITE_KASAN_SHADOW_OFFSET}
    --param=asan-instrumentation-with-call-threshold=0
    --param=asan-stack=1 --param=asan-globals=1
)
# A file that KASAN must not instrument. GCC refuses -fasan-shadow-offset without -fsanitize=kernel-address, so
# rather than -fno-sanitize=kernel-address the sanitizer stays on with every kind of instrumentation off. Harmless
# (params only) in the profiles without KASAN; kernel/CMakeLists.txt says which files and why.
set(KERNITE_KERNEL_NO_KASAN_FLAGS
    --param=asan-instrument-reads=0 --param=asan-instrument-writes=0 --param=asan-memintrin=0
    --param=asan-stack=0 --param=asan-globals=0
)
# UBSAN (runtime kernel/security/ubsan.cpp): the checks that mean something in a freestanding kernel. Left out:
# vptr (needs RTTI; the kernel has -fno-rtti), float-divide-by-zero and float-cast-overflow (-mgeneral-regs-only:
# no floating point in the kernel). Recoverable handlers (GCC's default), so `ubsan=continue` can go on.
set(KERNITE_KERNEL_UBSAN_FLAGS
    -fsanitize=shift,integer-divide-by-zero,unreachable,vla-bound,null,return,signed-integer-overflow,bounds,alignment,object-size,nonnull-attribute,returns-nonnull-attribute,bool,enum,pointer-overflow,builtin
)
list(APPEND KERNITE_KERNEL_PROFILE_FLAGS_debug ${KERNITE_KERNEL_KASAN_FLAGS} ${KERNITE_KERNEL_UBSAN_FLAGS})
set(KERNITE_KERNEL_PROFILE_DEFINES_debug KERNITE_PROFILE_DEBUG=1 KERNITE_HEAP_HARDENED=1 KERNITE_KASAN=1 KERNITE_UBSAN=1
    KERNITE_KASAN_SHADOW_OFFSET=${KERNITE_KASAN_SHADOW_OFFSET}ull KERNITE_FORTIFY=1 _FORTIFY_SOURCE=3)

set(KERNITE_KERNEL_PROFILE_FLAGS_baseline
    -O2
    -fno-stack-protector
)
# Baseline keeps the simple heap: the reference the hardened heap's cost is measured against.
set(KERNITE_KERNEL_PROFILE_DEFINES_baseline KERNITE_PROFILE_BASELINE=1 KERNITE_HEAP_HARDENED=0)

# Measurement-only variants of hardened, each with one protection off (or, for the opt-in register zeroing, on
# when the default image has it off), so that `make bench` can price each one (security_cost_* figures,
# bench/run.sh figure_security_cost). Not built by default (target tax-kernels).
set(KERNITE_KERNEL_TAX_VARIANTS hardened-no-canary hardened-zero-regs hardened-no-auto-init hardened-simple-heap
    hardened-no-fortify)
function(kernite_tax_variant name remove_flags define_from define_to)
    set(flags ${KERNITE_KERNEL_PROFILE_FLAGS_hardened})
    list(REMOVE_ITEM flags ${remove_flags})
    set(defines ${KERNITE_KERNEL_PROFILE_DEFINES_hardened})
    if(define_from)
        list(TRANSFORM defines REPLACE "^${define_from}$" "${define_to}")
        list(REMOVE_ITEM defines "")
    endif()
    set(KERNITE_KERNEL_PROFILE_FLAGS_${name} ${flags} ${ARGN} PARENT_SCOPE)
    set(KERNITE_KERNEL_PROFILE_DEFINES_${name} ${defines} PARENT_SCOPE)
endfunction()
kernite_tax_variant(hardened-no-canary "-fstack-protector-strong;-mstack-protector-guard=global" "" "" -fno-stack-protector)
# hardened-zero-regs differs from hardened by the register zeroing in both configurations: with it when the
# default has it off, without it when KERNITE_ZERO_CALL_USED_REGS=ON put it in the default.
if(KERNITE_ZERO_CALL_USED_REGS)
    kernite_tax_variant(hardened-zero-regs "${KERNITE_ZERO_CALL_USED_REGS_FLAG}" "" "")
else()
    kernite_tax_variant(hardened-zero-regs "" "" "" ${KERNITE_ZERO_CALL_USED_REGS_FLAG})
endif()
kernite_tax_variant(hardened-no-auto-init "-ftrivial-auto-var-init=zero" "" "")
kernite_tax_variant(hardened-simple-heap "" "KERNITE_HEAP_HARDENED=1" "KERNITE_HEAP_HARDENED=0")
kernite_tax_variant(hardened-no-fortify "" "KERNITE_FORTIFY=1" "")
list(REMOVE_ITEM KERNITE_KERNEL_PROFILE_DEFINES_hardened-no-fortify "_FORTIFY_SOURCE=3")

set(KERNITE_KERNEL_LINK_FLAGS
    -nostdlib -static-pie              # position-independent image with only R_X86_64_RELATIVE relocations
    -Wl,--no-dynamic-linker
    -Wl,-z,text                        # refuse text relocations (would need writable text)
    -Wl,-z,max-page-size=0x1000 -Wl,-z,noexecstack
    -Wl,--build-id=none
    -Wl,--no-undefined
)
