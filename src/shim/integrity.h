/* cudart's integrity check of the driver (export table d4082055-…, slot 1).
 * cudart asks the driver for a hash over facts both sides can see: the
 * process and thread, the addresses of two tables it was handed and of the
 * slot itself, the time it passes in, the driver version, and every device's
 * UUID and PCI location. It computes the same hash and refuses a driver
 * whose answer differs. A shim that hands out its own tables must therefore
 * answer with the hash over its own addresses. The function is HMAC-MD2
 * under a fixed key (as public work on these tables found); Nettle computes
 * it. */
#ifndef OPENMPS_INTEGRITY_H
#define OPENMPS_INTEGRITY_H

#include <stdint.h>

/* The message, laid out as hashed: 48 bytes, then one record per device. */
struct shim_integrity_msg {
	uint32_t driver_version; /* as cuDriverGetVersion says */
	uint32_t version;	 /* cudart's argument */
	uint32_t pid;
	uint32_t thread; /* pthread_self(), truncated */
	uint64_t cudart_table, integrity_table, slot; /* as handed out */
	uint64_t unix_seconds;			      /* cudart's argument */
};

struct shim_integrity_device {
	unsigned char uuid[16];
	int32_t pci_domain, pci_bus, pci_device;
};

_Static_assert(sizeof(struct shim_integrity_msg) == 48, "hashed as laid out");
_Static_assert(sizeof(struct shim_integrity_device) == 28, "hashed as laid out");

void shim_integrity_hash(const struct shim_integrity_msg *msg, const struct shim_integrity_device *devs,
			 int ndevs, uint64_t out[2]);

#endif
