/* A driver-API program of several host threads, each with a stream of its
 * own, kernels, host functions, stream callbacks and page-locked memory,
 * allocating and freeing as it goes: the shape of the program that hung
 * through openmps on an H200 (issue 23; NVIDIA's simpleCallback sample).
 *   omps-threads-probe [THREADS [ROUNDS]]
 * Prints "threads_probe: PASS" with the time it took, or what failed. */
#include <cuda.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "twice_ptx.h"

static CUcontext ctx;
static CUfunction twice;
static int rounds = 20;
static atomic_int failures, ran;

#define CK(call)                                                                              \
	do {                                                                                  \
		CUresult r_ = (call);                                                         \
		if (r_ != CUDA_SUCCESS) {                                                     \
			printf("threads_probe: FAIL %s = %d (line %d)\n", #call, (int)r_, __LINE__); \
			atomic_fetch_add(&failures, 1);                                       \
			return NULL;                                                          \
		}                                                                             \
	} while (0)

static void CUDA_CB host_fn(void *arg)
{
	atomic_fetch_add(&ran, 1);
	(void)arg;
}

static void CUDA_CB callback(CUstream s, CUresult status, void *arg)
{
	(void)s, (void)arg;
	if (status != CUDA_SUCCESS)
		atomic_fetch_add(&failures, 1);
	atomic_fetch_add(&ran, 1);
}

static void *work(void *arg)
{
	unsigned n = 4096, i, r, *host;
	CUdeviceptr d, scratch;
	CUstream s;
	void *args[2];

	(void)arg;
	CK(cuCtxSetCurrent(ctx));
	CK(cuStreamCreate(&s, 0));
	CK(cuMemAlloc(&d, n * sizeof(unsigned)));
	for (r = 0; r < (unsigned)rounds; r++) {
		CK(cuMemAllocHost((void **)&host, n * sizeof(unsigned)));
		for (i = 0; i < n; i++)
			host[i] = i;
		CK(cuMemcpyHtoDAsync(d, host, n * sizeof(unsigned), s));
		args[0] = &d;
		args[1] = &n;
		CK(cuLaunchKernel(twice, (n + 255) / 256, 1, 1, 256, 1, 1, 0, s, args, NULL));
		CK(cuMemcpyDtoHAsync(host, d, n * sizeof(unsigned), s));
		CK(cuLaunchHostFunc(s, host_fn, NULL));
		CK(cuStreamAddCallback(s, callback, NULL, 0));
		CK(cuMemAlloc(&scratch, 1 << 20)); /* a synchronous call meanwhile */
		CK(cuMemFree(scratch));
		CK(cuStreamSynchronize(s));
		for (i = 0; i < n; i++)
			if (host[i] != 2 * i) {
				printf("threads_probe: FAIL word %u is %u\n", i, host[i]);
				atomic_fetch_add(&failures, 1);
				return NULL;
			}
		CK(cuMemFreeHost(host));
	}
	CK(cuMemFree(d));
	CK(cuStreamDestroy(s));
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 8, i;
	pthread_t t[64];
	struct timespec a, b;
	CUmodule mod;
	CUdevice dev;

	if (argc > 2)
		rounds = atoi(argv[2]);
	if (threads < 1 || threads > 64 || rounds < 1) {
		fprintf(stderr, "usage: omps-threads-probe [THREADS (1-64) [ROUNDS]]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) || cuCtxSetCurrent(ctx) ||
	    cuModuleLoadData(&mod, twice_ptx) || cuModuleGetFunction(&twice, mod, "twice")) {
		printf("threads_probe: FAIL setting up\n");
		return 1;
	}
	for (i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, work, NULL);
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (failures || ran != 2 * threads * rounds) {
		printf("threads_probe: FAIL %d failures, %d of %d host functions ran\n", (int)failures, (int)ran,
		       2 * threads * rounds);
		return 1;
	}
	printf("threads_probe: PASS in %.2f s (%d threads, %d rounds)\n",
	       (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9, threads, rounds);
	return 0;
}
