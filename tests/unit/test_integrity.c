/* The integrity hash against answers of the real driver (H100, driver
 * 580.159.04), recorded by tests/gpu/integrity_check.c in gpu-check run 2 of
 * 2026-11-23: the same message and device must give the driver's hash. */
#include <stdint.h>
#include <string.h>

#include "task.h"
#include "integrity.h"

static const unsigned char message_13002[48] = {
	0xc8, 0x32, 0x00, 0x00, 0xca, 0x32, 0x00, 0x00, 0x64, 0x1a, 0x00, 0x00, 0x40, 0xa7, 0x6b, 0xb8,
	0x80, 0x46, 0x1c, 0xbe, 0x1a, 0x7f, 0x00, 0x00, 0x60, 0x46, 0x1c, 0xbe, 0x1a, 0x7f, 0x00, 0x00,
	0x50, 0x33, 0xb2, 0xb8, 0x1a, 0x7f, 0x00, 0x00, 0xa7, 0xee, 0x03, 0x6b, 0x00, 0x00, 0x00, 0x00,
};

static const unsigned char h100[28] = {
	0xf9, 0x34, 0x1b, 0x85, 0x7e, 0xc2, 0x15, 0x1d, 0xd6, 0x59, 0xf6, 0x76, 0xf7, 0xc5,
	0xd4, 0xa7, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00,
};

TEST(integrity_driver_answers)
{
	struct shim_integrity_device dev;
	struct shim_integrity_msg m;
	uint64_t out[2];

	memcpy(&m, message_13002, sizeof(m));
	memcpy(&dev, h100, sizeof(dev));
	ASSERT_EQ(m.version, 13002);
	ASSERT_EQ(m.driver_version, 13000);
	ASSERT_EQ(dev.pci_device, 6);
	shim_integrity_hash(&m, &dev, 1, out);
	ASSERT_EQ(out[0], 0x53308410a6d0166full);
	ASSERT_EQ(out[1], 0x992cf8667e7610ddull);
	m.version = 12082; /* the same facts, cudart 12.8's version */
	shim_integrity_hash(&m, &dev, 1, out);
	ASSERT_EQ(out[0], 0x0d65e33a9d9bd91cull);
	ASSERT_EQ(out[1], 0xc82472944ddcdb92ull);
	/* Versions ending in 0 or 1 have fixed answers. */
	m.version = 13000;
	shim_integrity_hash(&m, &dev, 1, out);
	ASSERT_EQ(out[0], 0x3341181c03cb675cull);
	ASSERT_EQ(out[1], 0x8ed383aa1f4cd1e8ull);
	m.version = 11;
	shim_integrity_hash(&m, &dev, 1, out);
	ASSERT_EQ(out[0], 0x1841181c03cb675cull);
	ASSERT_EQ(out[1], 0x8ed383aa1f4cd1e8ull);
}

/* Every fact counts: another table address, device or device count changes it. */
TEST(integrity_inputs_matter)
{
	struct shim_integrity_device dev[2];
	struct shim_integrity_msg m;
	uint64_t base[2], out[2];

	memcpy(&m, message_13002, sizeof(m));
	memcpy(&dev[0], h100, sizeof(dev[0]));
	dev[1] = dev[0];
	shim_integrity_hash(&m, dev, 1, base);
	m.cudart_table += 8;
	shim_integrity_hash(&m, dev, 1, out);
	ASSERT(memcmp(out, base, sizeof(out)));
	m.cudart_table -= 8;
	shim_integrity_hash(&m, dev, 2, out);
	ASSERT(memcmp(out, base, sizeof(out)));
	dev[0].pci_bus = 1;
	shim_integrity_hash(&m, dev, 1, out);
	ASSERT(memcmp(out, base, sizeof(out)));
}
