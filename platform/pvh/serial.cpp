#include <arch/x86_64/cpu.h>
#include <platform/pvh/serial.h>

namespace kernite::platform::pvh {

namespace {
constexpr u16 com1 = 0x3f8;
// Register offsets (National Semiconductor PC16550D datasheet, Table 2).
constexpr u16 data_register = 0;
constexpr u16 interrupt_enable = 1;
constexpr u16 fifo_control = 2;
constexpr u16 line_control = 3;
constexpr u16 modem_control = 4;
constexpr u16 line_status = 5;
constexpr u8 line_status_transmit_empty = 1 << 5;
} // namespace

void serial_initialize()
{
    arch::outb(com1 + interrupt_enable, 0x00);
    arch::outb(com1 + line_control, 0x80); // DLAB: set the divisor
    arch::outb(com1 + data_register, 0x01); // 115200 baud
    arch::outb(com1 + interrupt_enable, 0x00);
    arch::outb(com1 + line_control, 0x03); // 8N1
    arch::outb(com1 + fifo_control, 0xc7);
    arch::outb(com1 + modem_control, 0x03);
}

void serial_write(char const* data, usize length)
{
    for (usize i = 0; i < length; ++i) {
        for (unsigned spins = 0; spins < 100000 && !(arch::inb(com1 + line_status) & line_status_transmit_empty); ++spins)
            arch::pause();
        arch::outb(com1 + data_register, static_cast<u8>(data[i]));
    }
}

} // namespace kernite::platform::pvh
