/* A driver-API program that shows what its limits let it do. Its arguments
 * are steps, run in order; each prints one line:
 *   smid N        N blocks of the smid kernel on a stream of its own:
 *                 "smid: K SMs, F..L" (the distinct SMs they ran on), then
 *                 "smset: A B ..." (each of them)
 *   prio P        a stream of priority P runs the stream_priority kernel
 *                 (fakecuda only): "prio P: runs at X"
 *   launch-prio P the same kernel on a stream of default priority, launched
 *                 with the launch attribute priority P: "launch-prio P: runs at X"
 *   cluster K     the smid kernel in clusters of K blocks: how many such
 *                 clusters cuOccupancyMaxActiveClusters says fit, the
 *                 largest cluster cuOccupancyMaxPotentialClusterSize says
 *                 runs, and the launch's result: "cluster K: fits N, at
 *                 most M, launch CUDA_..."
 *   meminfo       "meminfo: free F total T"
 *   stack V, heap V  cuCtxSetLimit of the stack or heap size to V bytes:
 *                 "stack V: CUDA_..., now N" (cuCtxGetLimit after it)
 *   fill STEP     cuMemAlloc of STEP bytes until it fails:
 *                 "fill: B bytes in K blocks, then CUDA_ERROR_..."
 *   fill-async STEP   the same with cuMemAllocAsync
 *   alloc BYTES   one cuMemAlloc, kept: "alloc: CUDA_..."
 *   free          frees what fill and fill-async hold: "free: done"
 *   module BYTES  loads a module holding a BYTES-byte global: "module: CUDA_..."
 *   big-module BYTES  loads a module whose image is BYTES long (comments):
 *                 "big-module: CUDA_..."
 *   wait FILE     "wait: FILE", then waits until FILE exists
 *   call          one call the server answers (cuMemAlloc): "call: CODE NAME"
 *                 (after terminate_client: the error its next call gets)
 * Exits 0 once every step ran, 1 at the first failure of a call that
 * should not fail. */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smid_ptx.h"

#define MAX_BLOCKS 4096
#define MAX_HELD   4096

static CUdeviceptr held[MAX_HELD];
static int nheld;
static CUmodule smid_mod;
static CUdeviceptr out;

static const char *name(CUresult r)
{
	const char *n = NULL;

	return cuGetErrorName(r, &n) == CUDA_SUCCESS && n ? n : "CUDA error";
}

#define CK(call)                                                               \
	do {                                                                   \
		CUresult r_ = (call);                                          \
		if (r_ != CUDA_SUCCESS) {                                      \
			printf("qos_probe: FAIL %s = %s\n", #call, name(r_)); \
			return -1;                                             \
		}                                                              \
	} while (0)

static int launch(const char *fn_name, CUstream s, unsigned blocks, unsigned n)
{
	void *args[] = {&out, &n};
	CUfunction fn;

	if (!smid_mod)
		CK(cuModuleLoadData(&smid_mod, smid_ptx));
	if (!out)
		CK(cuMemAlloc(&out, MAX_BLOCKS * sizeof(unsigned)));
	CK(cuModuleGetFunction(&fn, smid_mod, fn_name));
	CK(cuLaunchKernel(fn, blocks, 1, 1, 32, 1, 1, 0, s, args, NULL));
	CK(cuStreamSynchronize(s));
	return 0;
}

static int smid(unsigned blocks)
{
	static unsigned host[MAX_BLOCKS];
	unsigned char seen[1024] = {0};
	unsigned i, k = 0, lo = ~0u, hi = 0;
	CUstream s;

	if (blocks > MAX_BLOCKS)
		blocks = MAX_BLOCKS;
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	if (launch("smid", s, blocks, blocks) < 0)
		return -1;
	CK(cuMemcpyDtoH(host, out, blocks * sizeof(unsigned)));
	CK(cuStreamDestroy(s));
	for (i = 0; i < blocks; i++) {
		if (host[i] >= sizeof(seen))
			continue;
		k += !seen[host[i]]++;
		lo = host[i] < lo ? host[i] : lo;
		hi = host[i] > hi ? host[i] : hi;
	}
	printf("smid: %u SMs, %u..%u\n", k, lo, hi);
	printf("smset:"); /* a green context's SMs need not be numbered in a row */
	for (i = 0; i < sizeof(seen); i++)
		if (seen[i])
			printf(" %u", i);
	printf("\n");
	return 0;
}

static int prio(int p)
{
	CUstream s;
	int at;

	CK(cuStreamCreateWithPriority(&s, CU_STREAM_NON_BLOCKING, p));
	if (launch("stream_priority", s, 1, 1) < 0)
		return -1;
	CK(cuMemcpyDtoH(&at, out, sizeof(at)));
	CK(cuStreamDestroy(s));
	printf("prio %d: runs at %d\n", p, at);
	return 0;
}

static int launch_prio(int p)
{
	CUlaunchAttribute attr = {.id = CU_LAUNCH_ATTRIBUTE_PRIORITY, .value.priority = p};
	CUlaunchConfig cfg = {.gridDimX = 1, .gridDimY = 1, .gridDimZ = 1, .blockDimX = 32, .blockDimY = 1,
			      .blockDimZ = 1, .attrs = &attr, .numAttrs = 1};
	unsigned n = 1;
	void *args[] = {&out, &n};
	CUfunction fn;
	int at;

	if (launch("stream_priority", NULL, 1, 1) < 0) /* loads the module, allocates out */
		return -1;
	CK(cuStreamCreate(&cfg.hStream, CU_STREAM_NON_BLOCKING));
	CK(cuModuleGetFunction(&fn, smid_mod, "stream_priority"));
	CK(cuLaunchKernelEx(&cfg, fn, args, NULL));
	CK(cuStreamSynchronize(cfg.hStream));
	CK(cuMemcpyDtoH(&at, out, sizeof(at)));
	CK(cuStreamDestroy(cfg.hStream));
	printf("launch-prio %d: runs at %d\n", p, at);
	return 0;
}

static int cluster(unsigned k)
{
	CUlaunchAttribute attr = {.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION};
	CUlaunchConfig cfg = {.gridDimX = 16 * k, .gridDimY = 1, .gridDimZ = 1, .blockDimX = 32, .blockDimY = 1,
			      .blockDimZ = 1, .attrs = &attr, .numAttrs = 1};
	unsigned n = 16 * k;
	void *args[] = {&out, &n};
	CUfunction fn;
	CUresult r;
	int fits = -1, most = -1;

	attr.value.clusterDim.x = k;
	attr.value.clusterDim.y = attr.value.clusterDim.z = 1;
	if (launch("smid", NULL, 1, 1) < 0) /* loads the module, allocates out */
		return -1;
	CK(cuStreamCreate(&cfg.hStream, CU_STREAM_NON_BLOCKING));
	CK(cuModuleGetFunction(&fn, smid_mod, "smid"));
	CK(cuOccupancyMaxActiveClusters(&fits, fn, &cfg));
	CK(cuOccupancyMaxPotentialClusterSize(&most, fn, &cfg));
	r = cuLaunchKernelEx(&cfg, fn, args, NULL);
	if (r == CUDA_SUCCESS)
		r = cuStreamSynchronize(cfg.hStream);
	CK(cuStreamDestroy(cfg.hStream));
	printf("cluster %u: fits %d, at most %d, launch %s\n", k, fits, most, name(r));
	return 0;
}

static int fill(size_t step, int async)
{
	CUresult r = CUDA_SUCCESS;
	size_t bytes = 0;
	int k = 0;
	CUstream s;

	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	while (nheld < MAX_HELD) {
		r = async ? cuMemAllocAsync(&held[nheld], step, s) : cuMemAlloc(&held[nheld], step);
		if (r != CUDA_SUCCESS)
			break;
		nheld++, k++;
		bytes += step;
	}
	CK(cuStreamSynchronize(s));
	CK(cuStreamDestroy(s));
	printf("fill: %zu bytes in %d blocks, then %s\n", bytes, k, name(r));
	return 0;
}

static int step(char **argv, int *i, int argc)
{
	const char *what = argv[*i], *arg = *i + 1 < argc ? argv[*i + 1] : NULL;
	size_t free_b, total;
	char ptx[512];
	CUmodule m;
	CUresult r;

	if (!strcmp(what, "meminfo")) {
		CK(cuMemGetInfo(&free_b, &total));
		printf("meminfo: free %zu total %zu\n", free_b, total);
		return 0;
	}
	if (!strcmp(what, "free")) {
		while (nheld)
			CK(cuMemFree(held[--nheld]));
		printf("free: done\n");
		return 0;
	}
	if (!strcmp(what, "call")) {
		CUdeviceptr p;

		r = cuMemAlloc(&p, 4096);
		printf("call: %d %s\n", (int)r, name(r));
		return 0;
	}
	if (!arg) {
		printf("qos_probe: FAIL %s needs an argument\n", what);
		return -1;
	}
	++*i;
	if (!strcmp(what, "smid"))
		return smid((unsigned)strtoul(arg, NULL, 10));
	if (!strcmp(what, "prio"))
		return prio(atoi(arg));
	if (!strcmp(what, "stack") || !strcmp(what, "heap")) {
		CUlimit l = what[0] == 's' ? CU_LIMIT_STACK_SIZE : CU_LIMIT_MALLOC_HEAP_SIZE;
		size_t now = 0;

		r = cuCtxSetLimit(l, strtoull(arg, NULL, 10));
		CK(cuCtxGetLimit(&now, l));
		printf("%s %s: %s, now %zu\n", what, arg, name(r), now);
		return 0;
	}
	if (!strcmp(what, "cluster"))
		return cluster((unsigned)atoi(arg));
	if (!strcmp(what, "launch-prio"))
		return launch_prio(atoi(arg));
	if (!strcmp(what, "fill") || !strcmp(what, "fill-async"))
		return fill(strtoull(arg, NULL, 10), what[4] == '-');
	if (!strcmp(what, "alloc")) {
		r = nheld < MAX_HELD ? cuMemAlloc(&held[nheld], strtoull(arg, NULL, 10)) : CUDA_ERROR_OUT_OF_MEMORY;
		nheld += r == CUDA_SUCCESS;
		printf("alloc: %s\n", name(r));
		return 0;
	}
	if (!strcmp(what, "module")) {
		snprintf(ptx, sizeof(ptx),
			 "// fakecuda\n.version 8.0\n.target sm_90\n.address_size 64\n"
			 ".visible .global .align 4 .b8 blob[%s];\n",
			 arg);
		r = cuModuleLoadData(&m, ptx);
		printf("module: %s\n", name(r));
		return 0;
	}
	if (!strcmp(what, "big-module")) {
		size_t n = strtoull(arg, NULL, 10), k;
		char *img = malloc(n + 64);

		if (!img)
			return -1;
		k = (size_t)sprintf(img, "// fakecuda\n");
		for (; k + 80 < n; k += 80)
			memcpy(img + k, "//                                                                             \n", 80);
		img[k] = '\0';
		r = cuModuleLoadData(&m, img);
		free(img);
		printf("big-module: %s\n", name(r));
		return 0;
	}
	if (!strcmp(what, "wait")) {
		printf("wait: %s\n", arg); /* before: others see it waits */
		while (access(arg, F_OK) < 0)
			usleep(10000);
		return 0;
	}
	printf("qos_probe: FAIL unknown step %s\n", what);
	return -1;
}

int main(int argc, char **argv)
{
	CUcontext ctx;
	CUdevice dev;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (cuInit(0) != CUDA_SUCCESS || cuDeviceGet(&dev, 0) != CUDA_SUCCESS ||
	    cuDevicePrimaryCtxRetain(&ctx, dev) != CUDA_SUCCESS || cuCtxSetCurrent(ctx) != CUDA_SUCCESS) {
		printf("qos_probe: FAIL no context\n");
		return 1;
	}
	for (i = 1; i < argc; i++)
		if (step(argv, &i, argc) < 0)
			return 1;
	return 0;
}
