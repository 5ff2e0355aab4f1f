// Function attributes and occupancy: read a kernel's attributes, raise its
// dynamic shared memory limit and launch it with more than 48 KiB, ask the
// occupancy calculator.
#define NAME "rt_funcattr"
#include "check.cuh"

__global__ void big_smem(int *out, int n)
{
	extern __shared__ int s[];
	for (int i = threadIdx.x; i < n; i += blockDim.x)
		s[i] = i;
	__syncthreads();
	if (threadIdx.x == 0) {
		int sum = 0;
		for (int i = 0; i < n; i++)
			sum += s[i];
		*out = sum;
	}
}

int main(void)
{
	const int words = 96 * 1024 / 4; // 96 KiB of dynamic shared memory
	cudaFuncAttributes a;
	int blocks = 0, grid = 0, block = 0, *d, got = 0;

	CK(cudaFuncGetAttributes(&a, big_smem));
	EXPECT(a.maxThreadsPerBlock > 0 && a.numRegs > 0);
	EXPECT(cudaFuncSetAttribute(big_smem, cudaFuncAttributeMaxDynamicSharedMemorySize, 1 << 30) != cudaSuccess);
	cudaGetLastError(); // clear the refusal
	CK(cudaFuncSetAttribute(big_smem, cudaFuncAttributeMaxDynamicSharedMemorySize, words * 4));
	CK(cudaFuncGetAttributes(&a, big_smem));
	EXPECT(a.maxDynamicSharedSizeBytes == words * 4);
	CK(cudaMalloc(&d, sizeof(int)));
	big_smem<<<1, 256, words * 4>>>(d, words);
	CK(cudaGetLastError());
	CK(cudaMemcpy(&got, d, sizeof(int), cudaMemcpyDeviceToHost));
	EXPECT(got == (int)((long long)words * (words - 1) / 2));
	CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, big_smem, 256, words * 4));
	EXPECT(blocks >= 1 && blocks <= 2);
	CK(cudaOccupancyMaxPotentialBlockSize(&grid, &block, big_smem, 0, 0));
	EXPECT(grid > 0 && block > 0 && block <= 1024);
	printf("%d regs, %d blocks/SM at 96 KiB, suggested %d x %d\n", a.numRegs, blocks, grid, block);
	return pass();
}
