// The build's feature note: which profile this image is and which protections its compiler was told to put in,
// recorded in the image itself so that `kernite checksec` (monitor/checksec.h) reports it from the binary, never
// from a build log.
//
// An ELF note (gABI "Note Section"): owner "Kernite", type 0x4b464541 ("KFEA"; checksec.h feature_note_type).
// Its descriptor is a list of NUL-terminated ASCII "key=value" strings, the first one "version=1", padded with
// NULs to 4 bytes.
// Keys of version 1 (readers show unknown keys as they are, so keys can be added without a new version):
//   profile          hardened | debug | baseline | unknown           (KERNITE_PROFILE_*, cmake/KernelFlags.cmake)
//   stack_protector  none | basic | strong | all | explicit          (the compiler's __SSP_*__ macros)
//   heap             hardened | simple                               (KERNITE_HEAP_HARDENED)
//   kasan, ubsan     on | off   (__SANITIZE_ADDRESS__ or KERNITE_KASAN; KERNITE_UBSAN: GCC 12 defines no macro)
//   cfi              on | off   (__CET__ bit 0, -fcf-protection=branch, or KERNITE_CFI)
//   fortify          off | 1 | 2 | 3                                 (_FORTIFY_SOURCE)
//   zero_regs        on | off   (-fzero-call-used-regs, opt-in: KERNITE_ZERO_REGS from cmake/KernelFlags.cmake)
//   compiler         the compiler's name and version
// Each value comes from a macro the compiler or the profile's compile definitions set for this very file,
// which is compiled with the profile's flags like every other kernel file (no per-file opt-out here).
//
// The section is non-allocated (flags ""): no PT_LOAD or PT_NOTE covers it, so the loaded image, its layout
// and its boot are unchanged; checksec finds it through the section headers (the image keeps them, see the
// objcopy step in kernel/CMakeLists.txt). Top-level asm rather than a C++ object because GCC gives every
// variable's section the "a" (allocated) flag.

#define KERNITE_NOTE_STRING(key, value) "    .asciz \"" key "=" value "\"\n"

#if defined(KERNITE_PROFILE_HARDENED)
#    define KERNITE_NOTE_PROFILE "hardened"
#elif defined(KERNITE_PROFILE_DEBUG)
#    define KERNITE_NOTE_PROFILE "debug"
#elif defined(KERNITE_PROFILE_BASELINE)
#    define KERNITE_NOTE_PROFILE "baseline"
#else
#    define KERNITE_NOTE_PROFILE "unknown"
#endif

#if defined(__SSP_ALL__)
#    define KERNITE_NOTE_STACK_PROTECTOR "all"
#elif defined(__SSP_STRONG__)
#    define KERNITE_NOTE_STACK_PROTECTOR "strong"
#elif defined(__SSP_EXPLICIT__)
#    define KERNITE_NOTE_STACK_PROTECTOR "explicit"
#elif defined(__SSP__)
#    define KERNITE_NOTE_STACK_PROTECTOR "basic"
#else
#    define KERNITE_NOTE_STACK_PROTECTOR "none"
#endif

#if defined(KERNITE_HEAP_HARDENED) && KERNITE_HEAP_HARDENED
#    define KERNITE_NOTE_HEAP "hardened"
#else
#    define KERNITE_NOTE_HEAP "simple"
#endif

#if defined(__SANITIZE_ADDRESS__) || (defined(KERNITE_KASAN) && KERNITE_KASAN)
#    define KERNITE_NOTE_KASAN "on"
#else
#    define KERNITE_NOTE_KASAN "off"
#endif

#if defined(KERNITE_UBSAN) && KERNITE_UBSAN
#    define KERNITE_NOTE_UBSAN "on"
#else
#    define KERNITE_NOTE_UBSAN "off"
#endif

#if (defined(__CET__) && (__CET__ & 1)) || (defined(KERNITE_CFI) && KERNITE_CFI)
#    define KERNITE_NOTE_CFI "on"
#else
#    define KERNITE_NOTE_CFI "off"
#endif

#if !defined(_FORTIFY_SOURCE) || _FORTIFY_SOURCE == 0
#    define KERNITE_NOTE_FORTIFY "off"
#elif _FORTIFY_SOURCE == 1
#    define KERNITE_NOTE_FORTIFY "1"
#elif _FORTIFY_SOURCE == 2
#    define KERNITE_NOTE_FORTIFY "2"
#else
#    define KERNITE_NOTE_FORTIFY "3"
#endif

#if defined(KERNITE_ZERO_REGS) && KERNITE_ZERO_REGS
#    define KERNITE_NOTE_ZERO_REGS "on"
#else
#    define KERNITE_NOTE_ZERO_REGS "off"
#endif

#if defined(__clang__)
#    define KERNITE_NOTE_COMPILER "clang " __clang_version__
#else
#    define KERNITE_NOTE_COMPILER "gcc " __VERSION__
#endif

// Labels 1-4: name start/end, descriptor start/end (the sizes exclude the padding, gABI).
// clang-format off
asm(".pushsection .note.kernite.features, \"\", @note\n"
    "    .balign 4\n"
    "    .long 2f - 1f\n"
    "    .long 4f - 3f\n"
    "    .long 0x4b464541\n" // feature_note_type, "KFEA" (the layout note is "KLAY", kernel_layout.h)
    "1:  .asciz \"Kernite\"\n"
    "2:  .balign 4\n"
    "3:\n"
    KERNITE_NOTE_STRING("version", "1")
    KERNITE_NOTE_STRING("profile", KERNITE_NOTE_PROFILE)
    KERNITE_NOTE_STRING("stack_protector", KERNITE_NOTE_STACK_PROTECTOR)
    KERNITE_NOTE_STRING("heap", KERNITE_NOTE_HEAP)
    KERNITE_NOTE_STRING("kasan", KERNITE_NOTE_KASAN)
    KERNITE_NOTE_STRING("ubsan", KERNITE_NOTE_UBSAN)
    KERNITE_NOTE_STRING("cfi", KERNITE_NOTE_CFI)
    KERNITE_NOTE_STRING("fortify", KERNITE_NOTE_FORTIFY)
    KERNITE_NOTE_STRING("zero_regs", KERNITE_NOTE_ZERO_REGS)
    KERNITE_NOTE_STRING("compiler", KERNITE_NOTE_COMPILER)
    "4:  .balign 4\n"
    ".popsection\n");
// clang-format on
