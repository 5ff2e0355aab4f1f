/* Which GPUs a client sees: CUDA_VISIBLE_DEVICES read as CUDA reads it,
 * over a server's devices (devinfo.c). */
#include <stdio.h>
#include <string.h>

#include "devinfo.h"
#include "task.h"

/* Four devices; the first enumerated has the highest PCI bus. */
static struct omps_server_ready four(void)
{
	struct omps_server_ready r = {.ndevices = 4};
	int i, b;

	for (i = 0; i < 4; i++) {
		r.dev[i].ordinal = i;
		r.dev[i].pci_bus = 0x40 - i;
		for (b = 0; b < 16; b++)
			r.dev[i].uuid[b] = (uint8_t)(0x10 * (i + 1) + b);
	}
	r.dev[3].uuid[4] = 0xee; /* devices 2 and 3 share their first 8 digits */
	memcpy(r.dev[3].uuid, r.dev[2].uuid, 4);
	return r;
}

/* The view as "a,b,c" ("-" for none), and why it stopped into why. */
static const char *view(const char *spec, int pci, char *why)
{
	static char out[64];
	struct omps_server_ready r = four();
	int32_t v[OMPS_MAX_DEVICES];
	char w[512];
	int n = omps_visible_devices(spec, pci, &r, v, w, sizeof(w)), i;
	size_t off = 0;

	if (why)
		strcpy(why, w);
	out[0] = '\0';
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(out + off, sizeof(out) - off, "%s%d", i ? "," : "", (int)v[i]);
	return n ? out : "-";
}

TEST(devinfo_visible_devices)
{
	char why[512];

	ASSERT_STR_EQ(view(NULL, 0, why), "0,1,2,3");
	ASSERT_STR_EQ(why, "");
	ASSERT_STR_EQ(view(NULL, 1, NULL), "3,2,1,0"); /* CUDA_DEVICE_ORDER=PCI_BUS_ID */
	ASSERT_STR_EQ(view("2", 0, NULL), "2");
	ASSERT_STR_EQ(view("3,1", 0, NULL), "3,1");
	ASSERT_STR_EQ(view(" 3, 1 ", 0, NULL), "3,1");
	ASSERT_STR_EQ(view("0", 1, NULL), "3"); /* indices count in that order */
	ASSERT_STR_EQ(view("", 0, why), "-");
	/* UUIDs, whole or a unique prefix, any case */
	ASSERT_STR_EQ(view("GPU-20212223-2425-2627-2829-2a2b2c2d2e2f", 0, NULL), "1");
	ASSERT_STR_EQ(view("GPU-2021", 0, NULL), "1");
	ASSERT_STR_EQ(view("gpu-30313233-EE", 0, NULL), "3");
	ASSERT_STR_EQ(view("1,GPU-10", 0, NULL), "1,0");
	/* The list ends at the first entry that names none, as in CUDA. */
	ASSERT_STR_EQ(view("1,7,2", 0, why), "1");
	ASSERT_STR_EQ(why, "CUDA_VISIBLE_DEVICES=1,7,2: \"7\" names none of the 4 GPUs its server drives (or one "
			   "named before), so it sees the 1 before it, as CUDA would");
	ASSERT_STR_EQ(view("GPU-3031", 0, why), "-"); /* two have it */
	ASSERT_NE(strstr(why, "\"GPU-3031\" names none"), NULL);
	ASSERT_STR_EQ(view("2,2,1", 0, NULL), "2");
	ASSERT_STR_EQ(view("GPU-99,0", 0, NULL), "-");
	ASSERT_STR_EQ(view("MIG-1,0", 0, NULL), "-");
	ASSERT_STR_EQ(view("-1,0", 0, NULL), "-");
	ASSERT_STR_EQ(view("1x", 0, NULL), "-");
	ASSERT_STR_EQ(view("GPU-", 0, NULL), "-");
}
