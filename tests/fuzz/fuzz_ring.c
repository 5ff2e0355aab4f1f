/* libFuzzer target: the server's reading of a client's request ring
 * (src/common/ring.c), over shared memory the client may have written
 * anything into: header, indexes, record lengths and types. The server's
 * worker does this: attach, then pop records until the ring is empty or
 * found corrupt. No input may make it read or write outside the memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct omps_ring r;
	unsigned char *mem, *buf;
	uint32_t type;
	int i;

	if (size < 8 || size > (1u << 20))
		return 0;
	mem = aligned_alloc(64, (size + 63) & ~(size_t)63); /* the exact size: past it is out of bounds */
	if (!mem)
		return 0;
	memcpy(mem, data, size);
	if (omps_ring_attach(&r, mem, size) == 0 && (buf = malloc(omps_ring_max_payload(&r) + 1))) {
		for (i = 0; i < 64 && omps_ring_pop(&r, &type, buf, omps_ring_max_payload(&r)) >= 0; i++)
			;
		free(buf);
	}
	free(mem);
	return 0;
}
