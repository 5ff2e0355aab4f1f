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

static const char *ptx = ".version 8.0\n.target sm_90\n.address_size 64\n"
			 ".visible .entry spin(.param .u64 p, .param .u32 iters)\n{\n"
			 " .reg .b32 r<4>; .reg .f32 f<2>; .reg .b64 rd<3>; .reg .pred q;\n"
			 " ld.param.u64 rd1, [p]; ld.param.u32 r1, [iters];\n"
			 " mov.f32 f1, 0f3F800000; mov.u32 r2, 0;\n"
			 "loop:\n fma.rn.f32 f1, f1, 0f3F7FFFFF, 0f3A83126F; add.u32 r2, r2, 1;\n"
			 " setp.lt.u32 q, r2, r1; @q bra loop;\n"
			 " mov.u32 r3, %tid.x; setp.ne.u32 q, r3, 0; @q bra done;\n"
			 " cvta.to.global.u64 rd2, rd1; st.global.f32 [rd2], f1;\n"
			 "done:\n ret;\n}\n";

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
	CK(cuModuleLoadData(&mod, ptx));
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
