/* What issue 22's fault containment needs to know of a machine with two
 * GPUs, in one process, as the server holds them (a primary context on
 * each): when a kernel faults on GPU 0, does GPU 1's context stay well?
 * Its work queued before the fault, its memory, and new work after it.
 * If it does, a server can let GPU 1's clients finish before it makes
 * itself anew; if not, only one server process per GPU contains a fault.
 *   gcc -O2 -I$CUDA/include other_gpu.c -lcuda -o other_gpu && ./other_gpu
 * Prints "other_gpu: STEP = RESULT" a step, then "other_gpu: summary ...". */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>

#include "../e2e/twice_ptx.h"
#define PROBE "other_gpu"
#include "step.h"

#define WORDS (16u << 20)
#define ROUNDS 20

/* Every word of p is want: 1, 0 (not), -1 (unreadable). */
static int all(CUdeviceptr p, unsigned want)
{
	unsigned *h = malloc(WORDS * 4u);
	size_t i, bad = 0;
	CUresult r = h ? cuMemcpyDtoH(h, p, WORDS * 4u) : CUDA_ERROR_OUT_OF_MEMORY;

	for (i = 0; r == CUDA_SUCCESS && i < WORDS; i++)
		bad += h[i] != want;
	free(h);
	return r != CUDA_SUCCESS ? -1 : !bad;
}

static const char *said(int v)
{
	return v > 0 ? "intact" : v == 0 ? "CHANGED" : "unreadable";
}

int main(void)
{
	CUcontext c0, c1;
	CUmodule m0, m1;
	CUfunction f0, f1;
	CUdeviceptr buf, fresh, bad = 0x10;
	CUstream s1;
	CUresult fault, queued, fresh_r = CUDA_ERROR_UNKNOWN;
	unsigned n = WORDS, n32 = 32;
	void *args[2];
	int count = 0, i, before, after;

	if (STEP(cuInit(0)) || STEP(cuDeviceGetCount(&count)) || count < 2) {
		printf("other_gpu: summary: SKIP (%d GPU)\n", count);
		return 0;
	}
	if (STEP(cuDevicePrimaryCtxRetain(&c0, 0)) || STEP(cuDevicePrimaryCtxRetain(&c1, 1)))
		return 1;
	STEP(cuCtxSetCurrent(c1));
	if (STEP(cuModuleLoadData(&m1, twice_ptx)) || STEP(cuModuleGetFunction(&f1, m1, "twice")) ||
	    STEP(cuMemAlloc(&buf, WORDS * 4u)) || STEP(cuStreamCreate(&s1, CU_STREAM_NON_BLOCKING)) ||
	    STEP(cuMemsetD32(buf, 1, WORDS)) || STEP(cuCtxSynchronize()))
		return 1;
	before = all(buf, 1);
	args[0] = &buf;
	args[1] = &n;
	for (i = 0; i < ROUNDS; i++) /* queued on GPU 1, in flight as GPU 0 faults */
		cuLaunchKernel(f1, (WORDS + 255) / 256, 1, 1, 256, 1, 1, 0, s1, args, NULL);

	STEP(cuCtxSetCurrent(c0));
	if (STEP(cuModuleLoadData(&m0, twice_ptx)) || STEP(cuModuleGetFunction(&f0, m0, "twice")))
		return 1;
	args[0] = &bad;
	args[1] = &n32;
	STEP(cuLaunchKernel(f0, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
	fault = STEP(cuCtxSynchronize());

	STEP(cuCtxSetCurrent(c1));
	queued = STEP(cuStreamSynchronize(s1));
	after = all(buf, 1u << ROUNDS);
	if (STEP(cuMemAlloc(&fresh, WORDS * 4u)) == CUDA_SUCCESS && STEP(cuMemsetD32(fresh, 3, WORDS)) == CUDA_SUCCESS) {
		args[0] = &fresh;
		args[1] = &n;
		STEP(cuLaunchKernel(f1, (WORDS + 255) / 256, 1, 1, 256, 1, 1, 0, s1, args, NULL));
		fresh_r = STEP(cuStreamSynchronize(s1));
		if (fresh_r == CUDA_SUCCESS && all(fresh, 6) != 1)
			fresh_r = CUDA_ERROR_UNKNOWN;
	}
	printf("other_gpu: summary: GPU 0's kernel %s; on GPU 1, work queued before it %s, its memory %s (%s before), "
	       "new work after it %s\n",
	       fault == CUDA_ERROR_ILLEGAL_ADDRESS ? "faulted" : "did NOT fault", queued ? "FAILED" : "finished",
	       said(after), said(before), fresh_r ? "FAILS" : "works");
	return 0;
}
