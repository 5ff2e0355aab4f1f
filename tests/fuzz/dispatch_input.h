/* The input of fuzz_dispatch, as seed_dispatch writes it: records, each a
 * type (u32), a length (u16) and that many bytes. */
#ifndef OPENMPS_FUZZ_DISPATCH_INPUT_H
#define OPENMPS_FUZZ_DISPATCH_INPUT_H

#define SECOND (1u << 31) /* in a type: the record is the second client's */
/* Not calls: host memory on the client's socket, slot (the first payload
 * byte, modulo 8) of 64 KiB at HOST_BASE, or HOST_BASE + 1 MiB for the
 * second client. */
#define HOST_SLOT_MAP 0x7fff0001u
#define HOST_SLOT_UNMAP 0x7fff0002u
#define HOST_BASE 0x6f0000000000ull
#define HOST_SLOT (64u << 10)

#endif
