// The program's standard input from the host (issue 3 item 5), the mirror of output.h: bytes arrive in chunks of
// up to 64 KiB per hypercall (abi::HcInput) into one buffer in the kernel image and are handed out from there, so
// a program reading byte by byte does not cost one VM exit per byte. The host is asked only when the program
// reads (or polls) its stdin and the buffer is empty; end of file is remembered.
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::process::input {

// Up to `length` buffered bytes, refilling from the host without waiting when empty: the count, 0 at end of
// file, EAGAIN when the host has nothing yet, EIO when the host's read failed.
ErrorOr<usize> read(u8* buffer, usize length);
// With nothing buffered, lets the host wait up to `wait_ns` for bytes. True when bytes or end of file are now
// there (or the host's read failed: the next read() reports it).
bool wait(u64 wait_ns);
// poll(2): bytes are buffered or end of file was seen, after a refill attempt that does not wait.
bool ready();

} // namespace kernite::process::input
