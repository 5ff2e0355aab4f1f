/* Virtual memory management with the driver API, as vectorAddMMAP and the
 * frameworks' allocators use it: the same checks pass natively (a GPU) and
 * through openmps (a GPU or fakecuda): the granularity; a reservation;
 * physical memory made, mapped in two pieces and made accessible; copies
 * and a kernel on it; a map outside the reservation refused; unmapped,
 * released, freed; then a reservation reused.
 *   omps-vmm-probe --refused   (through openmps: exportable handles refused, and
 *     an IPC handle for mapped memory)
 * Ends with "vmm_probe: PASS" or the first check that failed. */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twice_ptx.h"

#define PROBE "vmm_probe"
#define PROBE_FAIL return 1
#include "probe.h"

int main(int argc, char **argv)
{
	CUmemAllocationProp prop;
	CUmemAccessDesc acc;
	CUmemGenericAllocationHandle h1, h2, hx;
	CUdevice dev;
	CUcontext ctx;
	CUmodule mod;
	CUfunction f;
	CUdeviceptr va, p;
	size_t g = 0, half, size, i;
	unsigned n, *host;
	void *args[] = {&p, &n};
	int attr = 0;

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuDeviceGetAttribute(&attr, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, dev));
	CHECK(attr == 1, "the device says it has no virtual memory management");
	memset(&prop, 0, sizeof(prop));
	prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
	prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	prop.location.id = dev;
	CK(cuMemGetAllocationGranularity(&g, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
	CHECK(g > 0 && !(g & (g - 1)), "granularity %zu", g);
	if (argc > 1 && !strcmp(argv[1], "--refused")) {
		CUipcMemHandle ipc;

		/* Mapped memory has no IPC handle (cuMemAlloc's only). */
		CK(cuMemAddressReserve(&va, g, 0, 0, 0));
		CK(cuMemCreate(&h1, g, &prop, 0));
		CK(cuMemMap(va, g, 0, h1, 0));
		acc.location = prop.location;
		acc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
		CK(cuMemSetAccess(va, g, &acc, 1));
		EXPECT(cuIpcGetMemHandle(&ipc, va), CUDA_ERROR_INVALID_VALUE);
		CK(cuMemUnmap(va, g));
		CK(cuMemRelease(h1));
		CK(cuMemAddressFree(va, g));
		prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
		EXPECT(cuMemCreate(&hx, g, &prop, 0), CUDA_ERROR_NOT_SUPPORTED);
		printf("vmm_probe: PASS\n");
		return 0;
	}
	half = 2 * g;
	size = 2 * half;
	n = (unsigned)(size / 4);
	host = malloc(size);
	if (!host)
		return 1;
	CK(cuMemAddressReserve(&va, size, 0, 0, 0));
	CK(cuMemCreate(&h1, half, &prop, 0));
	CK(cuMemCreate(&h2, half, &prop, 0));
	CK(cuMemMap(va, half, 0, h1, 0));
	CK(cuMemMap(va + half, half, 0, h2, 0));
	EXPECT(cuMemMap(va + size, half, 0, h1, 0), CUDA_ERROR_INVALID_VALUE);
	acc.location = prop.location;
	acc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	CK(cuMemSetAccess(va, size, &acc, 1));
	for (i = 0; i < n; i++)
		host[i] = (unsigned)i;
	CK(cuMemcpyHtoD(va, host, size));
	CK(cuModuleLoadData(&mod, twice_ptx));
	CK(cuModuleGetFunction(&f, mod, "twice"));
	p = va;
	CK(cuLaunchKernel(f, (n + 255) / 256, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
	CK(cuCtxSynchronize());
	memset(host, 0, size);
	CK(cuMemcpyDtoH(host, va, size));
	for (i = 0; i < n; i++)
		CHECK(host[i] == 2 * i, "word %zu is %u, expected %zu", i, host[i], 2 * i);
	printf("two pieces of physical memory behind one range: copies and a kernel\n");
	CK(cuMemUnmap(va, half));
	CK(cuMemUnmap(va + half, half));
	CK(cuMemRelease(h1));
	CK(cuMemRelease(h2));
	CK(cuMemAddressFree(va, size));
	CK(cuMemAddressReserve(&va, g, 0, 0, 0));
	CK(cuMemCreate(&h1, g, &prop, 0));
	CK(cuMemMap(va, g, 0, h1, 0));
	CK(cuMemSetAccess(va, g, &acc, 1));
	CK(cuMemsetD32(va, 7, g / 4));
	CK(cuMemcpyDtoH(host, va, 16));
	CHECK(host[0] == 7 && host[3] == 7, "a second range: %u", host[0]);
	CK(cuMemUnmap(va, g));
	CK(cuMemRelease(h1));
	CK(cuMemAddressFree(va, g));
	CK(cuModuleUnload(mod));
	free(host);
	printf("vmm_probe: PASS\n");
	return 0;
}
