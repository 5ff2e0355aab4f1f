// cudaDeviceReset in the middle of a program, as several CUDA samples do
// between parts: memory, a stream and a kernel before; after the reset the
// runtime starts again on its own (its modules loaded again), and a new
// allocation, stream and the same kernel work and give the right answer.
#define NAME "rt_device_reset"
#include "check.cuh"

__global__ void fill(int *x, int v, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		x[i] = v + i;
}

static void run(int v)
{
	const int n = 1 << 16;
	int *d, *h = (int *)malloc(n * sizeof(int));
	cudaStream_t s;

	CK(cudaStreamCreate(&s));
	CK(cudaMalloc(&d, n * sizeof(int)));
	fill<<<(n + 255) / 256, 256, 0, s>>>(d, v, n);
	CK(cudaGetLastError());
	CK(cudaMemcpyAsync(h, d, n * sizeof(int), cudaMemcpyDeviceToHost, s));
	CK(cudaStreamSynchronize(s));
	for (int i = 0; i < n; i++)
		EXPECT(h[i] == v + i);
	free(h);
}

int main(void)
{
	run(1);
	CK(cudaDeviceReset());
	run(1000);
	CK(cudaDeviceReset());
	run(7);
	return pass();
}
