/* Launch cost, driver API, measured the same way with or without openmps
 * (the environment decides: run it natively, then under `openmps run` with
 * a daemon up, and compare).
 *   async:      cost to the caller of one cuLaunchKernel of an empty kernel
 *   round trip: one launch followed by cuCtxSynchronize
 *   copy:       a 4-byte cuMemcpyDtoH, from the call to its return
 *   alloc:      cuMemAllocAsync of 1 MiB, a launch on it, cuMemFreeAsync, on
 *               a stream of its own, far ahead of the GPU: the cost of the
 *               three to the caller (the stream-ordered allocator's reuse)
 * Prints the median of RUNS runs of each, then the same as
 * "result NAME MEDIAN LOW HIGH" lines (microseconds) for bench/run. */
#include <cuda.h>

#include "bench.h"

#define RUNS 7

static const char *ptx = "// fakecuda: twice\n"
			 ".version 8.0\n.target sm_90\n.address_size 64\n"
			 ".visible .entry twice(.param .u64 p, .param .u32 n)\n{\n ret;\n}\n";

#define CK BENCH_CK

static double now(void)
{
	return bench_now(CLOCK_MONOTONIC);
}

int main(void)
{
	double async[RUNS], trip[RUNS], copy[RUNS], alloc[RUNS], t0, med_async, med_trip, med_copy, med_alloc;
	CUdeviceptr p;
	CUstream s;
	unsigned int word;
	CUdeviceptr d;
	CUcontext ctx;
	CUmodule mod;
	CUfunction f;
	unsigned int n = 0;
	void *args[] = {&d, &n};
	int run, i;

	CK(cuInit(0));
	CK(cuDevicePrimaryCtxRetain(&ctx, 0));
	CK(cuCtxSetCurrent(ctx));
	CK(cuMemAlloc(&d, 4096));
	CK(cuModuleLoadData(&mod, ptx));
	CK(cuModuleGetFunction(&f, mod, "twice"));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	for (run = 0; run < RUNS; run++) {
		const int launches = 20000, trips = 2000;

		CK(cuCtxSynchronize());
		t0 = now();
		for (i = 0; i < launches; i++)
			CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
		async[run] = (now() - t0) / launches;
		CK(cuCtxSynchronize());
		t0 = now();
		for (i = 0; i < trips; i++) {
			CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
			CK(cuCtxSynchronize());
		}
		trip[run] = (now() - t0) / trips;
		t0 = now();
		for (i = 0; i < trips; i++)
			CK(cuMemcpyDtoH(&word, d, sizeof(word)));
		copy[run] = (now() - t0) / trips;
		t0 = now();
		for (i = 0; i < trips; i++) {
			void *on_p[] = {&p, &n};

			CK(cuMemAllocAsync(&p, 1 << 20, s));
			CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, s, on_p, NULL));
			CK(cuMemFreeAsync(p, s));
		}
		alloc[run] = (now() - t0) / trips;
		CK(cuStreamSynchronize(s));
	}
	/* Medians first: they sort, and the spread is read off the sorted ends. */
	med_async = bench_median(async, RUNS);
	med_trip = bench_median(trip, RUNS);
	printf("async launch cost %.2f us (spread %.2f-%.2f), launch+sync round trip %.2f us (spread %.2f-%.2f)\n",
	       med_async * 1e6, async[0] * 1e6, async[RUNS - 1] * 1e6, med_trip * 1e6, trip[0] * 1e6,
	       trip[RUNS - 1] * 1e6);
	med_copy = bench_median(copy, RUNS);
	printf("4-byte copy round trip %.2f us (spread %.2f-%.2f)\n", med_copy * 1e6, copy[0] * 1e6,
	       copy[RUNS - 1] * 1e6);
	printf("result launch_async_us %.3f %.3f %.3f\n", med_async * 1e6, async[0] * 1e6, async[RUNS - 1] * 1e6);
	printf("result launch_sync_us %.3f %.3f %.3f\n", med_trip * 1e6, trip[0] * 1e6, trip[RUNS - 1] * 1e6);
	printf("result copy4_us %.3f %.3f %.3f\n", med_copy * 1e6, copy[0] * 1e6, copy[RUNS - 1] * 1e6);
	med_alloc = bench_median(alloc, RUNS);
	printf("stream-ordered alloc, launch, free %.2f us (spread %.2f-%.2f)\n", med_alloc * 1e6, alloc[0] * 1e6,
	       alloc[RUNS - 1] * 1e6);
	printf("result alloc_async_us %.3f %.3f %.3f\n", med_alloc * 1e6, alloc[0] * 1e6, alloc[RUNS - 1] * 1e6);
	cuStreamDestroy(s);
	cuModuleUnload(mod);
	cuMemFree(d);
	return 0;
}
