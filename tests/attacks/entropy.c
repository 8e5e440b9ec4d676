// What a program gets from Kernite's generator (issue 4 item 6), for the host to judge:
//   entropy at-random        prints "at-random <32 hex> canary <16 hex> from-at-random yes|no": the 16 AT_RANDOM
//                            bytes and libc's stack canary (%fs:0x28 on x86-64 for both glibc and musl), and
//                            whether the canary is derived from AT_RANDOM as this libc does it (glibc: the
//                            first 8 bytes with the lowest byte zeroed; musl: the first 8 with byte 1 zeroed)
//   entropy getrandom BYTES  writes BYTES bytes of getrandom(2) output to stdout (for rngtest on the host)
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <unistd.h>

static int print_at_random(void)
{
    unsigned char const* random = (unsigned char const*)getauxval(AT_RANDOM);
    if (!random) {
        printf("at-random missing\n");
        return 1;
    }
    uint64_t canary;
    __asm__("mov %%fs:0x28, %0" : "=r"(canary));
    uint64_t first;
    memcpy(&first, random, sizeof(first));
    uint64_t glibc_rule = first & ~(uint64_t)0xff;
    uint64_t musl_rule = first & ~(uint64_t)0xff00;
    printf("at-random ");
    for (int i = 0; i < 16; ++i)
        printf("%02x", random[i]);
    int derived = canary == glibc_rule || canary == musl_rule;
    printf(" canary %016llx from-at-random %s\n", (unsigned long long)canary, derived ? "yes" : "no");
    return derived ? 0 : 1;
}

static int write_getrandom(unsigned long long total)
{
    static unsigned char buffer[64 * 1024];
    while (total > 0) {
        size_t want = total < sizeof(buffer) ? (size_t)total : sizeof(buffer);
        ssize_t got = getrandom(buffer, want, 0);
        if (got <= 0) {
            perror("getrandom");
            return 1;
        }
        for (ssize_t done = 0; done < got;) {
            ssize_t written = write(1, buffer + done, (size_t)(got - done));
            if (written <= 0) {
                perror("write");
                return 1;
            }
            done += written;
        }
        total -= (unsigned long long)got;
    }
    return 0;
}

int main(int argc, char** argv)
{
    if (argc == 2 && strcmp(argv[1], "at-random") == 0)
        return print_at_random();
    if (argc == 3 && strcmp(argv[1], "getrandom") == 0)
        return write_getrandom(strtoull(argv[2], NULL, 0));
    fprintf(stderr, "usage: %s at-random | getrandom BYTES\n", argv[0]);
    return 2;
}
