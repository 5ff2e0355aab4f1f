/* One worker of the small-kernels benchmark: launches kernels of 16 blocks
 * that each spin a fixed number of iterations, in batches of 32 followed by
 * a synchronize, from a common start time for a fixed time, and prints how
 * many it completed. Several workers run at once as separate processes:
 * time-sliced without a service, concurrent under NVIDIA MPS or openmps.
 *   small_kernels START_EPOCH_SECONDS DURATION_SECONDS [ITERATIONS]
 * Prints "kernels N seconds S". */
#include <cuda.h>
#include <unistd.h>

#include "bench.h"

#define CK BENCH_CK

/* Wall-clock time: the workers, separate processes, start at one instant. */
static double now(void)
{
	return bench_now(CLOCK_REALTIME);
}

int main(int argc, char **argv)
{
	double start, duration, t;
	unsigned int iters;
	long kernels = 0;
	CUdeviceptr d;
	CUcontext ctx;
	CUmodule mod;
	CUfunction f;
	void *args[2];
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: small_kernels START_EPOCH_SECONDS DURATION_SECONDS [ITERATIONS]\n");
		return 2;
	}
	start = atof(argv[1]);
	duration = atof(argv[2]);
	iters = argc > 3 ? (unsigned int)atoi(argv[3]) : 4000;
	args[0] = &d;
	args[1] = &iters;
	CK(cuInit(0));
	CK(cuDevicePrimaryCtxRetain(&ctx, 0));
	CK(cuCtxSetCurrent(ctx));
	CK(cuMemAlloc(&d, 256));
	CK(cuModuleLoadData(&mod, bench_spin_ptx));
	CK(cuModuleGetFunction(&f, mod, "spin"));
	CK(cuLaunchKernel(f, 16, 1, 1, 128, 1, 1, 0, NULL, args, NULL)); /* warm up */
	CK(cuCtxSynchronize());
	while ((t = now()) < start)
		usleep(start - t > 0.01 ? 5000 : 100);
	while (now() < start + duration) {
		for (i = 0; i < 32; i++)
			CK(cuLaunchKernel(f, 16, 1, 1, 128, 1, 1, 0, NULL, args, NULL));
		CK(cuCtxSynchronize());
		kernels += 32;
	}
	printf("kernels %ld seconds %.3f\n", kernels, now() - start);
	cuModuleUnload(mod);
	cuMemFree(d);
	return 0;
}
