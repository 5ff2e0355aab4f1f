/* Memory sizes as the control language and CUDA_MPS_PINNED_DEVICE_MEM_LIMIT
 * write them: an integer and a binary unit, "512M", "2G", "1536m", "4GB". */
#ifndef OPENMPS_MEMSIZE_H
#define OPENMPS_MEMSIZE_H

#include <stddef.h>
#include <stdint.h>

/* Parses s. A unit (K, M, G or T, either case, optionally followed by B or
 * iB) is required except for "0". Returns 0, or -1 when s is malformed or
 * does not fit 64 bits. */
int omps_memsize_parse(const char *s, uint64_t *bytes);

/* Writes bytes in the largest unit that divides it exactly ("1536M", "2G"),
 * so that a value reads back as it was set. */
void omps_memsize_format(uint64_t bytes, char *buf, size_t len);

#endif
