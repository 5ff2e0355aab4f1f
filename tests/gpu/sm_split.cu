// How the driver splits this GPU's SMs (issue 17): the coscheduled split
// qos.c used first, and the split that ignores coscheduling; for each, a
// green context of about 16 SMs: the SMs its blocks ran on, and whether
// kernels launched in clusters of 2, 4 and 8 run there.
//   sm_split      prints "split: ..." and "green: ..." lines
#include <cuda.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>

__global__ void smid(int *out)
{
	unsigned s;

	asm volatile("mov.u32 %0, %%smid;" : "=r"(s));
	if (threadIdx.x == 0)
		out[blockIdx.x] = (int)s;
}

#define BLOCKS 4096

static const char *err(CUresult r)
{
	const char *s = NULL;

	cuGetErrorName(r, &s);
	return s ? s : "?";
}

static int distinct(const int *v, int n)
{
	static char seen[1024];
	int i, k = 0;

	memset(seen, 0, sizeof(seen));
	for (i = 0; i < n; i++)
		if (v[i] >= 0 && v[i] < 1024 && !seen[v[i]]++)
			k++;
	return k;
}

static void in_green(const char *what, CUdevResource *groups, unsigned k, CUdevice d)
{
	CUdevResourceDesc desc;
	CUgreenCtx g;
	CUcontext ctx;
	CUstream st;
	int *dev = NULL, host[BLOCKS], sms = 0;
	unsigned i;
	CUresult r;

	for (i = 0; i < k; i++)
		sms += groups[i].sm.smCount;
	r = cuDevResourceGenerateDesc(&desc, groups, k);
	if (r == CUDA_SUCCESS)
		r = cuGreenCtxCreate(&g, desc, d, CU_GREEN_CTX_DEFAULT_STREAM);
	if (r == CUDA_SUCCESS)
		r = cuCtxFromGreenCtx(&ctx, g);
	if (r == CUDA_SUCCESS)
		r = cuCtxSetCurrent(ctx);
	if (r == CUDA_SUCCESS)
		r = cuGreenCtxStreamCreate(&st, g, CU_STREAM_NON_BLOCKING, 0);
	if (r != CUDA_SUCCESS) {
		printf("green: %s, %u groups (%d SMs): %s\n", what, k, sms, err(r));
		return;
	}
	cudaMalloc(&dev, sizeof(host));
	smid<<<BLOCKS, 64, 0, (cudaStream_t)st>>>(dev);
	cudaError_t e = cudaStreamSynchronize((cudaStream_t)st);
	cudaMemcpy(host, dev, sizeof(host), cudaMemcpyDeviceToHost);
	printf("green: %s, %u groups (%d SMs): plain kernel %s, ran on %d SMs\n", what, k, sms, cudaGetErrorName(e),
	       e == cudaSuccess ? distinct(host, BLOCKS) : -1);
	for (unsigned c = 2; c <= 16; c *= 2) {
		cudaLaunchConfig_t cfg = {};
		cudaLaunchAttribute at[1];
		int most = 0;

		cfg.gridDim = dim3(BLOCKS / 16 * 16);
		cfg.blockDim = dim3(64);
		cfg.stream = (cudaStream_t)st;
		at[0].id = cudaLaunchAttributeClusterDimension;
		at[0].val.clusterDim.x = c;
		at[0].val.clusterDim.y = 1;
		at[0].val.clusterDim.z = 1;
		cfg.attrs = at;
		cfg.numAttrs = 1;
		cudaError_t q = cudaOccupancyMaxActiveClusters(&most, smid, &cfg);
		cudaMemset(dev, 0xff, sizeof(host));
		e = cudaLaunchKernelEx(&cfg, smid, dev);
		if (e == cudaSuccess)
			e = cudaStreamSynchronize((cudaStream_t)st);
		cudaMemcpy(host, dev, sizeof(host), cudaMemcpyDeviceToHost);
		printf("green: %s, clusters of %u: launch %s, ran on %d SMs; max active clusters %d (%s)\n", what, c,
		       cudaGetErrorName(e), e == cudaSuccess ? distinct(host, BLOCKS) : -1, most, cudaGetErrorName(q));
		cudaGetLastError();
	}
	cudaFree(dev);
	cuStreamDestroy(st);
	cuCtxSetCurrent(NULL);
	cuGreenCtxDestroy(g);
}

static void split(const char *what, CUdevResource *all, unsigned flags, unsigned min, CUdevice d)
{
	static CUdevResource res[256];
	CUdevResource rem;
	unsigned n = 256, i, k, sms = 0;
	CUresult r;

	memset(&rem, 0, sizeof(rem));
	r = cuDevSmResourceSplitByCount(res, &n, all, &rem, flags, min);
	if (r != CUDA_SUCCESS) {
		printf("split: %s (flags %u, min %u): %s\n", what, flags, min, err(r));
		return;
	}
	printf("split: %s (flags %u, min %u): %u groups of", what, flags, min, n);
	for (i = 0; i < n; i++)
		printf(" %u", res[i].sm.smCount);
	printf("; remainder %u SMs\n", rem.sm.smCount);
	for (k = 0; k < n && sms < 16; k++)
		sms += res[k].sm.smCount;
	if (k)
		in_green(what, res, k, d);
	if (n >= 4)
		in_green(what, res + n - 4 + (n % 2), 2, d);
}

int main(void)
{
	CUdevResource all;
	CUdevice d;
	CUresult r;

	cudaFree(0);
	cuDeviceGet(&d, 0);
	r = cuDeviceGetDevResource(d, &all, CU_DEV_RESOURCE_TYPE_SM);
	if (r != CUDA_SUCCESS) {
		printf("split: cuDeviceGetDevResource: %s\n", err(r));
		return 1;
	}
	printf("split: device has %u SMs, min partition %u, coscheduled alignment %u\n", all.sm.smCount,
	       all.sm.minSmPartitionSize, all.sm.smCoscheduledAlignment);
	split("coscheduled", &all, 0, all.sm.smCoscheduledAlignment, d);
	split("coscheduled 16", &all, 0, 16, d);
	split("ignoring coscheduling", &all, CU_DEV_SM_RESOURCE_SPLIT_IGNORE_SM_COSCHEDULING, 1, d);
	split("ignoring coscheduling 2", &all, CU_DEV_SM_RESOURCE_SPLIT_IGNORE_SM_COSCHEDULING, 2, d);
	split("ignoring coscheduling 16", &all, CU_DEV_SM_RESOURCE_SPLIT_IGNORE_SM_COSCHEDULING, 16, d);
	split("max cluster", &all, CU_DEV_SM_RESOURCE_SPLIT_MAX_POTENTIAL_CLUSTER_SIZE, 16, d);
	return 0;
}
