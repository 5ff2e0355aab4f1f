/* Managed memory with the driver API, as the CUDA samples and unified-memory
 * programs use it: the same checks pass natively (a GPU) and through openmps
 * (a GPU or fakecuda): one pointer written by the CPU, doubled by a kernel,
 * read back by the CPU after a synchronize; prefetch, advice and attach
 * accepted; the pointer's attributes say managed; its address range; a copy
 * from it; cuMemFree frees it; bad flags are an invalid value; the advice and
 * prefetches read back with cuMemRangeGetAttribute(s), for all of a range
 * and for part of it. Then a memory pool of its own, set as the device's and
 * allocated from.
 *   omps-managed-probe --module-var
 * through openmps over fakecuda: a module variable taken as managed
 * (cuLibraryGetManaged; fakecuda's globals stand in for __managed__ ones):
 * the CPU writes its view, a kernel doubles the GPU's copy, the view shows
 * it after a synchronize; a CPU write with no launch between survives one.
 * Ends with "managed_probe: PASS" or the first check that failed. */
#include <cuda.h>
#include <stdio.h>
#include <string.h>

#include "twice_ptx.h"

#define PROBE "managed_probe"
#define PROBE_FAIL return 1
#include "probe.h"

/* What was advised and prefetched, read back: p's whole range was given dev
 * as its preferred location and prefetched there. */
static int range_attributes(CUdeviceptr p, size_t bytes, int dev)
{
	CUmemLocation loc = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = dev};
	CUmem_range_attribute attrs[2] = {CU_MEM_RANGE_ATTRIBUTE_READ_MOSTLY, CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION};
	int v = -7, w = -7, acc[3] = {-7, -7, -7};
	void *data[2] = {&v, &w};
	size_t sizes[2] = {4, 4};
	CUmemLocationType t = CU_MEM_LOCATION_TYPE_INVALID;
	CUdeviceptr q, d;

	CK(cuMemRangeGetAttribute(&v, 4, CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION, p, bytes));
	CHECK(v == dev, "preferred location %d, advised %d", v, dev);
	CK(cuMemRangeGetAttribute(&v, 4, CU_MEM_RANGE_ATTRIBUTE_LAST_PREFETCH_LOCATION, p, bytes));
	CHECK(v == dev, "last prefetch location %d, prefetched to %d", v, dev);
	CK(cuMemRangeGetAttribute(&t, sizeof(t), CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION_TYPE, p, bytes));
	CHECK(t == CU_MEM_LOCATION_TYPE_DEVICE, "preferred location type %d", (int)t);
	CK(cuMemRangeGetAttribute(&v, 4, CU_MEM_RANGE_ATTRIBUTE_READ_MOSTLY, p, bytes));
	CHECK(v == 0, "read mostly %d, never advised", v);
	CK(cuMemAdvise(p, bytes, CU_MEM_ADVISE_SET_ACCESSED_BY, loc));
	CK(cuMemRangeGetAttribute(acc, sizeof(acc), CU_MEM_RANGE_ATTRIBUTE_ACCESSED_BY, p, bytes));
	CHECK(acc[0] == dev && acc[1] == CU_DEVICE_INVALID && acc[2] == CU_DEVICE_INVALID, "accessed by %d %d %d",
	      acc[0], acc[1], acc[2]);
	/* Half of a 4 MiB range read mostly: that half says so, the whole does not. */
	CK(cuMemAllocManaged(&q, 4u << 20, CU_MEM_ATTACH_GLOBAL));
	CK(cuMemAdvise(q, 2u << 20, CU_MEM_ADVISE_SET_READ_MOSTLY, loc));
	CK(cuMemRangeGetAttribute(&v, 4, CU_MEM_RANGE_ATTRIBUTE_READ_MOSTLY, q, 2u << 20));
	CHECK(v == 1, "read mostly %d on the half advised", v);
	CK(cuMemRangeGetAttributes(data, sizes, attrs, 2, q, 4u << 20));
	CHECK(v == 0 && w == CU_DEVICE_INVALID, "on the whole: read mostly %d, preferred location %d", v, w);
	CK(cuMemFree(q));
	CK(cuMemAlloc(&d, 4096));
	CHECK(cuMemRangeGetAttribute(&v, 4, CU_MEM_RANGE_ATTRIBUTE_READ_MOSTLY, d, 4096) != CUDA_SUCCESS,
	      "a range attribute of memory that is not managed");
	CK(cuMemFree(d));
	printf("range attributes: what was advised and prefetched, read back\n");
	return 0;
}

/* The view is the program's, the GPU's copy the server's: kept in step. */
static int module_var(void)
{
	CUlibrary lib;
	CUkernel k;
	CUdeviceptr v, gpu;
	size_t n = 0, n2 = 0;
	unsigned *view, back[4], words = 4;
	void *args[] = {&gpu, &words};

	CK(cuLibraryLoadData(&lib, twice_counter_ptx, NULL, NULL, 0, NULL, NULL, 0));
	CK(cuLibraryGetManaged(&v, &n, lib, "counter"));
	CK(cuLibraryGetGlobal(&gpu, &n2, lib, "counter"));
	CHECK(n == 16 && n2 == 16, "the variable is %zu bytes, its global %zu", n, n2);
	view = (unsigned *)(uintptr_t)v;
	CHECK(!view[0] && !view[3], "its first value: %u %u", view[0], view[3]);
	view[0] = 5, view[1] = 7; /* the CPU writes; the kernel doubles the GPU's copy */
	CK(cuLibraryGetKernel(&k, lib, "twice"));
	CK(cuLaunchKernel((CUfunction)k, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
	CK(cuCtxSynchronize());
	CHECK(view[0] == 10 && view[1] == 14 && !view[2], "after the kernel the CPU sees %u %u %u", view[0], view[1],
	      view[2]);
	view[2] = 9; /* no launch between: a synchronize keeps it */
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(back, gpu, sizeof(back)));
	CHECK(view[2] == 9 && back[2] == 9 && back[0] == 10, "a CPU write and a synchronize: view %u, GPU %u %u",
	      view[2], back[2], back[0]);
	CK(cuLibraryUnload(lib));
	printf("a module variable as managed: the CPU's view and the GPU's copy in step\n");
	printf("managed_probe: PASS\n");
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = 1 << 16, i, *w, copy[16];
	int is_managed = 0, attr = 0;
	CUdevice dev;
	CUcontext ctx;
	CUmodule mod;
	CUfunction f;
	CUdeviceptr p, q, base = 0;
	CUstream s;
	CUmemLocation loc = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0};
	size_t size = 0;
	void *args[] = {&p, &n};

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	if (argc > 1 && !strcmp(argv[1], "--module-var"))
		return module_var();
	CK(cuDeviceGetAttribute(&attr, CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, dev));
	CHECK(attr == 1, "the device says it has no managed memory");
	CK(cuModuleLoadData(&mod, twice_ptx));
	CK(cuModuleGetFunction(&f, mod, "twice"));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	EXPECT(cuMemAllocManaged(&q, 64, 7), CUDA_ERROR_INVALID_VALUE);
	CK(cuMemAllocManaged(&p, (size_t)n * 4, CU_MEM_ATTACH_GLOBAL));
	w = (unsigned *)(uintptr_t)p;
	for (i = 0; i < n; i++)
		w[i] = i;
	CK(cuMemAdvise(p, (size_t)n * 4, CU_MEM_ADVISE_SET_PREFERRED_LOCATION, loc));
	CK(cuMemPrefetchAsync(p, (size_t)n * 4, loc, 0, s));
	CK(cuStreamAttachMemAsync(s, p, 0, CU_MEM_ATTACH_GLOBAL));
	CK(cuLaunchKernel(f, (n + 127) / 128, 1, 1, 128, 1, 1, 0, s, args, NULL));
	CK(cuStreamSynchronize(s));
	for (i = 0; i < n; i++)
		CHECK(w[i] == 2 * i, "after the kernel, word %u is %u on the CPU", i, w[i]);
	printf("one pointer: the CPU wrote, a kernel doubled, the CPU read\n");
	CK(cuPointerGetAttribute(&is_managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, p + 40));
	CHECK(is_managed == 1, "the pointer is not managed");
	CK(cuMemGetAddressRange(&base, &size, p + 40));
	CHECK(base == p && size >= (size_t)n * 4, "its range: 0x%llx, %zu bytes", (unsigned long long)base, size);
	CK(cuMemcpyDtoH(copy, p + 4 * 100, sizeof(copy)));
	CHECK(copy[0] == 200 && copy[15] == 230, "a copy from it: %u, %u", copy[0], copy[15]);
	if (range_attributes(p, (size_t)n * 4, (int)dev))
		return 1;
	CK(cuMemFree(p));

	/* A pool of its own: made, the device's current one, allocated from. */
	{
		CUmemPoolProps props;
		CUmemoryPool pool, got;
		CUdeviceptr d;

		memset(&props, 0, sizeof(props));
		props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
		props.location = loc;
		CK(cuMemPoolCreate(&pool, &props));
		CK(cuDeviceSetMemPool(dev, pool));
		CK(cuDeviceGetMemPool(&got, dev));
		CHECK(got == pool, "the device's pool is not the one set");
		CK(cuMemAllocFromPoolAsync(&d, 4096, pool, s));
		CK(cuMemsetD32Async(d, 9, 1024, s));
		CK(cuMemcpyDtoHAsync(copy, d, sizeof(copy), s));
		CK(cuMemFreeAsync(d, s));
		CK(cuStreamSynchronize(s));
		CHECK(copy[0] == 9 && copy[15] == 9, "from a pool of its own: %u", copy[0]);
		CK(cuDeviceGetDefaultMemPool(&got, dev));
		CK(cuDeviceSetMemPool(dev, got));
		CK(cuMemPoolDestroy(pool));
		printf("a pool of its own: made, set, allocated from, destroyed\n");
	}

	/* Stream memory operations on device memory and on page-locked host memory. */
	{
		CUstreamBatchMemOpParams ops[2];
		cuuint64_t *flag;
		CUdeviceptr d;

		CK(cuMemAlloc(&d, 64));
		CK(cuMemHostAlloc((void **)&flag, 64, 0));
		flag[0] = flag[1] = 0;
		CK(cuStreamWriteValue32(s, d, 41, 0));
		CK(cuStreamWaitValue32(s, d, 41, CU_STREAM_WAIT_VALUE_GEQ));
		memset(ops, 0, sizeof(ops));
		ops[0].writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_64;
		ops[0].writeValue.address = (CUdeviceptr)(uintptr_t)&flag[0];
		ops[0].writeValue.value64 = 0x123456789ull;
		ops[1].writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_32;
		ops[1].writeValue.address = (CUdeviceptr)(uintptr_t)&flag[1];
		ops[1].writeValue.value = 7;
		CK(cuStreamBatchMemOp(s, 2, ops, 0));
		CK(cuStreamWriteValue64(s, d + 8, 5, 0));
		CK(cuStreamSynchronize(s));
		CK(cuMemcpyDtoH(copy, d, 16));
		CHECK(copy[0] == 41 && copy[2] == 5, "stream writes to device memory: %u, %u", copy[0], copy[2]);
		CHECK(flag[0] == 0x123456789ull && flag[1] == 7, "stream writes to host memory: %llx, %llu",
		      (unsigned long long)flag[0], (unsigned long long)flag[1]);
		CK(cuMemFree(d));
		CK(cuMemFreeHost(flag));
		printf("stream memory operations on device and host memory\n");
	}
	CK(cuStreamDestroy(s));
	CK(cuModuleUnload(mod));
	printf("managed_probe: PASS\n");
	return 0;
}
