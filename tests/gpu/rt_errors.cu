// Errors: names and strings, a launch error reported by cudaGetLastError,
// an invalid copy refused, and the context still usable after them.
#define NAME "rt_errors"
#include "check.cuh"

__global__ void nothing(void)
{
}

int main(void)
{
	int *d, h = 0;

	EXPECT(!strcmp(cudaGetErrorName(cudaErrorInvalidValue), "cudaErrorInvalidValue"));
	EXPECT(strlen(cudaGetErrorString(cudaErrorMemoryAllocation)) > 5);
	nothing<<<1, 4096>>>(); // more threads than a block may have: refused at once
	cudaError_t e = cudaGetLastError();
	printf("a block of 4096 threads: %s\n", cudaGetErrorName(e));
	EXPECT(e != cudaSuccess);
	EXPECT(cudaGetLastError() == cudaSuccess);
	nothing<<<1, 32, 1 << 20>>>(); // a megabyte of shared memory
	EXPECT(cudaGetLastError() != cudaSuccess);
	CK(cudaMalloc(&d, sizeof(int)));
	EXPECT(cudaMemcpy(&h, (char *)d + (1 << 30), sizeof(int), cudaMemcpyDeviceToHost) != cudaSuccess);
	cudaGetLastError();
	CK(cudaMemset(d, 0, sizeof(int)));
	CK(cudaMemcpy(&h, d, sizeof(int), cudaMemcpyDeviceToHost));
	EXPECT(h == 0);
	return pass();
}
