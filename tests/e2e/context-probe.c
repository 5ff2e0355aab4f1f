/* A device's and a context's settings with the driver API, as cudart's
 * cudaSetDeviceFlags, cudaDeviceGetPCIBusId, cudaOccupancyMaxPotentialBlockSize
 * and cudaProfilerStart use them; the same checks hold natively (a GPU) and
 * through openmps (a GPU or fakecuda):
 *   the primary context's flags as set (blocking sync, map host), the
 *   current context's the same, bad flags an invalid value, a created
 *   context's flags its own; the compute capability as the attributes say;
 *   the PCI bus id names the device back; profiling starts and stops; the
 *   shared memory bank width set (a no-op) and read back as 4 bytes; the
 *   potential block size reaches the most resident threads of any block
 *   size; freeing 0 asynchronously does nothing; a kernel still runs.
 * Ends with "context_probe: PASS" or the first check that failed. */
#include <cuda.h>
#include <cudaProfiler.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "twice_ptx.h"

#define PROBE "context_probe"
#define PROBE_FAIL return 1
#include "probe.h"

int main(void)
{
	const unsigned flags = CU_CTX_SCHED_BLOCKING_SYNC;
	unsigned got = 0, n = 1000, host[1000], i;
	int active = 0, major = 0, minor = 0, amaj = 0, amin = 0, grid = 0, block = 0, best = 0, size, warp = 0,
	    maxb = 0;
	char bus[64], path[64];
	FILE *file;
	CUdevice dev, back = -1;
	CUcontext ctx, mine, cur;
	CUmodule mod;
	CUfunction f;
	CUsharedconfig banks = CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE;
	CUdeviceptr p;
	CUlibrary lib;
	CUkernel kern;
	void *args[] = {&p, &n};

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxSetFlags(dev, flags));
	EXPECT(cuDevicePrimaryCtxSetFlags(dev, CU_CTX_SCHED_SPIN | CU_CTX_SCHED_YIELD), CUDA_ERROR_INVALID_VALUE);
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuDevicePrimaryCtxGetState(dev, &got, &active));
	/* Mapped host memory is always on (unified addressing): reported or not. */
	CHECK((got & ~CU_CTX_MAP_HOST) == flags && active, "primary context: flags 0x%x, active %d; set 0x%x", got,
	      active, flags);
	CK(cuCtxGetFlags(&got));
	CHECK((got & ~CU_CTX_MAP_HOST) == flags, "current context: flags 0x%x, expected 0x%x", got, flags);
	printf("the primary context keeps its flags: 0x%x\n", flags);

	CK(cuCtxCreate(&mine, NULL, CU_CTX_SCHED_YIELD, dev));
	CK(cuCtxGetFlags(&got));
	CHECK((got & CU_CTX_SCHED_MASK) == CU_CTX_SCHED_YIELD, "created context: flags 0x%x", got);
	CK(cuCtxPopCurrent(&cur));
	CK(cuCtxDestroy(mine));
	CK(cuCtxSetCurrent(ctx));

	CK(cuDeviceGetAttribute(&amaj, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
	CK(cuDeviceGetAttribute(&amin, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	CK(cuDeviceComputeCapability(&major, &minor, dev));
#pragma GCC diagnostic pop
	CHECK(major == amaj && minor == amin, "compute capability %d.%d, attributes %d.%d", major, minor, amaj, amin);
	CK(cuDeviceGetPCIBusId(bus, sizeof(bus), dev));
	CK(cuDeviceGetByPCIBusId(&back, bus));
	CHECK(back == dev, "PCI bus id %s names device %d", bus, (int)back);
	EXPECT(cuDeviceGetByPCIBusId(&back, "not a bus id"), CUDA_ERROR_INVALID_VALUE);
	printf("compute capability and PCI bus id agree\n");

	CK(cuDeviceGetAttribute(&amaj, CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, dev));
	CK(cuDeviceGetAttribute(&amin, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, dev));
	printf("managed memory %d, virtual memory management %d\n", amaj, amin);
	CK(cuDeviceGetAttribute(&amaj, CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED, dev));
	CK(cuDeviceGetAttribute(&amin, CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED, dev));
	printf("IPC events %d, POSIX file descriptor handles %d\n", amaj, amin);

	CK(cuProfilerStart());
	CK(cuProfilerStop());

	/* From a file, as Triton and torch.compile load their kernels. */
	snprintf(path, sizeof(path), "/tmp/omps-context-probe.%d.ptx", (int)getpid());
	file = fopen(path, "w");
	CHECK(file && fputs(twice_ptx, file) >= 0 && fclose(file) == 0, "cannot write %s", path);
	EXPECT(cuModuleLoad(&mod, "/nonexistent/omps.ptx"), CUDA_ERROR_FILE_NOT_FOUND);
	CK(cuModuleLoad(&mod, path));
	unlink(path);
	CK(cuModuleGetFunction(&f, mod, "twice"));
	/* Shared memory bank width: fixed at 4 bytes, the setting a no-op. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	CK(cuCtxSetSharedMemConfig(CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE));
	CK(cuCtxGetSharedMemConfig(&banks));
	CHECK(banks == CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE, "shared memory banks of config %d", (int)banks);
	EXPECT(cuCtxSetSharedMemConfig((CUsharedconfig)7), CUDA_ERROR_INVALID_VALUE);
	CK(cuFuncSetSharedMemConfig(f, CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE));
#pragma GCC diagnostic pop
	CK(cuOccupancyMaxPotentialBlockSize(&grid, &block, f, NULL, 0, 0));
	CK(cuDeviceGetAttribute(&warp, CU_DEVICE_ATTRIBUTE_WARP_SIZE, dev));
	CK(cuDeviceGetAttribute(&maxb, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, dev));
	for (size = warp; size <= maxb; size += warp) {
		int blocks = 0;

		CK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, f, size, 0));
		if (blocks * size > best)
			best = blocks * size;
	}
	{
		int blocks = 0;

		CK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, f, block, 0));
		CHECK(block > 0 && grid > 0 && blocks * block == best,
		      "potential block size %d (grid %d): %d threads a multiprocessor, the best is %d", block, grid,
		      blocks * block, best);
	}
	printf("the potential block size reaches the most resident threads\n");

	CK(cuMemFreeAsync(0, NULL));
	CK(cuMemAlloc(&p, sizeof(host)));
	for (i = 0; i < n; i++)
		host[i] = i;
	CK(cuMemcpyHtoD(p, host, sizeof(host)));
	CK(cuLaunchKernel(f, (n + 127) / 128, 1, 1, 128, 1, 1, 0, NULL, args, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(host, p, sizeof(host)));
	for (i = 0; i < n; i++)
		CHECK(host[i] == 2 * i, "after a blocking-sync wait: host[%u] = %u", i, host[i]);
	CK(cuMemFree(p));
	CK(cuModuleUnload(mod));

	/* A reset: what it made goes; retained again, the device serves it, and
	 * a library's kernel (context-independent, as cudart loads its own)
	 * still launches. */
	CK(cuLibraryLoadData(&lib, twice_ptx, NULL, NULL, 0, NULL, NULL, 0));
	CK(cuLibraryGetKernel(&kern, lib, "twice"));
	CK(cuMemAlloc(&p, sizeof(host)));
	CK(cuDevicePrimaryCtxReset(dev));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuMemAlloc(&p, sizeof(host)));
	CK(cuMemsetD32(p, 3, n));
	CK(cuLaunchKernel((CUfunction)kern, (n + 127) / 128, 1, 1, 128, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(host, p, sizeof(host)));
	CHECK(host[0] == 6 && host[n - 1] == 6, "after a reset, the library's kernel: host[0] = %u", host[0]);
	CK(cuMemFree(p));
	CK(cuLibraryUnload(lib));
	printf("after a reset, the device serves it again\n");
	printf("context_probe: PASS\n");
	return 0;
}
