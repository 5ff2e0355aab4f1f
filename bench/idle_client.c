/* One client of the scale benchmark: starts as a typical CUDA program does
 * (the primary context, 1 MiB of device memory, a module, one kernel), says
 * how long that took from the instant its launcher gives, and then holds its
 * context, idle, for HOLD seconds.
 *   idle_client LAUNCH_EPOCH_SECONDS HOLD_SECONDS [ctx|alloc|full]
 * Prints "ready S" (seconds from launch to the first kernel completed). With
 * ctx it stops after the context, with alloc after the allocation: the steps
 * apart, to tell what costs GPU memory. With busy it then launches a kernel
 * of seconds, prints "waiting", synchronizes and prints "sync R T": the
 * result and the time (CLOCK_REALTIME), for tests that kill the server
 * meanwhile. */
#include <cuda.h>
#include <unistd.h>

#include "bench.h"

#define CK BENCH_CK

int main(int argc, char **argv)
{
	unsigned int iters = 1;
	double launched;
	int steps;
	CUdeviceptr d;
	CUcontext ctx;
	CUmodule mod;
	CUfunction f;
	void *args[2] = {&d, &iters};

	if (argc < 3) {
		fprintf(stderr, "usage: idle_client LAUNCH_EPOCH_SECONDS HOLD_SECONDS\n");
		return 2;
	}
	launched = atof(argv[1]);
	steps = argc > 3 ? (argv[3][0] == 'c' ? 0 : argv[3][0] == 'a' ? 1 : argv[3][0] == 'b' ? 3 : 2) : 2;
	CK(cuInit(0));
	CK(cuDevicePrimaryCtxRetain(&ctx, 0));
	CK(cuCtxSetCurrent(ctx));
	if (steps >= 1)
		CK(cuMemAlloc(&d, 1 << 20));
	if (steps >= 2) {
		CK(cuModuleLoadData(&mod, bench_spin_ptx));
		CK(cuModuleGetFunction(&f, mod, "spin"));
		CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
	}
	CK(cuCtxSynchronize());
	printf("ready %.3f\n", bench_now(CLOCK_REALTIME) - launched);
	fflush(stdout);
	if (steps == 3) {
		iters = 1u << 31;
		CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
		printf("waiting\n");
		fflush(stdout);
		iters = (unsigned int)cuCtxSynchronize();
		printf("sync %u %.6f\n", iters, bench_now(CLOCK_REALTIME));
		return 0;
	}
	sleep((unsigned int)atoi(argv[2]));
	return 0;
}
