/* The GPUs a program sees, as it sees them: count, names, UUIDs and PCI
 * ids (the same lines natively and through openmps, for e2e_devices to
 * compare). --hold GO: on each device k, (k+1) MiB allocated, written and
 * read back, held until the file GO exists. --alloc MB: an allocation of
 * MB MiB on device 0, its result printed. */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROBE "devices_probe"
#define PROBE_FAIL return 1
#include "probe.h"

static int list(int n)
{
	char name[128], pci[32];
	CUuuid u;
	CUdevice d;
	int k;

	for (k = 0; k < n; k++) {
		CK(cuDeviceGet(&d, k));
		CK(cuDeviceGetName(name, sizeof(name), d));
		CK(cuDeviceGetUuid_v2(&u, d));
		CK(cuDeviceGetPCIBusId(pci, sizeof(pci), d));
		printf("device %d: %s, GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x, %s\n",
		       k, name, (unsigned char)u.bytes[0], (unsigned char)u.bytes[1], (unsigned char)u.bytes[2],
		       (unsigned char)u.bytes[3], (unsigned char)u.bytes[4], (unsigned char)u.bytes[5],
		       (unsigned char)u.bytes[6], (unsigned char)u.bytes[7], (unsigned char)u.bytes[8],
		       (unsigned char)u.bytes[9], (unsigned char)u.bytes[10], (unsigned char)u.bytes[11],
		       (unsigned char)u.bytes[12], (unsigned char)u.bytes[13], (unsigned char)u.bytes[14],
		       (unsigned char)u.bytes[15], pci);
	}
	EXPECT(cuDeviceGet(&d, n), CUDA_ERROR_INVALID_DEVICE);
	return 0;
}

/* (k+1) MiB on device k, written with k's byte and read back. */
static int hold(int k, CUdeviceptr *p)
{
	size_t bytes = ((size_t)k + 1) << 20, i;
	unsigned char *back = malloc(bytes);
	CUcontext ctx;
	CUdevice d;

	CHECK(back, "out of host memory");
	CK(cuDeviceGet(&d, k));
	CK(cuDevicePrimaryCtxRetain(&ctx, d));
	CK(cuCtxSetCurrent(ctx));
	CK(cuMemAlloc(p, bytes));
	CK(cuMemsetD8(*p, (unsigned char)(0x50 + k), bytes));
	CK(cuMemcpyDtoH(back, *p, bytes));
	for (i = 0; i < bytes; i++)
		CHECK(back[i] == 0x50 + k, "device %d: byte %zu is 0x%x", k, i, back[i]);
	free(back);
	printf("device %d: holds %d MiB\n", k, k + 1);
	return 0;
}

int main(int argc, char **argv)
{
	CUdeviceptr held[8] = {0};
	const char *go = NULL;
	int n = 0, k, alloc_mb = 0;
	CUresult r;

	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--hold") && k + 1 < argc)
			go = argv[++k];
		else if (!strcmp(argv[k], "--alloc") && k + 1 < argc)
			alloc_mb = atoi(argv[++k]);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((r = cuInit(0)) != CUDA_SUCCESS) {
		printf(PROBE ": init = %d\n", (int)r);
		return 0;
	}
	CK(cuDeviceGetCount(&n));
	printf(PROBE ": count = %d\n", n);
	if (list(n))
		return 1;
	if (alloc_mb) {
		CUcontext ctx;
		CUdeviceptr p;

		CK(cuDevicePrimaryCtxRetain(&ctx, 0));
		CK(cuCtxSetCurrent(ctx));
		printf(PROBE ": alloc %d MiB = %d\n", alloc_mb, (int)cuMemAlloc(&p, (size_t)alloc_mb << 20));
	}
	if (go) {
		for (k = 0; k < n && k < 8; k++)
			if (hold(k, &held[k]))
				return 1;
		printf(PROBE ": ready\n");
		while (access(go, F_OK))
			usleep(20000);
		for (k = 0; k < n && k < 8; k++)
			CK(cuMemFree(held[k]));
	}
	printf(PROBE ": PASS\n");
	return 0;
}
