/* Shared by entry.S and kernel/boot/early.cpp. */
#pragma once

#define KERNITE_BOOT_MONITOR 1
#define KERNITE_BOOT_PVH 2

/* Offsets in struct HandOff (kernel/boot/early.h). */
#define HANDOFF_CR3 0
#define HANDOFF_STACK 8
#define HANDOFF_ENTRY 16
#define HANDOFF_ARGUMENT 24

/* sizeof(pvh::StartInfo), version 1 (kernel/boot/pvh.h static_asserts it). */
#define PVH_START_INFO_SIZE 56

/* The PVH entry is the first byte of the image (kernel.ld puts .text.boot32 first and asserts it). */
#define KERNITE_PVH_ENTRY_PHYS 0x100000
