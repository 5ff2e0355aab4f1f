// cudaLaunchKernelEx with attributes (priority, a cluster dimension on
// compute capability 9.0 and newer) and a cooperative launch with a grid
// barrier.
#define NAME "rt_launch_ex"
#include <cooperative_groups.h>

#include "check.cuh"

namespace cg = cooperative_groups;

__global__ void fill(int *out, int v)
{
	out[blockIdx.x * blockDim.x + threadIdx.x] = v + blockIdx.x;
}

// Every block writes, the grid waits, every block reads its neighbour's.
__global__ void neighbours(int *a, int *b)
{
	cg::grid_group g = cg::this_grid();
	a[blockIdx.x] = blockIdx.x * 10;
	g.sync();
	if (threadIdx.x == 0)
		b[blockIdx.x] = a[(blockIdx.x + 1) % gridDim.x];
}

int main(void)
{
	const int blocks = 8, threads = 64;
	int *d, *a, *b, h[blocks * threads], major = 0, coop = 0;
	cudaLaunchAttribute attrs[2];
	cudaLaunchConfig_t cfg = {};
	int n = 0;

	CK(cudaMalloc(&d, sizeof(h)));
	CK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0));
	attrs[n].id = cudaLaunchAttributePriority;
	attrs[n++].val.priority = 0;
	if (major >= 9) {
		attrs[n].id = cudaLaunchAttributeClusterDimension;
		attrs[n].val.clusterDim.x = 2;
		attrs[n].val.clusterDim.y = 1;
		attrs[n++].val.clusterDim.z = 1;
	}
	cfg.gridDim = dim3(blocks);
	cfg.blockDim = dim3(threads);
	cfg.attrs = attrs;
	cfg.numAttrs = n;
	CK(cudaLaunchKernelEx(&cfg, fill, d, 100));
	CK(cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
	for (int i = 0; i < blocks * threads; i++)
		EXPECT(h[i] == 100 + i / threads);
	CK(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, 0));
	if (coop) {
		void *args[] = {&a, &b};
		CK(cudaMalloc(&a, blocks * sizeof(int)));
		CK(cudaMalloc(&b, blocks * sizeof(int)));
		CK(cudaLaunchCooperativeKernel((void *)neighbours, blocks, 32, args, 0, 0));
		CK(cudaMemcpy(h, b, blocks * sizeof(int), cudaMemcpyDeviceToHost));
		for (int i = 0; i < blocks; i++)
			EXPECT(h[i] == ((i + 1) % blocks) * 10);
	}
	return pass();
}
