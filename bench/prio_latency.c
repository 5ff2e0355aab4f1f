/* The latency a normal-priority client sees while others saturate the GPU
 * (issue 4): under NVIDIA MPS or openmps, a client's CUDA_MPS_CLIENT_PRIORITY
 * (0 normal, 1 below normal) orders its kernels' blocks against the others'.
 *   prio_latency probe SECONDS   a short kernel (one block) and a stream
 *                                synchronize, over and over; prints
 *                                "result latency_us MEDIAN P10 P90 P99"
 *   prio_latency load SECONDS    kernels of many short blocks, back to back,
 *                                enough to keep every SM busy (the "hog");
 *                                prints "result kernels_per_s K" 
 * Both use a stream of the default priority: the client's priority is what
 * differs. */
#include <cuda.h>
#include <string.h>

#include "bench.h"

#define CK	  BENCH_CK
#define MAX_TRIPS 200000

static double now(void)
{
	return bench_now(CLOCK_MONOTONIC);
}

static int probe(CUfunction f, CUstream s, double seconds)
{
	static double lat[MAX_TRIPS];
	unsigned int iters = 2000;
	CUdeviceptr d;
	void *args[] = {&d, &iters};
	double t0, end;
	int n = 0;

	CK(cuMemAlloc(&d, 256));
	for (end = now() + seconds; now() < end && n < MAX_TRIPS; n++) {
		t0 = now();
		CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, s, args, NULL));
		CK(cuStreamSynchronize(s));
		lat[n] = (now() - t0) * 1e6;
	}
	if (n < 10) {
		fprintf(stderr, "prio_latency: too few round trips (%d)\n", n);
		return 1;
	}
	bench_median(lat, n); /* sorts */
	printf("result latency_us %.2f %.2f %.2f %.2f\n", lat[n / 2], lat[n / 10], lat[n * 9 / 10], lat[n * 99 / 100]);
	printf("round trips %d\n", n);
	cuMemFree(d);
	return 0;
}

static int load(CUfunction f, CUstream s, double seconds, int sms)
{
	unsigned int iters = 20000;
	CUdeviceptr d;
	void *args[] = {&d, &iters};
	double t0, end, kernels = 0;
	int i;

	CK(cuMemAlloc(&d, 256));
	for (t0 = now(), end = t0 + seconds; now() < end; kernels += 8) {
		for (i = 0; i < 8; i++)
			CK(cuLaunchKernel(f, (unsigned)sms * 16, 1, 1, 128, 1, 1, 0, s, args, NULL));
		CK(cuStreamSynchronize(s));
	}
	printf("result kernels_per_s %.1f\n", kernels / (now() - t0));
	cuMemFree(d);
	return 0;
}

int main(int argc, char **argv)
{
	CUcontext ctx;
	CUmodule mod;
	CUfunction f;
	CUstream s;
	int sms = 0, r;

	if (argc != 3 || (strcmp(argv[1], "probe") && strcmp(argv[1], "load"))) {
		fprintf(stderr, "usage: prio_latency probe|load SECONDS\n");
		return 2;
	}
	CK(cuInit(0));
	CK(cuDevicePrimaryCtxRetain(&ctx, 0));
	CK(cuCtxSetCurrent(ctx));
	CK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0));
	CK(cuModuleLoadData(&mod, bench_spin_ptx));
	CK(cuModuleGetFunction(&f, mod, "spin"));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	r = argv[1][0] == 'p' ? probe(f, s, atof(argv[2])) : load(f, s, atof(argv[2]), sms);
	cuStreamDestroy(s);
	cuModuleUnload(mod);
	return r;
}
