// Stream-ordered allocation: cudaMallocAsync / cudaFreeAsync from the
// device's default pool, with a kernel between, and the pool's attributes.
#define NAME "rt_mempool"
#include "check.cuh"

__global__ void iota(int *x, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		x[i] = i;
}

int main(void)
{
	const int n = 1 << 16;
	int *d, *h = (int *)malloc(n * sizeof(int));
	cudaMemPool_t pool;
	cudaStream_t s;
	size_t threshold = 0;

	CK(cudaStreamCreate(&s));
	CK(cudaDeviceGetDefaultMemPool(&pool, 0));
	CK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
	for (int round = 0; round < 3; round++) {
		CK(cudaMallocAsync(&d, n * sizeof(int), s));
		iota<<<(n + 255) / 256, 256, 0, s>>>(d, n);
		CK(cudaMemcpyAsync(h, d, n * sizeof(int), cudaMemcpyDeviceToHost, s));
		CK(cudaFreeAsync(d, s));
		CK(cudaStreamSynchronize(s));
		for (int i = 0; i < n; i++)
			EXPECT(h[i] == i);
	}
	return pass();
}
