/* What issue 15 needs to know of a real GPU, in one process, as the server
 * would do it: does device memory made with cuMemCreate (a POSIX fd handle,
 * reserved and mapped by the process) keep its contents, and can it be
 * mapped again at the same address, after a kernel's fault poisoned the
 * context and the primary context was reset? And does a query on an empty
 * stream made before the fault report it (the fault watch's probe)?
 *   gcc -O2 -I$CUDA/include survive.c -lcuda -o survive && ./survive
 * Prints "survive: STEP = RESULT" a step, then one line "survive: summary ...". */
#define _GNU_SOURCE
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../e2e/twice_ptx.h"
#define PROBE "survive"
#include "step.h"

#define MIB (1 << 20)

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int check(CUdeviceptr p, size_t words, unsigned want, const char *what)
{
	unsigned *h = malloc(words * 4);
	size_t i, bad = 0;
	CUresult r = cuMemcpyDtoH(h, p, words * 4);

	for (i = 0; r == CUDA_SUCCESS && i < words; i++)
		bad += h[i] != want;
	printf("survive: %s: %s\n", what, r != CUDA_SUCCESS ? "unreadable" : bad ? "CHANGED" : "intact");
	free(h);
	return r == CUDA_SUCCESS && !bad;
}

int main(void)
{
	CUmemAllocationProp prop = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
				    .requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR,
				    .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
	CUmemAccessDesc access = {.location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0},
				  .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
	CUmemGenericAllocationHandle h, h2;
	size_t gran, size = 64 * MIB, words = size / 4;
	CUdeviceptr va, va2 = 0, plain, bad = 0x10;
	unsigned n = 32, nw;
	void *args[2];
	int fd = -1, fresh_ok = 0, kept = 0, same = 0, probe_saw = 0, plain_kept = 0;
	CUcontext ctx;
	CUmodule mod;
	CUfunction fn;
	CUstream probe;
	CUresult r;
	double t0, t1;

	if (STEP(cuInit(0)) || STEP(cuDevicePrimaryCtxRetain(&ctx, 0)) || STEP(cuCtxSetCurrent(ctx)))
		return 1;
	STEP(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
	size = (size + gran - 1) / gran * gran;
	words = size / 4;
	if (STEP(cuMemCreate(&h, size, &prop, 0)) ||
	    STEP(cuMemExportToShareableHandle(&fd, h, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0)) ||
	    STEP(cuMemAddressReserve(&va, size, 0, 0, 0)) || STEP(cuMemMap(va, size, 0, h, 0)) ||
	    STEP(cuMemSetAccess(va, size, &access, 1)) || STEP(cuMemAlloc(&plain, size)))
		return 1;
	STEP(cuModuleLoadData(&mod, twice_ptx));
	STEP(cuModuleGetFunction(&fn, mod, "twice"));
	STEP(cuStreamCreate(&probe, CU_STREAM_NON_BLOCKING));
	STEP(cuMemsetD32(va, 0x01234567, words));
	STEP(cuMemsetD32(plain, 0x01234567, words));
	nw = (unsigned)words;
	args[0] = &va;
	args[1] = &nw;
	STEP(cuLaunchKernel(fn, (nw + 255) / 256, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
	STEP(cuCtxSynchronize());
	check(va, words, 0x02468ace, "vmm memory before the fault");
	printf("survive: va 0x%llx, %zu MiB, fd %d\n", (unsigned long long)va, size / MIB, fd);

	args[0] = &bad;
	args[1] = &n;
	STEP(cuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
	t0 = now_ms();
	r = STEP(cuStreamQuery(probe));
	for (int i = 0; i < 1000 && r == CUDA_SUCCESS; i++) {
		usleep(1000);
		r = cuStreamQuery(probe);
	}
	t1 = now_ms();
	probe_saw = r != CUDA_SUCCESS && r != CUDA_ERROR_NOT_READY;
	step("the probe stream's query after the fault", r);
	printf("survive: the probe saw it after %.2f ms\n", t1 - t0);
	STEP(cuCtxSynchronize());

	t0 = now_ms();
	STEP(cuDevicePrimaryCtxReset(0));
	STEP(cuDevicePrimaryCtxRetain(&ctx, 0));
	STEP(cuCtxSetCurrent(ctx));
	STEP(cuCtxSynchronize());
	/* A context of its own, beside the primary one: is the process, not
	 * only the context, poisoned? */
	{
		CUcontext fresh;
		CUdeviceptr p;

		if (STEP(cuCtxCreate(&fresh, NULL, 0, 0)) == CUDA_SUCCESS) {
			fresh_ok = STEP(cuMemAlloc(&p, 4096)) == CUDA_SUCCESS &&
				   STEP(cuMemsetD32(p, 1, 1024)) == CUDA_SUCCESS && STEP(cuCtxSynchronize()) == CUDA_SUCCESS;
			STEP(cuCtxSetCurrent(ctx));
		}
	}
	/* The old mapping, as it is, then made again with the old handle, then
	 * from the fd, at the same address. */
	r = STEP(cuMemSetAccess(va, size, &access, 1));
	if (r == CUDA_SUCCESS) {
		same = 1;
	} else {
		STEP(cuMemUnmap(va, size));
		r = STEP(cuMemMap(va, size, 0, h, 0));
		if (r != CUDA_SUCCESS) {
			r = STEP(cuMemAddressReserve(&va2, size, 0, va, 0));
			printf("survive: reserved again at 0x%llx\n", (unsigned long long)va2);
			if (STEP(cuMemImportFromShareableHandle(&h2, (void *)(long)fd,
								CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)) == CUDA_SUCCESS)
				r = STEP(cuMemMap(va2 ? va2 : va, size, 0, h2, 0));
		}
		if (r == CUDA_SUCCESS && STEP(cuMemSetAccess(va, size, &access, 1)) == CUDA_SUCCESS)
			same = !va2 || va2 == va;
	}
	t1 = now_ms();
	kept = same && check(va, words, 0x02468ace, "vmm memory after the reset");
	plain_kept = check(plain, words, 0x01234567, "cuMemAlloc memory after the reset");
	STEP(cuModuleLoadData(&mod, twice_ptx));
	STEP(cuModuleGetFunction(&fn, mod, "twice"));
	args[0] = &va;
	args[1] = &nw;
	STEP(cuLaunchKernel(fn, (nw + 255) / 256, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
	STEP(cuCtxSynchronize());
	if (kept)
		check(va, words, 0x048d159c, "vmm memory, doubled after the reset");
	printf("survive: summary: probe saw the fault %s; vmm memory %s, at the same address %s; cuMemAlloc memory "
	       "%s; reset and remap %.1f ms; a new context after the fault %s\n",
	       probe_saw ? "yes" : "no", kept ? "kept" : "LOST", same ? "yes" : "no", plain_kept ? "kept" : "lost",
	       t1 - t0, fresh_ok ? "works" : "fails too");
	return 0;
}
