/* The GPUs a program sees, as it sees them: count, names, UUIDs and PCI
 * ids (the same lines natively and through openmps, for e2e_devices to
 * compare). --hold GO: on each device k, (k+1) MiB allocated, written and
 * read back, held until the file GO exists. --alloc MB: an allocation of
 * MB MiB on device 0, its result printed. --peer: peer access and copies
 * between devices 0 and 1. */
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

/* Devices 0 and 1: peer access asked for and given back as the driver
 * answers it, and copies both ways, checked. */
static int peer(void)
{
	size_t bytes = 1 << 20, i;
	unsigned char *back = malloc(bytes);
	CUcontext c0, c1;
	CUdeviceptr a, b;
	CUresult r[3];
	CUstream s;
	int can = -1;

	CHECK(back, "out of host memory");
	CK(cuDeviceCanAccessPeer(&can, 0, 1));
	printf(PROBE ": can access 0->1 = %d\n", can);
	CK(cuDevicePrimaryCtxRetain(&c0, 0));
	CK(cuDevicePrimaryCtxRetain(&c1, 1));
	CK(cuCtxSetCurrent(c0));
	r[0] = cuCtxEnablePeerAccess(c1, 0);
	r[1] = cuCtxEnablePeerAccess(c1, 0);
	r[2] = cuCtxEnablePeerAccess(c0, 0);
	printf(PROBE ": enable = %d, again = %d, itself = %d\n", (int)r[0], (int)r[1], (int)r[2]);
	CK(cuMemAlloc(&a, bytes));
	CK(cuMemsetD8(a, 0x11, bytes));
	CK(cuCtxSetCurrent(c1));
	CK(cuMemAlloc(&b, bytes));
	CK(cuMemsetD8(b, 0, bytes));
	CK(cuMemcpyPeer(b, c1, a, c0, bytes));
	CK(cuMemcpyDtoH(back, b, bytes));
	for (i = 0; i < bytes; i++)
		CHECK(back[i] == 0x11, "cuMemcpyPeer: byte %zu is 0x%x", i, back[i]);
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuMemsetD8(b, 0x22, bytes));
	CK(cuCtxSynchronize());
	CK(cuMemcpyPeerAsync(a, c0, b, c1, bytes, s));
	CK(cuStreamSynchronize(s));
	CK(cuCtxSetCurrent(c0));
	CK(cuMemcpyDtoH(back, a, bytes));
	for (i = 0; i < bytes; i++)
		CHECK(back[i] == 0x22, "cuMemcpyPeerAsync: byte %zu is 0x%x", i, back[i]);
	EXPECT(cuMemcpyPeer(b, NULL, a, c0, bytes), CUDA_ERROR_INVALID_CONTEXT);
	r[0] = cuCtxDisablePeerAccess(c1);
	r[1] = cuCtxDisablePeerAccess(c1);
	printf(PROBE ": disable = %d, again = %d\n", (int)r[0], (int)r[1]);
	CK(cuMemFree(a));
	CK(cuCtxSetCurrent(c1));
	CK(cuStreamDestroy(s));
	CK(cuMemFree(b));
	free(back);
	printf(PROBE ": peer copies verified\n");
	return 0;
}

int main(int argc, char **argv)
{
	CUdeviceptr held[8] = {0};
	const char *go = NULL;
	int n = 0, k, alloc_mb = 0, peers = 0;
	CUresult r;

	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--hold") && k + 1 < argc)
			go = argv[++k];
		else if (!strcmp(argv[k], "--alloc") && k + 1 < argc)
			alloc_mb = atoi(argv[++k]);
		else if (!strcmp(argv[k], "--peer"))
			peers = 1;
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
	if (peers && peer())
		return 1;
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
