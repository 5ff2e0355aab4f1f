/* Copy bandwidth, driver API, the same way with or without openmps (the
 * environment decides): host to device and back, from and to page-locked
 * (cuMemHostAlloc) and pageable (malloc) memory, from 4 KiB to 256 MiB.
 * Prints the median of RUNS copies of each, in GB/s, and a line
 * "result copy_KIND_DIR BYTES MEDIAN LOW HIGH" each for bench/run. */
#include <cuda.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define RUNS 7
#define CK   BENCH_CK

static double now(void)
{
	return bench_now(CLOCK_MONOTONIC);
}

/* GB/s of one direction and kind of memory, the median of RUNS copies; its
 * result line is printed. */
static double measure(CUdeviceptr d, void *h, size_t bytes, int to_device, const char *kind)
{
	double rate[RUNS], t0, med;
	int run, reps = bytes < (1 << 20) ? 200 : bytes < (64 << 20) ? 20 : 1, i;

	for (run = 0; run < RUNS; run++) {
		CK(cuCtxSynchronize());
		t0 = now();
		for (i = 0; i < reps; i++) {
			if (to_device)
				CK(cuMemcpyHtoD(d, h, bytes));
			else
				CK(cuMemcpyDtoH(h, d, bytes));
		}
		CK(cuCtxSynchronize());
		rate[run] = (double)bytes * reps / (now() - t0) / 1e9;
	}
	med = bench_median(rate, RUNS);
	printf("result copy_%s_%s %zu %.3f %.3f %.3f\n", kind, to_device ? "htod" : "dtoh", bytes, med, rate[0],
	       rate[RUNS - 1]);
	return med;
}

int main(void)
{
	static const size_t sizes[] = {4096, 64 << 10, 1 << 20, 16 << 20, 256u << 20};
	size_t max = 256u << 20, i;
	void *pinned, *pageable = malloc(max);
	CUcontext ctx;
	CUdeviceptr d;

	CK(cuInit(0));
	CK(cuDevicePrimaryCtxRetain(&ctx, 0));
	CK(cuCtxSetCurrent(ctx));
	CK(cuMemAlloc(&d, max));
	CK(cuMemHostAlloc(&pinned, max, 0));
	memset(pinned, 1, max);
	memset(pageable, 1, max);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double a = measure(d, pinned, sizes[i], 1, "pinned"), b = measure(d, pinned, sizes[i], 0, "pinned");
		double c = measure(d, pageable, sizes[i], 1, "pageable"), e = measure(d, pageable, sizes[i], 0, "pageable");

		printf("%9zu B: pinned HtoD %6.2f DtoH %6.2f, pageable HtoD %6.2f DtoH %6.2f GB/s\n", sizes[i], a, b, c,
		       e);
	}
	CK(cuMemFreeHost(pinned));
	CK(cuMemFree(d));
	free(pageable);
	return 0;
}
