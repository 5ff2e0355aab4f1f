/* Checks openmps's integrity hash against the driver's own: natively, asks
 * the driver's d4082055-… slot 1 for the hash over its own tables, computes
 * it with shim_integrity_hash over the same facts, and compares. Prints the
 * inputs and both answers (a test vector for tests/unit/test_integrity.c)
 * and ends with "integrity_check: PASS" or "FAIL". Run on a GPU machine. */
#include <cuda.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "integrity.h"

static const CUuuid cudart_id = {{0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87, 0xd9, 0x39, 0x12,
				  0xfd, 0x9d, 0xf9}};
static const CUuuid integrity_id = {{(char)0xd4, 0x08, 0x20, 0x55, (char)0xbd, (char)0xe6, 0x70, 0x4b,
				     (char)0x8d, 0x34, (char)0xba, 0x12, 0x3c, 0x66, (char)0xe1, (char)0xf2}};

int main(void)
{
	static const uint32_t versions[] = {13000, 13002, 12082, 12090, 11, 20};
	struct shim_integrity_device devs[16];
	const uint64_t *cudart = NULL, *check = NULL;
	CUresult (*slot)(uint32_t, uint64_t, uint64_t *);
	int n = 0, driver = 0, i, fails = 0;
	size_t v;

	if (cuInit(0) || cuGetExportTable((const void **)&cudart, &cudart_id) ||
	    cuGetExportTable((const void **)&check, &integrity_id) || cuDriverGetVersion(&driver) ||
	    cuDeviceGetCount(&n)) {
		printf("integrity_check: FAIL (no driver tables)\n");
		return 1;
	}
	for (i = 0; i < n && i < 16; i++) {
		CUuuid u;

		cuDeviceGetUuid(&u, i);
		memcpy(devs[i].uuid, u.bytes, 16);
		cuDeviceGetAttribute(&devs[i].pci_domain, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, i);
		cuDeviceGetAttribute(&devs[i].pci_bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, i);
		cuDeviceGetAttribute(&devs[i].pci_device, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, i);
	}
	slot = (CUresult(*)(uint32_t, uint64_t, uint64_t *))(uintptr_t)check[1];
	for (v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
		struct shim_integrity_msg m = {.driver_version = (uint32_t)driver, .version = versions[v],
					       .pid = (uint32_t)getpid(), .thread = (uint32_t)(uintptr_t)pthread_self(),
					       .cudart_table = (uint64_t)(uintptr_t)cudart,
					       .integrity_table = (uint64_t)(uintptr_t)check, .slot = check[1],
					       .unix_seconds = (uint64_t)time(NULL)};
		uint64_t theirs[2] = {0, 0}, ours[2] = {0, 0};
		CUresult r = slot(m.version, m.unix_seconds, theirs);
		const unsigned char *b = (const unsigned char *)&m;
		int same;
		size_t k;

		shim_integrity_hash(&m, devs, n, ours);
		same = r == CUDA_SUCCESS && !memcmp(ours, theirs, sizeof(ours));
		fails += !same;
		printf("version %u: driver %d %016llx %016llx, openmps %016llx %016llx: %s\n", m.version, (int)r,
		       (unsigned long long)theirs[0], (unsigned long long)theirs[1], (unsigned long long)ours[0],
		       (unsigned long long)ours[1], same ? "same" : "DIFFERENT");
		printf("  message:");
		for (k = 0; k < sizeof(m); k++)
			printf(" %02x", b[k]);
		printf("\n");
	}
	for (i = 0; i < n && i < 16; i++) {
		const unsigned char *b = (const unsigned char *)&devs[i];

		printf("  device %d:", i);
		for (v = 0; v < sizeof(devs[i]); v++)
			printf(" %02x", b[v]);
		printf("\n");
	}
	printf("integrity_check: %s\n", fails ? "FAIL" : "PASS");
	return fails != 0;
}
